"""Small filesystem primitives with crash-safety: atomic replace and usage."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def fsync_dir(path: Path) -> None:
    """Persist a directory entry change (create/rename/unlink) in ``path``."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never
    a mix: temp file in the same directory, fsync, rename, fsync the dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_json(path: Path, document: Any, *, mode: int = 0o600) -> None:
    data = json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"
    atomic_write_bytes(path, data, mode=mode)


def read_json(path: Path) -> Any:
    with path.open("rb") as handle:
        return json.load(handle)


def remove_tree(path: Path) -> None:
    """Remove a directory tree, tolerating its absence.

    Overlay whiteouts and read-only dirs inside snapshots are removable by
    root; a tree that vanished meanwhile (another process removed it) is fine.
    """
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=_chmod_and_retry)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _chmod_and_retry(func: Any, target: str, _exc: Any) -> None:
    parent = os.path.dirname(target)
    with contextlib.suppress(OSError):
        os.chmod(parent, 0o700)
    with contextlib.suppress(FileNotFoundError):
        func(target)


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk under ``path``, counting each hardlinked inode
    once (like ``du``), without following symlinks or crossing mounts."""
    seen: set[tuple[int, int]] = set()
    total = 0
    try:
        root_dev = path.lstat().st_dev
    except FileNotFoundError:
        return 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            if st.st_dev != root_dev or (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total
