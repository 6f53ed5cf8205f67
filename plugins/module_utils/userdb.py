"""Resolve a Docker ``user`` string against an image's /etc/passwd and /etc/group.

The image is not mounted: the files are read from the top-most layer that has
them (overlay order), so check mode can resolve users without a mount. The
rules are Docker's: ``name``, ``uid``, ``name:group``, ``uid:gid``; a name
must exist in the image; a bare numeric uid need not (gid 0 then); the user's
supplementary groups come from /etc/group.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidInput


@dataclass(frozen=True)
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"


def read_layered(lowerdirs: list[Path], relative: str) -> str | None:
    """The file's text as the merged overlay would show it (top layer first);
    ``None`` when absent or deleted by a whiteout."""
    parts = relative.strip("/").split("/")
    for layer in lowerdirs:
        if _hidden_by_layer(layer, parts):
            return None
        candidate = layer.joinpath(*parts)
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            continue
        if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
            return None  # an overlay whiteout: deleted in this layer
        if stat.S_ISREG(info.st_mode):
            return candidate.read_text(errors="replace")
        return None
    return None


def _hidden_by_layer(layer: Path, parts: list[str]) -> bool:
    """A parent directory of the path is whited out or opaque in this layer
    without the file itself being there."""
    for depth in range(1, len(parts)):
        directory = layer.joinpath(*parts[:depth])
        try:
            info = os.lstat(directory)
        except FileNotFoundError:
            return False
        if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
            return True
        if _is_opaque(directory) and not layer.joinpath(*parts).exists():
            return True
    return False


def _is_opaque(directory: Path) -> bool:
    try:
        return os.getxattr(directory, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _entries(text: str | None) -> list[list[str]]:
    if not text:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(user: str | None, lowerdirs: list[Path], field_name: str = "user") -> ResolvedUser:
    """Docker's user resolution; an unknown name is an error naming ``field_name``."""
    if not user:
        user = "0"
    name, _sep, group = user.partition(":")
    if not name:
        raise InvalidInput(f"user {user!r} has no user part", field=field_name,
                           hint="give a user name or uid, optionally :group (e.g. nobody or 1000:1000)")
    passwd = _entries(read_layered(lowerdirs, "etc/passwd"))
    groups = _entries(read_layered(lowerdirs, "etc/group"))
    uid, gid, home, login = _find_user(name, passwd, field_name)
    if group:
        gid = _find_group(group, groups, field_name)
    extra = sorted({int(g[2]) for g in groups
                    if len(g) >= 4 and login and login in g[3].split(",") and g[2].isdigit()} - {gid})
    return ResolvedUser(uid, gid, extra if not group else [], home)


def _find_user(name: str, passwd: list[list[str]], field_name: str) -> tuple[int, int, str, str | None]:
    for entry in passwd:
        if len(entry) >= 6 and (entry[0] == name or entry[2] == name) and entry[2].isdigit():
            return int(entry[2]), int(entry[3]) if entry[3].isdigit() else 0, entry[5] or "/", entry[0]
    if name.isdigit():
        return int(name), 0, "/", None
    raise InvalidInput(f"unable to find user {name}: no matching entries in the image's /etc/passwd",
                       field=field_name, hint="use a user that exists in the image, or a numeric uid[:gid]")


def _find_group(group: str, groups: list[list[str]], field_name: str) -> int:
    for entry in groups:
        if len(entry) >= 3 and (entry[0] == group or entry[2] == group) and entry[2].isdigit():
            return int(entry[2])
    if group.isdigit():
        return int(group)
    raise InvalidInput(f"unable to find group {group}: no matching entries in the image's /etc/group",
                       field=field_name, hint="use a group that exists in the image, or a numeric gid")
