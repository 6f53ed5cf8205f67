"""Where everything lives under the engine's two roots.

``state_root`` (default /var/lib/berth) is persistent; ``run_root`` (default
/run/berth) is for what must not survive a reboot (pids, sockets, runtime
state). Every engine entry point takes both, so tests use isolated roots.
The on-disk layout is documented in docs/ARCHITECTURE.md; this class is its
single source in code.

Both roots are private to root (CVE-2021-41091 class: an unprivileged user
must not read records and bundles, nor reach a container's writable layer to
run a setuid file from it). Directories berth makes here are 0700 and its
files 0600, created that way (explicit modes, not a process-wide umask: the
monitor and runtime inherit the umask, and containers must keep Docker's
0022). ``ensure`` also tightens a store made by an earlier berth — only the
skeleton and berth's own records, never inside snapshot trees or volume
data, whose modes belong to the image and the container.

``LayoutView`` is the layout of a read-only engine view (``Engine.view``):
the same paths, shared-only locks that never create a file, and every method
that writes (``ensure``, ``tighten``, ``mark_gc_pending``) refused.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInput
from .locking import LOCK_ORDER, FileLock, ReadOnlyFileLock
from .readonly import refuse_writes

DEFAULT_STATE_ROOT = Path("/var/lib/berth")
DEFAULT_RUN_ROOT = Path("/run/berth")
LAYOUT_VERSION = 1
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class Layout:
    state_root: Path = DEFAULT_STATE_ROOT
    run_root: Path = DEFAULT_RUN_ROOT

    def __post_init__(self) -> None:
        for name in ("state_root", "run_root"):
            value = Path(getattr(self, name))
            if not value.is_absolute():
                raise InvalidInput(f"{value} is not an absolute path", field=name,
                                   hint="give an absolute directory such as /var/lib/berth")
            object.__setattr__(self, name, value)

    # persistent state
    @property
    def version_file(self) -> Path:
        return self.state_root / "layout-version"

    @property
    def content(self) -> Path:
        return self.state_root / "content"

    @property
    def blobs(self) -> Path:
        return self.content / "blobs" / "sha256"

    @property
    def ingest(self) -> Path:
        return self.content / "ingest"

    @property
    def snapshots(self) -> Path:
        return self.state_root / "snapshots"

    @property
    def metadata(self) -> Path:
        return self.state_root / "metadata"

    @property
    def locks(self) -> Path:
        return self.state_root / "locks"

    @property
    def tmp(self) -> Path:
        return self.state_root / "tmp"

    @property
    def containers(self) -> Path:
        return self.state_root / "containers"

    @property
    def volumes(self) -> Path:
        return self.state_root / "volumes"

    @property
    def creating(self) -> Path:
        """Markers of containers being created (containers/store.py); made on first use."""
        return self.state_root / "creating"

    @property
    def gc_pending(self) -> Path:
        """Present while unreferenced content may exist (a content write began
        since the last full sweep): ``Engine.recover`` sweeps only then."""
        return self.content / "gc-pending"

    def mark_gc_pending(self) -> None:
        if not self.gc_pending.exists():
            with contextlib.suppress(FileNotFoundError):
                os.close(os.open(self.gc_pending, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE))

    def lock(self, collection: str) -> FileLock:
        if collection not in LOCK_ORDER:
            raise ValueError(f"unknown lock collection {collection!r}")
        return FileLock(self.locks / f"{collection}.lock")

    def task_lock(self, kind: str, name: str) -> FileLock:
        """The lock one converging task holds while it plans and applies
        (``container-web``): outermost, taken before any collection lock,
        so two tasks converging the same object run one after the other."""
        return FileLock(self.locks / f"task-{kind}-{name}.lock")

    def ensure(self) -> None:
        """Create the directory skeleton, private (idempotent); tighten an
        older store's modes once (the version file records that it is done)."""
        new = not self.version_file.exists()
        for root in (self.state_root, self.run_root):
            root.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            _private(root.resolve(), PRIVATE_DIR)   # a root may be a symlink to the real store
        for path in self._skeleton():
            path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        if new:
            atomic_version = self.version_file.with_name(".layout-version.tmp")
            fd = os.open(atomic_version, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE)
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{LAYOUT_VERSION}\n")
            os.replace(atomic_version, self.version_file)
        elif stat.S_IMODE(self.version_file.stat().st_mode) != PRIVATE_FILE:
            self.tighten()   # a store made before the store was private

    def _skeleton(self) -> tuple[Path, ...]:
        snapshots = self.snapshots
        return (self.content, self.content / "blobs", self.blobs, self.ingest, snapshots, snapshots / "sha256",
                snapshots / "active", snapshots / "trash", self.metadata, self.locks, self.tmp, self.containers,
                self.volumes)

    def tighten(self) -> int:
        """Make an existing store private: the skeleton dirs, every metadata
        collection and record, the lock files, blobs, each container's dir,
        bundle dir and config.json. Cheap — nothing inside snapshot ``fs``
        trees, a bundle's ``rootfs``/``upper``/``work`` or a volume's
        ``_data`` is touched. Returns how many modes it changed; the version
        file is made 0600 last, marking the migration done."""
        changed = 0
        for path in (self.state_root.resolve(), self.run_root.resolve(), *self._skeleton(), self.creating):
            changed += _private(path, PRIVATE_DIR)
        changed += _private_children(self.metadata, PRIVATE_DIR, files=PRIVATE_FILE, depth=2)
        changed += _private_children(self.locks, PRIVATE_DIR, files=PRIVATE_FILE, depth=1)
        changed += _private_children(self.blobs, PRIVATE_DIR, files=PRIVATE_FILE, depth=1)
        changed += _private_children(self.volumes, PRIVATE_DIR, files=PRIVATE_FILE, depth=1)
        for entry in _entries(self.containers):
            changed += _private(entry, PRIVATE_DIR)
            for inner in ("bundle", "logs"):
                changed += _private(entry / inner, PRIVATE_DIR)
            changed += _private(entry / "bundle" / "config.json", PRIVATE_FILE)
            changed += _private_children(entry / "logs", PRIVATE_DIR, files=PRIVATE_FILE, depth=1)
        changed += _private(self.version_file, PRIVATE_FILE)
        return changed

    def exists(self) -> bool:
        return self.version_file.exists()


@refuse_writes(Layout, reads=("exists",))
class LayoutView(Layout):
    """The paths of a read-only view; its locks are shared-only and create nothing."""

    def lock(self, collection: str) -> FileLock:
        if collection not in LOCK_ORDER:
            raise ValueError(f"unknown lock collection {collection!r}")
        return ReadOnlyFileLock(self.locks / f"{collection}.lock")


def _entries(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _private(path: Path, mode: int) -> int:
    """chmod ``path`` to ``mode`` unless it is a symlink or already so; 1 if changed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == mode:
        return 0
    os.chmod(path, mode)   # not a symlink (lstat above); only root can swap entries here
    return 1


def _private_children(path: Path, dirs: int, *, files: int, depth: int) -> int:
    """Tighten regular files and dirs below ``path``, ``depth`` levels down."""
    changed = 0
    for entry in _entries(path):
        st = os.lstat(entry)
        if stat.S_ISDIR(st.st_mode):
            changed += _private(entry, dirs)
            if depth > 1:
                changed += _private_children(entry, dirs, files=files, depth=depth - 1)
        elif stat.S_ISREG(st.st_mode):
            changed += _private(entry, files)
    return changed
