"""ADD's extras: local archives extracted, URLs downloaded.

Archives (BuildKit's solver/llbsolver/file/unpack.go): a regular file whose
*content* decompresses (gzip, bzip2, xz, zstd, or none) to something whose
first block is a valid tar header is extracted into the destination
directory; anything else (an empty file named x.tar.gz, a tar of only zero
blocks) is copied as a file. ``--chown`` owns every extracted entry; without
it the archive's owners are kept; ``--chmod`` does not apply (as BuildKit).

The archive is the user's, but it is unpacked as root into an image, so it
is handled as untrusted, like a layer (image/unpack.py): every entry's parent
is resolved *inside the destination directory* (saferoot's RESOLVE_IN_ROOT:
a symlink in the archive or the image cannot lead out of it), every change
is an ``*at`` call that does not follow the final component, ``..`` that
climbs above the destination is refused (a leading ``/`` is dropped, as tar
and moby do), hardlinks must name an entry inside the destination, device
nodes are skipped (FIFOs are made), names starting ``.wh.`` are refused (the
layer would read them as whiteouts), and tar headers are bounded
(``tarlimits``).

URLs (http/https only): fetched with a short timeout; any network failure is
the InvalidInput "ADD of a URL needs network access; COPY the file into the
context"; ``--checksum=sha256:...`` is verified; the file is mode 0600 with
the mtime of ``Last-Modified``, and is not extracted (BuildKit's default).
"""

from __future__ import annotations

import bz2
import contextlib
import email.utils
import hashlib
import io
import lzma
import math
import os
import re
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .. import saferoot
from ..errors import InvalidInput
from ..fsutil import remove_at
from ..image.compression import GZIP_MAGIC, ZSTD_MAGIC, open_decompressed
from ..image.tarlimits import BoundedTarInfo, TarLimitExceeded

FIELD = "build.dockerfile"
CHUNK = 1 << 20
MAX_PATH_DEPTH = 256
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_ID = 2**32 - 2
_DECOMPRESS_ERRORS = (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, OSError, ValueError, InvalidInput)


# -- detection ----------------------------------------------------------------
@contextlib.contextmanager
def _decompressed(fd: int) -> Iterator[BinaryIO]:
    """The uncompressed bytes of the file ``fd`` (read from its start)."""
    raw = os.fdopen(os.dup(fd), "rb", buffering=CHUNK)
    try:
        raw.seek(0)
        head = raw.peek(6)[:6]
        if head.startswith(_BZIP2_MAGIC):
            with bz2.BZ2File(raw) as inflated:
                yield inflated  # type: ignore[misc]
        elif head.startswith(_XZ_MAGIC):
            with lzma.LZMAFile(raw) as inflated_xz:
                yield inflated_xz  # type: ignore[misc]
        elif head.startswith((GZIP_MAGIC, ZSTD_MAGIC)):
            yield open_decompressed(raw)
        else:
            yield raw
    finally:
        raw.close()


def is_archive(fd: int) -> bool:
    """Does the regular file ``fd`` hold a (possibly compressed) tar?"""
    try:
        with _decompressed(fd) as stream:
            block = _read_exact(stream, tarfile.BLOCKSIZE)
        if len(block) < tarfile.BLOCKSIZE:
            return False
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        return True
    except _DECOMPRESS_ERRORS:
        return False


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size and (chunk := stream.read(size - len(data))):
        data += chunk
    return data


# -- extraction ---------------------------------------------------------------
def extract(fd: int, dest_fd: int, *, owner: tuple[int, int] | None, field_line: str, source: str) -> int:
    """Extract the archive ``fd`` into the directory ``dest_fd``; returns the
    number of entries. A bad entry is an InvalidInput naming it."""
    extractor = _Extractor(dest_fd, owner, f"{field_line}: ADD {source}")
    try:
        with _decompressed(fd) as stream, tarfile.open(  # type: ignore[call-overload]
                fileobj=stream, mode="r|", errorlevel=2, tarinfo=BoundedTarInfo, bufsize=CHUNK) as tar:
            for member in tar:
                extractor.apply(tar, member)
        extractor.finish()
    except TarLimitExceeded as err:
        raise InvalidInput(f"{extractor.what}: the archive has {err}", field=FIELD,
                           hint="the archive is malformed; rebuild it") from None
    except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, RecursionError) as err:
        raise InvalidInput(f"{extractor.what}: the archive is damaged: {err}", field=FIELD,
                           hint="rebuild the archive, or COPY it to keep it as a file") from None
    return extractor.count


class _Extractor:
    def __init__(self, dest_fd: int, owner: tuple[int, int] | None, what: str) -> None:
        self.root = dest_fd
        self.owner = owner
        self.what = what
        self.count = 0
        self.dir_times: list[tuple[str, int]] = []

    def bad(self, member: tarfile.TarInfo, reason: str) -> InvalidInput:
        return InvalidInput(f"{self.what}: archive entry {member.name[:200]!r} {reason}", field=FIELD,
                            hint="fix the archive (entries must stay inside the destination)")

    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.count += 1
        rel = self.clean(member, member.name)
        if not rel:
            return  # the destination itself: left as it is (moby skips ".")
        parent_rel, _sep, name = rel.rpartition("/")
        if name.startswith(".wh."):
            raise self.bad(member, "has a name the layer would read as a whiteout (.wh.)")
        if member.ischr() or member.isblk():
            return  # device nodes are not made from an ADD archive
        try:
            parent = saferoot.make_dirs(self.root, parent_rel, 0o755)
        except (NotADirectoryError, FileExistsError, FileNotFoundError):
            raise self.bad(member, "is below a file or a symlink that leads to no directory") from None
        try:
            self.entry(tar, member, parent, name, rel)
        except InvalidInput:
            raise
        except (OSError, ValueError, OverflowError) as err:
            if isinstance(err, OSError) and err.errno in (28, 122, 5, 24, 23):  # ENOSPC EDQUOT EIO EMFILE ENFILE
                raise
            raise self.bad(member, f"cannot be extracted: {getattr(err, 'strerror', None) or err}") from None
        finally:
            os.close(parent)

    def clean(self, member: tarfile.TarInfo, name: str) -> str:
        if "\0" in name:
            raise self.bad(member, "has a NUL byte in a name")
        parts: list[str] = []
        for part in name.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise self.bad(member, "points outside the destination")
                parts.pop()
            else:
                parts.append(part)
        if len(parts) > MAX_PATH_DEPTH:
            raise self.bad(member, f"is nested deeper than {MAX_PATH_DEPTH} directories")
        return "/".join(parts)

    def entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent: int, name: str, rel: str) -> None:
        existing = saferoot.lstat_at(parent, name)
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            remove_at(parent, name) if stat.S_ISDIR(existing.st_mode) else os.unlink(name, dir_fd=parent)
        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(name, 0o700, dir_fd=parent)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
            try:
                self.fd_metadata(fd, member)
            finally:
                os.close(fd)
            self.dir_times.append((rel, _ns(member.mtime)))
        elif member.isreg():
            self.regular(tar, member, parent, name)
        elif member.issym():
            os.symlink(member.linkname, name, dir_fd=parent)
            self.path_metadata(parent, name, member)
        elif member.islnk():
            self.hardlink(member, parent, name)
        elif member.isfifo():
            os.mknod(name, stat.S_IFIFO | 0o600, dir_fd=parent)
            self.path_metadata(parent, name, member)
        else:
            raise self.bad(member, f"has an unsupported type {member.type!r}")

    def regular(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent: int, name: str) -> None:
        fd = os.open(name, _CREATE, 0o600, dir_fd=parent)
        try:
            source = tar.extractfile(member)
            while source is not None and (chunk := source.read(CHUNK)):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            self.fd_metadata(fd, member)
            os.utime(fd, ns=(_ns(member.mtime),) * 2)
        finally:
            os.close(fd)

    def hardlink(self, member: tarfile.TarInfo, parent: int, name: str) -> None:
        target = self.clean(member, member.linkname)
        try:
            fd = saferoot.open_in_root(self.root, target, os.O_PATH, follow_last=False)
        except (FileNotFoundError, NotADirectoryError):
            raise self.bad(member, f"links to {member.linkname!r}, which is not in the destination") from None
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                raise self.bad(member, "is a hardlink to a directory")
            os.link(saferoot.fd_path(fd), name, dst_dir_fd=parent, follow_symlinks=True)
        finally:
            os.close(fd)

    def ids(self, member: tarfile.TarInfo) -> tuple[int, int]:
        if self.owner is not None:
            return self.owner
        if not (0 <= member.uid <= _MAX_ID and 0 <= member.gid <= _MAX_ID):
            raise self.bad(member, f"has an invalid owner {member.uid}:{member.gid}")
        return member.uid, member.gid

    def fd_metadata(self, fd: int, member: tarfile.TarInfo) -> None:
        os.fchown(fd, *self.ids(member))
        for key, value in member.pax_headers.items():
            if key.startswith("SCHILY.xattr.") and not key.startswith("SCHILY.xattr.trusted.overlay."):
                raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
                with contextlib.suppress(OSError):  # best effort, as BuildKit
                    os.setxattr(fd, key[len("SCHILY.xattr."):], raw)
        os.fchmod(fd, stat.S_IMODE(member.mode))

    def path_metadata(self, parent: int, name: str, member: tarfile.TarInfo) -> None:
        os.chown(name, *self.ids(member), dir_fd=parent, follow_symlinks=False)
        if not member.issym():
            os.chmod(name, stat.S_IMODE(member.mode), dir_fd=parent, follow_symlinks=False)
        os.utime(name, ns=(_ns(member.mtime),) * 2, dir_fd=parent, follow_symlinks=False)

    def finish(self) -> None:
        """Directory times last, each re-resolved inside the destination."""
        for rel, mtime in reversed(self.dir_times):
            try:
                fd = saferoot.open_in_root(self.root, rel, os.O_RDONLY | os.O_DIRECTORY, follow_last=False)
            except OSError:
                continue  # replaced by a later entry
            try:
                os.utime(fd, ns=(mtime, mtime))
            finally:
                os.close(fd)


def _ns(mtime: float) -> int:
    """Nanoseconds; a time that is not a finite, sane number reads as 0."""
    return int(mtime * 1_000_000_000) if math.isfinite(mtime) and abs(mtime) < 2**62 / 1e9 else 0


# -- URLs -----------------------------------------------------------------------
class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if not newurl.startswith(("http://", "https://")):
            raise urllib.error.URLError(f"redirect to {newurl!r} is not http(s)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def parse_checksum(checksum: str | None, field_line: str) -> str | None:
    """``--checksum``: only ``sha256:<64 hex>`` (BuildKit's one algorithm)."""
    if not checksum:
        return None
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", checksum):
        raise InvalidInput(f"{field_line}: ADD --checksum {checksum!r} is not sha256:<64 hex digits>", field=FIELD,
                           hint="give the SHA-256 of the file as sha256:<hex>")
    return checksum


@contextlib.contextmanager
def download(url: str, name: str, checksum: str | None, field_line: str,
             timeout: float) -> Iterator[tuple[Path, str]]:
    """The URL's content as ``<folder>/<name>`` (removed afterwards)."""
    expected = parse_checksum(checksum, field_line)
    folder = Path(tempfile.mkdtemp(prefix="berth-add-"))
    try:
        digest, modified = _fetch(url, folder / name, field_line, timeout)
        if expected and digest != expected:
            raise InvalidInput(f"{field_line}: ADD {url}: checksum mismatch: got {digest}, expected {expected}",
                               field=FIELD, hint="update --checksum, or check the URL serves the right file")
        if modified is not None:
            os.utime(folder / name, (modified, modified))
        yield folder, name
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _fetch(url: str, path: Path, field_line: str, timeout: float) -> tuple[str, float | None]:
    opener = urllib.request.build_opener(_HttpOnlyRedirects())
    digest = hashlib.sha256()
    try:
        with opener.open(urllib.request.Request(url, headers={"User-Agent": "berth"}), timeout=timeout) as answer, \
                open(os.open(path, _CREATE, 0o600), "wb", closefd=True) as out:
            while chunk := answer.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            modified = answer.headers.get("Last-Modified")
    except urllib.error.HTTPError as err:
        raise InvalidInput(f"{field_line}: ADD failed: {url} answered HTTP {err.code} {err.reason}", field=FIELD,
                           hint="check the URL") from None
    except (urllib.error.URLError, OSError, ValueError, io.UnsupportedOperation) as err:
        reason = getattr(err, "reason", err)
        raise InvalidInput(f"{field_line}: ADD of a URL needs network access; COPY the file into the context "
                           f"({url}: {reason})", field=FIELD,
                           hint="download the file beside the Dockerfile and COPY it") from None
    return "sha256:" + digest.hexdigest(), _http_time(modified)


def _http_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        return None
