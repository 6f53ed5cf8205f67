"""Bounds on what reading a hostile tar header may cost.

Python's ``tarfile`` reads a pax extended header, a GNU long name and a GNU
sparse map whole, however large the header says it is: a layer whose pax
header claims 400 MiB makes ``tarfile`` allocate 400 MiB before the unpacker
sees a single entry. ``BoundedTarInfo`` is passed as ``tarfile.open(...,
tarinfo=...)`` and refuses such headers first. It overrides ``tarfile``'s
documented hook (``_proc_member``, "can be overridden in a subclass") and, for
the two sparse formats whose maps live outside the header, the parsing
methods themselves, with the same logic plus bounds (CPython 3.11 to 3.13 share
these methods unchanged).
"""

from __future__ import annotations

import tarfile as tarmod
from typing import Any

# pax headers carry xattrs (at most 64 KiB each on Linux) and paths (4 KiB);
# a legitimate one is a few KiB.
MAX_HEADER_BYTES = 1 << 20
# GNU tar writes one segment per data run; real sparse files (VM images,
# databases) have a few hundred at most.
MAX_SPARSE_SEGMENTS = 1 << 16
_MAX_NUMBER_DIGITS = 24  # 2**64 has 20 decimal digits
_HEADER_TYPES = (tarmod.GNUTYPE_LONGNAME, tarmod.GNUTYPE_LONGLINK, tarmod.XHDTYPE, tarmod.XGLTYPE,
                 tarmod.SOLARIS_XHDTYPE)


class TarLimitExceeded(tarmod.TarError):
    """A header or sparse map beyond the bounds above (not a HeaderError, so
    ``tarfile`` lets it through instead of treating it as the end)."""


class BoundedTarInfo(tarmod.TarInfo):
    def _proc_member(self, tarfile: Any) -> Any:
        if self.type in _HEADER_TYPES and self.size > MAX_HEADER_BYTES:
            raise TarLimitExceeded(f"a header of {self.size} bytes (at most {MAX_HEADER_BYTES} are read)")
        return super()._proc_member(tarfile)

    def _proc_sparse(self, tarfile: Any) -> Any:
        """Old GNU sparse ('S'): the map continues in extension blocks."""
        structs, isextended, origsize = self._sparse_structs  # type: ignore[attr-defined]
        del self._sparse_structs  # type: ignore[attr-defined]
        while isextended:
            if len(structs) > MAX_SPARSE_SEGMENTS:
                raise TarLimitExceeded(f"a sparse map of more than {MAX_SPARSE_SEGMENTS} segments")
            buf = tarfile.fileobj.read(tarmod.BLOCKSIZE)
            for pos in range(0, 21 * 24, 24):
                try:
                    offset = tarmod.nti(buf[pos:pos + 12])
                    numbytes = tarmod.nti(buf[pos + 12:pos + 24])
                except ValueError:
                    break
                if offset and numbytes:
                    structs.append((offset, numbytes))
            isextended = bool(buf[504])
        self.sparse = structs
        self.offset_data = tarfile.fileobj.tell()
        tarfile.offset = self.offset_data + self._block(self.size)
        self.size = origsize
        return self

    def _proc_gnusparse_10(self, next: Any, pax_headers: Any, tarfile: Any) -> None:
        """PAX sparse 1.0: the map is decimal lines at the start of the data."""
        reader = _Lines(tarfile.fileobj)
        count = reader.number()
        if count > MAX_SPARSE_SEGMENTS:
            raise TarLimitExceeded(f"a sparse map of {count} segments (at most {MAX_SPARSE_SEGMENTS})")
        numbers = [reader.number() for _index in range(count * 2)]
        next.offset_data = tarfile.fileobj.tell()
        next.sparse = list(zip(numbers[::2], numbers[1::2], strict=True))


class _Lines:
    """Newline-terminated decimal numbers read block by block, each bounded."""

    def __init__(self, fileobj: Any) -> None:
        self.fileobj = fileobj
        self.buf = b""

    def number(self) -> int:
        while b"\n" not in self.buf:
            if len(self.buf) > _MAX_NUMBER_DIGITS:
                raise TarLimitExceeded("a sparse map line that is not a number")
            block = self.fileobj.read(tarmod.BLOCKSIZE)
            if not block:
                raise tarmod.ReadError("unexpected end of data in a sparse map")
            self.buf += block
        line, self.buf = self.buf.split(b"\n", 1)
        if not line.isdigit() or len(line) > _MAX_NUMBER_DIGITS:
            raise TarLimitExceeded(f"a sparse map line {line[:32]!r} that is not a number")
        return int(line)
