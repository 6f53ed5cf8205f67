"""Write the ELF kernel inside a Debian bzImage (its xz payload) to a file.

qemu boots that ELF through its PVH entry point, which skips the real-mode
set-up and the in-guest decompression (seconds on a software CPU).

    python3 vmlinux.py BZIMAGE OUT
"""

from __future__ import annotations

import lzma
import sys
from pathlib import Path

XZ_MAGIC = b"\xfd7zXZ\x00"
ELF_MAGIC = b"\x7fELF"


def extract(bzimage: bytes) -> bytes:
    start = bzimage.find(XZ_MAGIC)
    if start < 0:
        raise SystemExit("no xz-compressed payload in the bzImage (another compression?)")
    elf = lzma.LZMADecompressor().decompress(bzimage[start:])   # stops at the stream's end
    if not elf.startswith(ELF_MAGIC):
        raise SystemExit("the bzImage's payload is not an ELF kernel")
    return elf


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: vmlinux.py BZIMAGE OUT")
    Path(argv[1]).write_bytes(extract(Path(argv[0]).read_bytes()))


if __name__ == "__main__":
    main(sys.argv[1:])
