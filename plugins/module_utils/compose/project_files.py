"""Configs and secrets of a project, whatever their source (compose spec,
non-swarm): ``file:`` is the user's own file, bind-mounted read-only;
``environment:`` (a variable of the project's resolved environment) and
``content:`` (an interpolated string) are known at plan time, so the config
hash covers them, and the apply writes them under the project's directory of
the state root, ``<state root>/compose/<project>/{secrets,configs}/<key>``,
from where they are bind-mounted read-only like a file-based one.

Only a plan step writes (check mode cannot): the planner compares what is
on disk with what is wanted (``wanted_files``, ``file_state``) and asks for a
write only where they differ. The long syntax's ``mode``, ``uid`` and
``gid`` apply to written files (default 0444 root:root, as Docker Compose
copies them in, so a non-root service user can read them; the directories
are 0700, so no other host user can). A file-based one is the user's file:
its mode and owner stay theirs (a warning says so, as Compose's does).
Compose refuses ``external`` configs and secrets outside swarm; so does berth.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

KINDS = ("secrets", "configs")
DEFAULT_MODE = 0o444
_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class WrittenFile:
    """A config or secret berth writes: where, what (never shown: it may be a secret), mode and owner."""

    path: Path
    content: bytes = field(repr=False)
    mode: int = DEFAULT_MODE
    uid: int = 0
    gid: int = 0


def files_root(state_root: Path | str, project: str) -> Path:
    """The project's own directory under the state root (a down removes it)."""
    return Path(state_root) / "compose" / project


def declared_source(project: Any, kind: str, key: str) -> Path | bytes:
    """What the project declares for ``<kind>.<key>``: the host file of a
    ``file:`` one, else its content (``environment:``, ``content:``)."""
    declared = (getattr(project, kind, None) or {}).get(key)
    where = f"{kind}.{key}"
    if declared is None:
        raise InvalidInput(f"{where} is used but not declared", field=where, hint=f"declare it under top-level {kind}")
    if declared.get("external"):
        raise InvalidInput(f"{where}: external {kind} exist only in swarm mode", field=f"{where}.external",
                           hint="give file:, environment: or content: instead (docker compose refuses it too)")
    if declared.get("file"):
        path = Path(declared["file"])
        return path if path.is_absolute() else Path(project.working_dir) / path
    if declared.get("environment") is not None:
        variable = str(declared["environment"])
        value = (getattr(project, "environment", None) or {}).get(variable)
        if value is None:
            raise InvalidInput(f"{where}.environment: the variable {variable} is not set",
                               field=f"{where}.environment",
                               hint=f"set {variable} in the shell, the project's .env or env_files")
        return str(value).encode()
    if declared.get("content") is not None:   # configs only: the schema has no content: for a secret
        return str(declared["content"]).encode()
    raise InvalidInput(f"{where} has no source", field=where, hint="give it file:, environment: or content:")


def reference(project: Any, kind: str, item: Any, root: Path | None) -> tuple[Path, str, WrittenFile | None]:
    """A service's use of a config or secret: the host file to bind, where
    it is mounted (secrets under /run/secrets, configs at /<key>, or their
    target) and, for one berth writes, the file to write."""
    entry = {"source": item} if isinstance(item, str) else dict(item)
    key = str(entry["source"])
    target = str(entry.get("target") or key)
    if not target.startswith("/"):
        target = f"/run/secrets/{target}" if kind == "secrets" else f"/{target}"
    source = declared_source(project, kind, key)
    if isinstance(source, Path):
        return source, target, None
    if root is None:
        raise InvalidInput(f"{kind}.{key}: this command cannot write {kind} files", field=f"{kind}.{key}",
                           hint="use file: for it")
    if not _SAFE_KEY.match(key):
        raise InvalidInput(f"{kind}.{key}: the name is not a file name", field=f"{kind}.{key}",
                           hint="use letters, digits, '.', '_' and '-'")
    mode, uid, gid = _permissions(kind, key, entry)
    suffix = "" if (mode, uid, gid) == (DEFAULT_MODE, 0, 0) else f"@{mode:o}-{uid}-{gid}"
    written = WrittenFile(root / kind / f"{key}{suffix}", source, mode, uid, gid)
    return written.path, target, written


def ignored_permissions(kind: str, item: Any) -> list[str]:
    """The long-syntax keys a file-based config or secret cannot honour (the file is the user's)."""
    return sorted(k for k in ("mode", "uid", "gid") if isinstance(item, dict) and item.get(k) is not None)


def _permissions(kind: str, key: str, entry: dict[str, Any]) -> tuple[int, int, int]:
    found = []
    for name, default in (("mode", DEFAULT_MODE), ("uid", 0), ("gid", 0)):
        value = entry.get(name)
        if value is None:
            found.append(default)
            continue
        text = str(value)
        try:
            # uid and gid are strings in the spec; a mode given as a string is octal (as compose-go reads it)
            number = value if isinstance(value, int) and not isinstance(value, bool) else \
                int(text, 8 if name == "mode" else 10)
        except ValueError:
            number = -1
        if number < 0 or (name == "mode" and number > 0o7777):
            raise InvalidInput(f"{kind} {key}: {name} {value!r} is not valid", field=f"{kind}.{key}.{name}",
                               hint="mode is octal (0440); uid and gid are numbers")
        found.append(number)
    return found[0], found[1], found[2]


def wanted_files(project: Any, services: dict[str, dict[str, Any]], root: Path) -> dict[Path, WrittenFile]:
    """Every file berth writes for these services' configs and secrets."""
    found: dict[Path, WrittenFile] = {}
    for config in services.values():
        for kind in KINDS:
            for item in config.get(kind) or []:
                written = reference(project, kind, item, root)[2]
                if written is not None:
                    found[written.path] = written
    return found


def up_to_date(wanted: WrittenFile) -> bool:
    """The file on disk is the wanted one: content, mode and owner (reads only)."""
    try:
        info = wanted.path.lstat()
        if not wanted.path.is_file() or wanted.path.is_symlink():
            return False
        if (info.st_mode & 0o7777, info.st_uid, info.st_gid) != (wanted.mode, wanted.uid, wanted.gid):
            return False
        return wanted.path.read_bytes() == wanted.content
    except OSError:
        return False


def stale_files(root: Path, wanted: dict[Path, WrittenFile]) -> list[Path]:
    """Files under the project's directory no service uses any more."""
    found = []
    for kind in KINDS:
        try:
            entries = sorted((root / kind).iterdir())
        except OSError:
            continue
        found += [entry for entry in entries if entry not in wanted and not entry.name.startswith(".")]
    return found


def write(wanted: WrittenFile) -> None:
    """Atomically, in directories only root can enter."""
    from ..fsutil import atomic_write_bytes

    for directory in (wanted.path.parent.parent.parent, wanted.path.parent.parent, wanted.path.parent):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
    if wanted.path.is_dir() and not wanted.path.is_symlink():
        wanted.path.rmdir()   # a bind made it (the file was gone when its container was created): only empty
    atomic_write_bytes(wanted.path, wanted.content, mode=wanted.mode)
    # owner after the rename: no container uses the file before the plan's service steps run
    os.chown(wanted.path, wanted.uid, wanted.gid)
