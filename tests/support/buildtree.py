"""Facts about a built image, in a form two builders can be compared by.

``tree(root)`` reads a flattened root filesystem (a directory) into one
``Entry`` per path: type, permission bits, owner, the content's sha256, a
symlink's target — never mtimes, which no two builds share. The paths a
builder's *runtime* leaves behind in a RUN layer (buildah writes /etc/hosts,
/etc/resolv.conf, /etc/hostname and an empty /run; bind-mount stubs under
/dev, /proc, /sys) are not the build's result and are left out.

``config_facts(doc)`` picks the config fields the oracle compares from an
image config document (Docker or OCI form) and normalises the spellings that
mean the same thing: an empty list/map and an absent field, buildah's own
version label.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Left by a builder's runtime, not by the Dockerfile (compared nowhere).
RUNTIME_FILES = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv", "/run/.containerenv"})
RUNTIME_DIRS = frozenset({"/run"})           # left out when empty: the runtime's mount point
STUB_PARENTS = ("/dev/", "/proc/", "/sys/")  # what is under them is a runtime's, never an image's
BUILDER_LABELS = frozenset({"io.buildah.version"})
CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels",
                 "StopSignal", "Healthcheck", "OnBuild", "Shell")
# Facts each builder spells its own way: compared only with expect.json's BuildKit values.
BUILDER_SPECIFIC = frozenset({"created_by"})


@dataclass(frozen=True)
class Entry:
    path: str
    kind: str            # file dir symlink char block fifo socket
    mode: int            # permission bits incl. setuid/setgid/sticky
    uid: int
    gid: int
    digest: str | None = None   # sha256 of a regular file's content
    target: str | None = None   # a symlink's target
    rdev: int | None = None     # a device's number

    def facts(self) -> dict[str, Any]:
        found = {k: v for k, v in asdict(self).items() if v is not None and k != "path"}
        found["mode"] = f"{self.mode:04o}"
        return found


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"), (stat.S_ISFIFO, "fifo")):
        if test(mode):
            return name
    return "socket"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def entry(root: Path, rel: str) -> Entry:
    """The facts of one path (``rel`` starts with '/') under ``root``, never following a symlink."""
    host = root / rel.lstrip("/")
    info = os.lstat(host)
    kind = _kind(info.st_mode)
    return Entry(rel, kind, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid,
                 digest=_digest(host) if kind == "file" else None,
                 target=os.readlink(host) if kind == "symlink" else None,
                 rdev=info.st_rdev if kind in ("char", "block") else None)


def _ignored(rel: str, host: Path) -> bool:
    if rel in RUNTIME_FILES or rel.startswith(STUB_PARENTS):
        return True
    return rel in RUNTIME_DIRS and host.is_dir() and not host.is_symlink() and not any(host.iterdir())


def tree(root: Path, *, keep_runtime: bool = False) -> dict[str, Entry]:
    """Every path under ``root`` ('/'-rooted keys), the runtime's artefacts left out."""
    found: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):   # os.walk never descends into symlinked dirs
        base = "/" + os.path.relpath(dirpath, root).replace(os.sep, "/")
        base = "" if base == "/." else base
        for name in sorted(dirnames + filenames):
            rel = f"{base}/{name}"
            if not keep_runtime and _ignored(rel, Path(dirpath) / name):
                continue
            found[rel] = entry(root, rel)
    return found


def diff_trees(expected: dict[str, Entry], actual: dict[str, Entry], *, labels: tuple[str, str] = ("buildah",
               "berth"), skip: frozenset[str] = frozenset()) -> list[str]:
    """Readable differences, one line per path (empty when the trees agree)."""
    lines = []
    for path in sorted(set(expected) | set(actual)):
        if path in skip:
            continue
        a, b = expected.get(path), actual.get(path)
        if a is None or b is None:
            lines.append(f"{path}: only in {labels[0] if b is None else labels[1]}")
            continue
        fa, fb = a.facts(), b.facts()
        changed = {k: (fa.get(k), fb.get(k)) for k in set(fa) | set(fb) if fa.get(k) != fb.get(k)}
        if changed:
            shown = ", ".join(f"{k} {labels[0]}={v[0]!r} {labels[1]}={v[1]!r}" for k, v in sorted(changed.items()))
            lines.append(f"{path}: {shown}")
    return lines


def _empty_to_none(value: Any) -> Any:
    return None if value in ([], {}, "", None) else value


def _healthcheck(value: dict | None) -> dict | None:
    if not value:
        return None
    # zero durations and retries mean "the default", exactly as absent ones do
    return {k: v for k, v in value.items() if v not in (0, None, [])}


def config_facts(doc: dict[str, Any]) -> dict[str, Any]:
    """The compared fields of an image config document ({"config": {...}, "history": [...]} form)."""
    config = doc.get("config") or {}
    facts: dict[str, Any] = {name: _empty_to_none(config.get(name)) for name in CONFIG_FIELDS}
    labels = {k: v for k, v in (config.get("Labels") or {}).items() if k not in BUILDER_LABELS}
    facts["Labels"] = labels or None
    facts["Healthcheck"] = _healthcheck(config.get("Healthcheck"))
    facts["User"] = config.get("User") or None
    facts["author"] = doc.get("author") or None
    facts["empty_layers"] = [bool(h.get("empty_layer")) for h in doc.get("history") or []]
    facts["created_by"] = [h.get("created_by", "") for h in doc.get("history") or []]
    facts["layers"] = len((doc.get("rootfs") or {}).get("diff_ids") or [])
    return facts


def diff_configs(expected: dict[str, Any], actual: dict[str, Any], *, labels: tuple[str, str] = ("buildah",
                 "berth"), skip: frozenset[str] = frozenset()) -> list[str]:
    return [f"{name}: {labels[0]}={expected.get(name)!r} {labels[1]}={actual.get(name)!r}"
            for name in sorted(set(expected) | set(actual))
            if name not in skip | BUILDER_SPECIFIC and expected.get(name) != actual.get(name)]
