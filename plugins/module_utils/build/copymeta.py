"""COPY/ADD --chown and --chmod, as BuildKit reads them.

``--chown`` (client/llb WithUser + the file backend's readUser): ``user`` or
``user:group``; ``root`` and numbers need no lookup, a numeric user alone
means the same number as the group (``--chown=1000`` is 1000:1000); a user
name takes its uid and primary gid from the destination's /etc/passwd, a
group name its gid from /etc/group. Those files are read through a
descriptor of the destination root (``saferoot``), so an image whose
/etc/passwd is a symlink to a host file reads that path *inside* the image.
A name that is not there is an error naming the Dockerfile line.

``--chmod``: octal (at most 07777) or, as BuildKit since Dockerfile 1.14,
chmod(1)'s symbolic form (``+x``, ``u=rwX,go=rX``, ``g=u``) applied with a
umask of 0 to each copied entry's own mode.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import saferoot
from ..errors import InvalidInput

FIELD = "build.dockerfile"
MAX_ID = 2**31 - 1  # BuildKit parses ids as int32
MAX_USER_FILE = 1 << 20
_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o0007, "a": 0o7777}
_SYMBOLIC = re.compile(r"[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+")


@dataclass(frozen=True)
class Chmod:
    """A parsed --chmod: ``octal`` or symbolic ``clauses`` (who, op, perms)."""

    text: str
    octal: int | None
    clauses: tuple[tuple[str, str, str], ...] = ()

    def apply(self, mode: int, is_dir: bool) -> int:
        """The new permission bits (07777) of an entry whose bits were ``mode``."""
        if self.octal is not None:
            return self.octal
        mode &= 0o7777
        for who, op, perms in self.clauses:
            mode = _apply_clause(mode, is_dir, who, op, perms)
        return mode


def parse_chmod(text: str | int | None, field_line: str) -> Chmod | None:
    if text is None or text == "":
        return None
    if isinstance(text, int):
        text = f"{text:o}"
    if text.isascii() and text.isdigit():
        value = int(text, 8) if all(c in "01234567" for c in text) else None
        if value is None or value > 0o7777:
            raise InvalidInput(f"{field_line}: invalid --chmod {text!r}: it should be an octal string between 0 "
                               "and 07777", field=FIELD, hint="e.g. --chmod=755, or a symbolic mode like u=rwX,go=rX")
        return Chmod(text, value)
    clauses = [_parse_clause(part, text, field_line) for part in text.split(",")]
    return Chmod(text, None, tuple(c for group in clauses for c in group))


def _parse_clause(part: str, text: str, field_line: str) -> list[tuple[str, str, str]]:
    if not _SYMBOLIC.fullmatch(part):
        raise InvalidInput(f"{field_line}: invalid --chmod {text!r}", field=FIELD,
                           hint="use octal (644) or chmod(1) symbolic clauses such as +x or u=rwX,go=rX")
    who = re.match(r"[ugoa]*", part).group(0)  # type: ignore[union-attr]
    return [(who, action[0], action[1:]) for action in re.findall(r"[-+=][^-+=]*", part[len(who):])]


def _apply_clause(mode: int, is_dir: bool, who: str, op: str, perms: str) -> int:
    mask = 0
    for char in who or "a":
        mask |= _WHO[char]
    if perms in ("u", "g", "o"):
        shift = {"u": 6, "g": 3, "o": 0}[perms]
        bits = ((mode >> shift) & 0o7) * 0o111
    else:
        bits = 0
        for char in perms:
            bits |= {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}.get(char, 0)
            if char == "X" and (is_dir or mode & 0o111):
                bits |= 0o111
    # BSD setmode: the sticky bit goes with any "who" but "o" alone
    bits &= mask | (0o1000 if set(who) - {"o"} or not who else 0)
    if op == "+":
        return mode | bits
    if op == "-":
        return mode & ~bits
    return (mode & ~mask) | bits


def resolve_chown(spec: str | tuple[int, int] | None, users_root: Path | None,
                  field_line: str) -> tuple[int, int] | None:
    """``--chown`` as (uid, gid); names looked up in ``users_root``."""
    if spec is None or isinstance(spec, tuple):
        return spec
    if not spec:
        return None
    user, sep, group = spec.partition(":")
    uid = gid = _number(user)
    if uid is None:
        entry = _lookup(users_root, "etc/passwd", user, field_line)
        uid, gid = _id(entry, 2), _id(entry, 3)
    if sep:
        number = _number(group)
        gid = number if number is not None else _id(_lookup(users_root, "etc/group", group, field_line), 2)
    if uid is None or gid is None or not 0 <= uid <= MAX_ID or not 0 <= gid <= MAX_ID:
        raise InvalidInput(f"{field_line}: invalid --chown {spec!r}", field=FIELD,
                           hint="use user[:group] with names of the image or ids up to 2147483647")
    return uid, gid


def _number(text: str) -> int | None:
    if text == "root":
        return 0
    if text.isascii() and text.isdigit() and len(text) <= 10:
        return int(text)
    return None


def _id(entry: Sequence[str], index: int) -> int | None:
    return _number(entry[index]) if len(entry) > index else None


def _lookup(users_root: Path | None, path: str, name: str, field_line: str) -> list[str]:
    kind = "user" if path.endswith("passwd") else "group"
    text = _read(users_root, path, field_line)
    for line in text.splitlines():
        fields = line.split(":")
        if line and not line.startswith("#") and fields[0] == name and len(fields) >= (4 if kind == "user" else 3):
            return fields
    raise InvalidInput(f"{field_line}: --chown: unable to find {kind} {name!r} in the image's /{path}",
                       field=FIELD, hint=f"use a {kind} that exists in the image, or a numeric id")


def _read(users_root: Path | None, path: str, field_line: str) -> str:
    if users_root is None:
        return ""
    fd = saferoot.open_root(users_root)
    try:
        data = saferoot.read_in_root(fd, path, MAX_USER_FILE)
    except ValueError:
        raise InvalidInput(f"{field_line}: the image's /{path} is larger than {MAX_USER_FILE} bytes", field=FIELD,
                           hint="use numeric ids in --chown") from None
    finally:
        os.close(fd)
    return "" if data is None else data.decode(errors="replace")
