"""COPY/ADD sources: which entries a source list selects, and their content digest.

BuildKit's rules (frontend/dockerfile/docs/reference.md, fsutil's copy), as
followed here:

* A local source is cleaned as if it were absolute: ``../x``, ``/x`` and
  ``./x/`` all name ``x`` at the root of the context (or of the stage/image
  for ``COPY --from``). BuildKit *removes* parent navigation rather than
  refusing it, so ``COPY ../secret /`` never reads outside the context: it
  looks for ``secret`` inside it, and fails with "not found" when the context
  has none. Trailing slashes on a source are ignored.
* Wildcards follow Go's ``filepath.Match`` (``*``, ``?``, ``[...]`` with
  ``^`` negation, ``\\`` escapes), one pattern component per path component:
  the components before the first wildcard name a directory, the rest is
  matched against the paths below it (a matching directory is taken whole,
  not descended). A wildcard matching nothing selects nothing, as BuildKit
  does (``AllowEmptyWildcard``); a plain path that is missing is an error.
* A source that is a symlink is followed, but *inside the root* (an absolute
  target or ``..`` stops at the root, as saferoot's RESOLVE_IN_ROOT): the
  entry copied is the target, under the source's own name. Symlinks met
  inside a copied directory are copied as symlinks.
* ``.dockerignore``: an excluded path does not exist (BuildKit never receives
  it); an excluded directory that an exception (``!``) may re-include is
  entered.

Everything is read through descriptors (``saferoot``), never a host path
built from a name, so a hostile stage root cannot point a read outside it.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from .. import saferoot
from ..errors import InvalidInput
from .ignore import Ignore

FIELD = "build.dockerfile"
_PATH_FLAGS = os.O_PATH | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CHUNK = 1 << 20


class IgnoreRules(Protocol):
    """What build/ignore.Ignore offers (helper A's .dockerignore matcher)."""

    def excluded(self, rel: str) -> bool: ...

    def may_contain_included(self, rel_dir: str) -> bool: ...


@dataclass(frozen=True)
class SourceRoot:
    """Where sources are read: the build context (with its .dockerignore) or
    the read-only root of a stage or image (``label`` "stage builder",
    "image alpine"). ``keep_owner``: copies keep the source's uid/gid when no
    --chown is given (BuildKit does for ``--from``; the context's files
    arrive as 0:0)."""

    path: Path
    ignore: IgnoreRules | None = None
    label: str = "build context"
    keep_owner: bool = False


@dataclass(frozen=True)
class Selected:
    """One selected source entry. ``rel`` is the matched path relative to the
    root ('' = the root itself), before its final symlink is followed;
    ``name`` the name a copy into a directory takes; ``is_dir`` after
    following; ``kind`` "local", "url" or "heredoc" (``data`` holds a
    heredoc's bytes); ``parents``: for ``--parents``, the path kept under the
    destination."""

    root: SourceRoot
    source: str
    rel: str
    name: str
    is_dir: bool
    kind: str = "local"
    data: bytes = b""
    parents: str = ""


def source_error(field_line: str, instruction: str, source: str, label: str) -> InvalidInput:
    hint = ("paths are relative to the build context; check the name and .dockerignore"
            if label == "build context" else f"the path is resolved from the root of {label}")
    return InvalidInput(f'{field_line}: {instruction} failed: "{source}" not found in {label}', field=FIELD,
                        hint=hint)


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def is_git(source: str) -> bool:
    """Git sources as BuildKit recognises them: git@host:..., git://, ssh://,
    or an http(s) URL ending in .git (optionally with a #fragment)."""
    if source.startswith(("git@", "git://", "ssh://")):
        return True
    return is_url(source) and source.split("#", 1)[0].rstrip("/").endswith(".git")


def clean_source(source: str) -> str:
    """BuildKit's cleaning: as if absolute, so '..' cannot climb out ('' = root)."""
    return posixpath.normpath("/" + source).lstrip("/")


# -- Go filepath.Match --------------------------------------------------------
def contains_wildcards(text: str) -> bool:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in "*?[":
            return True
        i += 1
    return False


def unescape(text: str) -> str:
    """A literal (wildcard-free) component: ``\\x`` is ``x``."""
    return re.sub(r"\\(.)", r"\1", text)


class BadPattern(ValueError):
    pass


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if i + 1 >= len(pattern):
                raise BadPattern(pattern)
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            i = _char_class(pattern, i + 1, out)
            continue
        else:
            out.append(re.escape(char))
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        raise BadPattern(pattern) from None


def _char_class(pattern: str, i: int, out: list[str]) -> int:
    """Go's ``[ [^] range... ]``; returns the index after ``]``."""
    negate = i < len(pattern) and pattern[i] == "^"
    i += negate
    ranges: list[str] = []
    while True:
        if i >= len(pattern):
            raise BadPattern(pattern)
        if pattern[i] == "]" and ranges:
            break
        lo, i = _class_char(pattern, i)
        hi = lo
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
        ranges.append(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}")
    out.append(("[^/" if negate else "[") + "".join(ranges) + "]")
    return i + 1


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise BadPattern(pattern)
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise BadPattern(pattern)
    return pattern[i], i + 1


def match(pattern: str, name: str) -> bool:
    """Go's filepath.Match (BadPattern for a malformed pattern)."""
    return _compile(pattern).fullmatch(name) is not None


# -- the root -----------------------------------------------------------------
class OpenRoot:
    """A SourceRoot held open: its descriptor and real path (to name what a
    descriptor resolved to, for .dockerignore checks after a symlink)."""

    def __init__(self, root: SourceRoot) -> None:
        self.root = root
        self.fd = saferoot.open_root(root.path)
        self.real = os.readlink(saferoot.fd_path(self.fd))

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> OpenRoot:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def rel_of(self, fd: int) -> str:
        """The path (relative to the root) that ``fd`` resolved to."""
        real = os.readlink(saferoot.fd_path(fd))
        if real == self.real:
            return ""
        return real[len(self.real):].lstrip("/") if real.startswith(self.real + "/") else real

    def hidden(self, rel: str, is_dir: bool) -> bool:
        """Excluded by .dockerignore, itself or through an excluded parent."""
        ignore = self.root.ignore
        if ignore is None or not rel:
            return False
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if ignore.excluded(prefix) and not ignore.may_contain_included(prefix):
                return True
        return ignore.excluded(rel) and not (is_dir and ignore.may_contain_included(rel))

    def hidden_child(self, rel: str, is_dir: bool) -> bool:
        """``hidden`` for an entry whose parent a walk already entered (the
        matcher decides parents itself: a pattern matching a parent excludes
        the entry unless an exception re-includes it)."""
        ignore = self.root.ignore
        return ignore is not None and ignore.excluded(rel) and not (is_dir and ignore.may_contain_included(rel))

    def open(self, rel: str) -> int | None:
        """An O_PATH descriptor of ``rel`` (final symlink followed inside the
        root); None when missing or hidden."""
        try:
            fd = saferoot.open_in_root(self.fd, rel, _PATH_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as err:
            if err.errno == 40:  # ELOOP: a symlink cycle reads as missing
                return None
            raise
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        if self.hidden(rel, is_dir) or self.hidden(self.rel_of(fd), is_dir):
            os.close(fd)
            return None
        return fd


# -- selecting ----------------------------------------------------------------
def select(root: SourceRoot, patterns: Sequence[str], *, field_line: str, instruction: str = "COPY",
           parents: bool = False, exclude: Sequence[str] = ()) -> list[Selected]:
    """The entries ``patterns`` select in ``root`` (in order; a wildcard's
    matches sorted). URLs become ``kind="url"`` entries (ADD only), git
    sources are refused; a missing plain path is an InvalidInput naming
    ``field_line`` ("Dockerfile:7"). ``exclude`` (``--exclude``) drops
    matches whose name matches; what is below a directory is filtered by
    ``walk``."""
    found: list[Selected] = []
    with OpenRoot(root) as opened:
        for pattern in patterns:
            if parents and "**" in pattern:
                raise InvalidInput(f"{field_line}: {instruction} --parents with '**' ({pattern}) is not supported",
                                   field=FIELD, hint="list the directories, or copy the parent directory whole")
            found.extend(item for item in _select_one(opened, pattern, field_line, instruction, parents)
                         if item.kind != "local" or not (item.rel and excluded(item.name, exclude)))
    return found


def _select_one(opened: OpenRoot, pattern: str, field_line: str, instruction: str,
                parents: bool) -> list[Selected]:
    if is_git(pattern) or is_url(pattern):
        return [_remote(opened.root, pattern, field_line, instruction)]
    keep = ""
    if parents:
        keep_from, sep, rest = pattern.partition("/./")
        keep = clean_source(rest if sep else pattern)
        pattern_path = clean_source(f"{keep_from}/{rest}" if sep else pattern)
    else:
        pattern_path = clean_source(pattern)
    parts = pattern_path.split("/") if pattern_path else []
    first = next((i for i, part in enumerate(parts) if contains_wildcards(part)), None)
    if first is None:
        rel = "/".join(unescape(p) for p in parts)
        fd = opened.open(rel)
        if fd is None:
            raise source_error(field_line, instruction, pattern, opened.root.label)
        try:
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        finally:
            os.close(fd)
        return [Selected(opened.root, pattern, rel, posixpath.basename(rel), is_dir,
                         parents=_kept(rel, pattern_path, keep) if parents else "")]
    base = "/".join(unescape(p) for p in parts[:first])
    try:
        matches = list(_wildcard(opened, base, parts[first:]))
    except BadPattern:
        raise InvalidInput(f"{field_line}: {instruction} source {pattern!r} is not a valid pattern",
                           field=FIELD, hint="escape [, ], * and ? with a backslash or [[] as in Go") from None
    return [Selected(opened.root, pattern, rel, posixpath.basename(rel), is_dir,
                     parents=_kept(rel, pattern_path, keep) if parents else "") for rel, is_dir in matches]


def _kept(rel: str, pattern_path: str, keep: str) -> str:
    """--parents: the part of ``rel`` from where the kept part of the
    pattern starts (``x/./y/*.txt`` keeps ``y/a.txt``)."""
    drop = len(pattern_path.split("/")) - len(keep.split("/")) if keep else 0
    return "/".join(rel.split("/")[drop:])


def _remote(root: SourceRoot, source: str, field_line: str, instruction: str) -> Selected:
    if instruction != "ADD":
        raise InvalidInput(f"{field_line}: {instruction} source {source!r} is a URL; only ADD downloads",
                           field=FIELD, hint="use ADD for a URL, or COPY a file of the build context")
    if is_git(source):
        raise InvalidInput(f"{field_line}: ADD of a git repository ({source}) is not supported", field=FIELD,
                           hint="clone the repository into the build context and COPY it")
    name = posixpath.basename(urllib.parse.unquote(urllib.parse.urlsplit(source).path))
    if name in ("", ".", "..") or "\0" in name:
        name = "__unnamed__"  # BuildKit's name when the URL path has none
    return Selected(root, source, source, name, False, kind="url")


def _wildcard(opened: OpenRoot, base: str, rest: list[str]) -> Iterator[tuple[str, bool]]:
    """(rel, is_dir) of what matches ``rest`` below ``base`` (sorted, as Go's Walk)."""
    for part in rest:
        _compile(part)  # a malformed pattern fails even when nothing is below
    fd = opened.open(base)
    if fd is None:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            return
        dir_fd = os.open(".", _DIR_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)
    base_real = opened.rel_of(dir_fd)
    try:
        yield from _walk_match(opened, dir_fd, base, base_real, rest)
    finally:
        os.close(dir_fd)


def _walk_match(opened: OpenRoot, dir_fd: int, rel: str, real: str,
                rest: list[str]) -> Iterator[tuple[str, bool]]:
    for name in sorted(os.listdir(dir_fd)):
        child_real = posixpath.join(real, name)
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        is_dir = stat.S_ISDIR(info.st_mode)
        if opened.hidden_child(child_real, is_dir) or not match(rest[0], name):
            continue
        child = posixpath.join(rel, name)
        if len(rest) == 1:
            target = opened.open(child)  # a matched symlink is followed inside the root
            if target is None:
                continue
            try:
                yield child, stat.S_ISDIR(os.fstat(target).st_mode)
            finally:
                os.close(target)
        elif is_dir:
            sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            try:
                yield from _walk_match(opened, sub, child, child_real, rest[1:])
            finally:
                os.close(sub)


# -- walking a selected entry ---------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One entry below a selected source: ``path`` relative to it ('' = the
    source itself), its lstat, the descriptor of its directory and its name
    there (valid only while the walk is at it)."""

    path: str
    info: os.stat_result
    dir_fd: int
    name: str


def walk(opened: OpenRoot, selected: Selected, exclude: Sequence[str] = ()) -> Iterator[Entry]:
    """The selected entry and, for a directory, everything below it in
    sorted order (parents before children), .dockerignore and ``exclude``
    patterns (Go-style, matched against the path below the source) honoured."""
    fd = opened.open(selected.rel)
    if fd is None:
        raise FileNotFoundError(selected.rel)
    try:
        info = os.fstat(fd)
        parent_fd, name = reopen_parent(fd)
    finally:
        os.close(fd)
    try:
        yield Entry("", info, parent_fd, name)
        if stat.S_ISDIR(info.st_mode):
            sub = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
            try:
                yield from _walk_dir(opened, sub, "", opened.rel_of(sub), exclude)
            finally:
                os.close(sub)
    finally:
        os.close(parent_fd)


def reopen_parent(fd: int) -> tuple[int, str]:
    """A descriptor of the directory holding what ``fd`` names, and the name
    (the source root itself: ``fd`` reopened and '.')."""
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        return os.open(".", _DIR_FLAGS, dir_fd=fd), "."
    real = os.readlink(saferoot.fd_path(fd))
    parent = os.open(posixpath.dirname(real), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    name = posixpath.basename(real)
    try:
        same = os.stat(name, dir_fd=parent, follow_symlinks=False)
        mine = os.fstat(fd)
        if (same.st_dev, same.st_ino) != (mine.st_dev, mine.st_ino):
            raise FileNotFoundError(real)  # renamed meanwhile: never read something else
    except BaseException:
        os.close(parent)
        raise
    return parent, name


def _walk_dir(opened: OpenRoot, dir_fd: int, path: str, real: str, exclude: Sequence[str]) -> Iterator[Entry]:
    for name in sorted(os.listdir(dir_fd)):
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        is_dir = stat.S_ISDIR(info.st_mode)
        child = posixpath.join(path, name)
        if opened.hidden_child(posixpath.join(real, name), is_dir) or excluded(child, exclude):
            continue
        yield Entry(child, info, dir_fd, name)
        if is_dir:
            sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            try:
                yield from _walk_dir(opened, sub, child, posixpath.join(real, name), exclude)
            finally:
                os.close(sub)


def excluded(path: str, patterns: Sequence[str]) -> bool:
    """``--exclude``: moby patternmatcher rules (those of .dockerignore, so
    ``*.txt`` is a top-level name and ``**/*.txt`` any depth) against the
    path below the copied source; a matching directory is left out whole
    unless a ``!`` pattern may re-include something in it."""
    if not patterns:
        return False
    rules = _exclude_rules(tuple(patterns))
    return rules.excluded(path) and not rules.may_contain_included(path)


@lru_cache(maxsize=64)
def _exclude_rules(patterns: tuple[str, ...]) -> IgnoreRules:
    return Ignore(patterns)


# -- content digest -------------------------------------------------------------
def content_digest(root: SourceRoot, selected: Sequence[Selected], *, exclude: Sequence[str] = ()) -> str:
    """sha256 over every selected entry, recursively: its name, then per
    entry (path below the source, type, mode bits, owner as the copy would
    set it without --chown, size, content sha256, link target; hardlinks as
    links to the first path). Not mtimes. The caller adds dest, chown, chmod."""
    total = hashlib.sha256()
    with OpenRoot(root) as opened:
        for item in selected:
            total.update(f"{item.kind}\0{item.source}\0{item.name}\0{item.parents}\0{int(item.is_dir)}\n".encode())
            if item.kind == "heredoc":
                total.update(hashlib.sha256(item.data).hexdigest().encode())
            elif item.kind == "local":
                _digest_tree(opened, item, exclude, total)
    return "sha256:" + total.hexdigest()


def _digest_tree(opened: OpenRoot, item: Selected, exclude: Sequence[str], total: hashlib._Hash) -> None:
    links: dict[tuple[int, int], str] = {}
    for entry in walk(opened, item, exclude):
        info = entry.info
        uid, gid = (info.st_uid, info.st_gid) if opened.root.keep_owner else (0, 0)
        kind = stat.S_IFMT(info.st_mode)
        extra = ""
        if stat.S_ISREG(info.st_mode):
            key = (info.st_dev, info.st_ino)
            if info.st_nlink > 1 and key in links:
                extra = "link:" + links[key]
            else:
                links.setdefault(key, entry.path)
                extra = _file_sha(entry.dir_fd, entry.name)
        elif stat.S_ISLNK(info.st_mode):
            extra = os.readlink(entry.name, dir_fd=entry.dir_fd)
        elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            extra = f"{os.major(info.st_rdev)},{os.minor(info.st_rdev)}"
        size = info.st_size if stat.S_ISREG(info.st_mode) else 0
        line = f"{entry.path}\0{kind:o}\0{stat.S_IMODE(info.st_mode):o}\0{uid}\0{gid}\0{size}\0{extra}\n"
        total.update(line.encode("utf-8", "surrogateescape"))


def _file_sha(dir_fd: int, name: str) -> str:
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    try:
        digest = hashlib.sha256()
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)
