"""The engine's entry point: one object per (state_root, run_root).

Modules, the CLI, tests and benchmarks all start here. Opening an engine
creates the directory skeleton (private to root; an older store is tightened)
and finishes crash recovery — dead ingests, dead snapshot unpacks, containers
whose creator died half-way, and, when a content write began since the last
sweep, a mark-and-sweep of unreferenced blobs and snapshots (collect.py) — so
an operation interrupted by a crash is cleaned up by the next one: re-run and
converge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .content import BlobStore
from .errors import InvalidState
from .layout import DEFAULT_RUN_ROOT, DEFAULT_STATE_ROOT, LAYOUT_VERSION, Layout
from .metadata import MetadataStore
from .snapshots import SnapshotStore


@dataclass
class Engine:
    layout: Layout
    blobs: BlobStore = field(init=False)
    snapshots: SnapshotStore = field(init=False)

    def __post_init__(self) -> None:
        self.blobs = BlobStore(self.layout)
        self.snapshots = SnapshotStore(self.layout)

    @classmethod
    def open(cls, state_root: Path | str = DEFAULT_STATE_ROOT, run_root: Path | str = DEFAULT_RUN_ROOT,
             *, create: bool = True) -> Engine:
        """Open (and by default initialise) the engine at these roots.

        ``create=False`` is for read-only callers such as check mode and info
        modules: nothing is written, and a missing root reads as empty.
        """
        layout = Layout(Path(state_root), Path(run_root))
        engine = cls(layout)
        if create:
            engine._check_version()
            layout.ensure()
            engine.recover()
        return engine

    def metadata(self, collection: str) -> MetadataStore:
        return MetadataStore(self.layout, collection)

    def recover(self, *, sweep: bool | None = None) -> dict[str, int]:
        """Remove leftovers of operations whose process died. The sweep runs
        when ``gc-pending`` is present (``sweep=None``), always (True) or
        never (False); it never waits for a busy store."""
        from .collect import sweep as collect
        from .containers.store import ContainerStore

        removed = {"ingest": self.blobs.cleanup_ingest(), "snapshots": self.snapshots.cleanup(),
                   "containers": len(ContainerStore(self).remove_half_made())}
        if sweep or (sweep is None and self.layout.gc_pending.exists()):
            swept = collect(self).counts()
            removed["unreferenced_snapshots"] = swept["snapshots"]
            removed["unreferenced_blobs"] = swept["blobs"]
        return removed

    def _check_version(self) -> None:
        path = self.layout.version_file
        if not path.exists():
            return
        found = path.read_text().strip()
        if found != str(LAYOUT_VERSION):
            raise InvalidState(f"state root {self.layout.state_root} has layout version {found}, "
                               f"this berth understands {LAYOUT_VERSION}", field="state_root",
                               hint="use a berth version matching the state root, or a new state_root")
