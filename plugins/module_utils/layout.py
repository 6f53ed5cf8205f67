"""Where everything lives under the engine's two roots.

``state_root`` (default /var/lib/berth) is persistent; ``run_root`` (default
/run/berth) is for what must not survive a reboot (pids, sockets, runtime
state). Every engine entry point takes both, so tests use isolated roots.
The on-disk layout is documented in docs/ARCHITECTURE.md; this class is its
single source in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInput
from .locking import LOCK_ORDER, FileLock

DEFAULT_STATE_ROOT = Path("/var/lib/berth")
DEFAULT_RUN_ROOT = Path("/run/berth")
LAYOUT_VERSION = 1


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

    def lock(self, collection: str) -> FileLock:
        if collection not in LOCK_ORDER:
            raise ValueError(f"unknown lock collection {collection!r}")
        return FileLock(self.locks / f"{collection}.lock")

    def ensure(self) -> None:
        """Create the directory skeleton (idempotent)."""
        for path in (self.blobs, self.ingest, self.snapshots, self.metadata, self.locks, self.tmp):
            path.mkdir(parents=True, exist_ok=True)
        self.state_root.chmod(0o711)
        self.run_root.mkdir(parents=True, exist_ok=True)
        self.run_root.chmod(0o700)
        if not self.version_file.exists():
            self.version_file.write_text(f"{LAYOUT_VERSION}\n")

    def exists(self) -> bool:
        return self.version_file.exists()
