"""Resolve a Docker ``user`` string against an image's /etc/passwd and /etc/group.

The image is not mounted: the files are read from its layers as overlayfs
would merge them, every path resolved inside the image root (``layered``), so
check mode can resolve users without a mount and an image's /etc/passwd that
is a symlink to a host file, a FIFO or a device reads as absent. The
rules are Docker's: ``name``, ``uid``, ``name:group``, ``uid:gid``; a name
must exist in the image; a bare numeric uid need not (gid 0 then); the user's
supplementary groups come from /etc/group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidInput
from .layered import LayeredRoot
from .strict import UINT32_MAX, is_ascii_digits, parse_uint

# /etc/passwd and /etc/group are read whole; a real one is a few KiB. An image
# with more is refused, not read into memory (or waited on, were it a FIFO).
MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"


def read_layered(lowerdirs: list[Path], relative: str, image: str | None = None) -> str | None:
    """The file's text as the merged overlay would show it, resolved inside
    the image (see ``layered``); ``None`` when absent, deleted by a whiteout,
    or not a regular file. More than ``MAX_FILE_BYTES`` is an InvalidInput."""
    with LayeredRoot(lowerdirs, _label(image)) as root:
        return _read_text(root, relative)


def _label(image: str | None) -> str:
    return f"image {image}" if image else "the image"


def _read_text(root: LayeredRoot, relative: str) -> str | None:
    data = root.read_file(relative, MAX_FILE_BYTES)
    return None if data is None else data.decode(errors="replace")


def _entries(text: str | None) -> list[list[str]]:
    if not text:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(user: str | None, lowerdirs: list[Path], field_name: str = "user",
                 image: str | None = None) -> ResolvedUser:
    """Docker's user resolution; an unknown name is an error naming ``field_name``
    (and ``image``, when given, in errors about the image's files)."""
    if not user:
        user = "0"
    name, _sep, group = user.partition(":")
    if not name:
        raise InvalidInput(f"user {user!r} has no user part", field=field_name,
                           hint="give a user name or uid, optionally :group (e.g. nobody or 1000:1000)")
    with LayeredRoot(lowerdirs, _label(image)) as root:
        passwd = _entries(_read_text(root, "etc/passwd"))
        groups = _entries(_read_text(root, "etc/group"))
    uid, gid, home, login = _find_user(name, passwd, field_name)
    if group:
        gid = _find_group(group, groups, field_name)
    extra = sorted({int(g[2]) for g in groups
                    if len(g) >= 4 and login and login in g[3].split(",") and _is_id(g[2])} - {gid})
    return ResolvedUser(uid, gid, extra if not group else [], home)


def _find_user(name: str, passwd: list[list[str]], field_name: str) -> tuple[int, int, str, str | None]:
    for entry in passwd:
        if len(entry) >= 6 and (entry[0] == name or entry[2] == name) and _is_id(entry[2]):
            return int(entry[2]), int(entry[3]) if _is_id(entry[3]) else 0, entry[5] or "/", entry[0]
    if is_ascii_digits(name):
        return parse_uint(name, field=field_name, what="uid", maximum=UINT32_MAX), 0, "/", None
    raise InvalidInput(f"unable to find user {name}: no matching entries in the image's /etc/passwd",
                       field=field_name, hint="use a user that exists in the image, or a numeric uid[:gid]")


def _find_group(group: str, groups: list[list[str]], field_name: str) -> int:
    for entry in groups:
        if len(entry) >= 3 and (entry[0] == group or entry[2] == group) and _is_id(entry[2]):
            return int(entry[2])
    if is_ascii_digits(group):
        return parse_uint(group, field=field_name, what="gid", maximum=UINT32_MAX)
    raise InvalidInput(f"unable to find group {group}: no matching entries in the image's /etc/group",
                       field=field_name, hint="use a group that exists in the image, or a numeric gid")


def _is_id(text: str) -> bool:
    """A uid/gid field of the image's files that is usable as one (the files
    are the image author's: '²', 5,000 digits or 2**40 are skipped, not errors)."""
    return is_ascii_digits(text) and len(text) <= 10 and int(text) <= UINT32_MAX
