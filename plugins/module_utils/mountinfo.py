"""Parse /proc/<pid>/mountinfo (proc(5)); used to find cgroup mounts, check
what is mounted where, and detect leaked mounts."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MountEntry:
    mount_id: int
    parent_id: int
    root: str
    mount_point: str
    options: tuple[str, ...]
    optional: tuple[str, ...]
    fstype: str
    source: str
    super_options: tuple[str, ...]


_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    # mountinfo octal-escapes space, tab, newline and backslash
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_line(line: str) -> MountEntry:
    left, _sep, right = line.rstrip("\n").partition(" - ")
    parts = left.split(" ")
    fstype, source, super_opts = [*right.split(" "), "", ""][:3]
    return MountEntry(mount_id=int(parts[0]), parent_id=int(parts[1]), root=_unescape(parts[3]),
                      mount_point=_unescape(parts[4]), options=tuple(parts[5].split(",")),
                      optional=tuple(parts[6:]), fstype=fstype, source=_unescape(source),
                      super_options=tuple(super_opts.split(",")) if super_opts else ())


def read_mounts(pid: int | str = "self") -> list[MountEntry]:
    text = Path(f"/proc/{pid}/mountinfo").read_text()
    return [parse_line(line) for line in text.splitlines() if line.strip()]


def mounts_under(prefix: Path, pid: int | str = "self") -> list[MountEntry]:
    base = str(prefix).rstrip("/") + "/"
    return [m for m in read_mounts(pid) if (m.mount_point + "/").startswith(base)]


def holding(path: str, pid: int | str = "self") -> MountEntry | None:
    """The mount that holds ``path``: the longest mount point above it, the
    last one mounted there winning. os.path.ismount misses a directory
    bind-mounted onto itself (same device as its parent); mountinfo does not."""
    real = os.path.realpath(path)
    best: MountEntry | None = None
    for entry in read_mounts(pid):
        point = entry.mount_point
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best.mount_point)):
            best = entry
    return best
