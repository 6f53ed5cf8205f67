"""The engine's entry point: one object per (state_root, run_root).

Modules, the CLI, tests and benchmarks all start here. Opening an engine
creates the directory skeleton (private to root; an older store is tightened)
and finishes crash recovery — dead ingests, dead snapshot unpacks, containers
whose creator died half-way, and, when a content write began since the last
sweep, a mark-and-sweep of unreferenced blobs and snapshots (image/collect.py;
the domains' steps are registered in recovery.py, the engine imports none) — so
an operation interrupted by a crash is cleaned up by the next one: re-run and
converge.

``Engine.view(state_root, run_root)`` (or ``engine.view()`` of an open
engine) is the read-only engine that planning, check mode and the ``_info``
modules work on: it creates nothing, runs no recovery and takes no write lock
(a missing root reads as empty), and its stores are views by type
(``MetadataView``, ``BlobStoreView``, ``SnapshotStoreView``, ``LayoutView``)
whose every write raises ``ReadOnlyViolation``. The domain services call
``engine.require_writable(what)`` before anything they do to the kernel
(netlink, nftables, mounts, cgroups, processes), so a view cannot reach the
host either.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .content import BlobStore, BlobStoreView
from .errors import InvalidState, ReadOnlyViolation
from .layout import DEFAULT_RUN_ROOT, DEFAULT_STATE_ROOT, LAYOUT_VERSION, Layout, LayoutView
from .metadata import MetadataStore, MetadataView
from .readonly import refuse_writes
from .snapshots import SnapshotStore, SnapshotStoreView


class _ViewOpener:
    """``Engine.view(state_root=..., run_root=...)`` opens a view of those
    roots; ``engine.view()`` one of that engine's roots."""

    def __get__(self, engine: Engine | None, owner: type) -> Callable[..., Engine]:
        if engine is None:
            return _open_view
        return functools.partial(_open_view, engine.layout.state_root, engine.layout.run_root)


def _open_view(state_root: Path | str = DEFAULT_STATE_ROOT, run_root: Path | str = DEFAULT_RUN_ROOT) -> Engine:
    view = EngineView(LayoutView(Path(state_root), Path(run_root)))
    view._check_version()   # a store of another layout version would be misread
    return view


@dataclass
class Engine:
    layout: Layout
    blobs: BlobStore = field(init=False)
    snapshots: SnapshotStore = field(init=False)
    read_only: ClassVar[bool] = False
    view: ClassVar[Any] = _ViewOpener()

    def __post_init__(self) -> None:
        self.blobs = BlobStore(self.layout)
        self.snapshots = SnapshotStore(self.layout)

    @classmethod
    def open(cls, state_root: Path | str = DEFAULT_STATE_ROOT, run_root: Path | str = DEFAULT_RUN_ROOT,
             *, create: bool = True) -> Engine:
        """Open (and by default initialise) the engine at these roots.

        ``create=False`` skips the skeleton and recovery (a missing root
        reads as empty) but gives a writable engine; callers that must not
        write (planning, check mode, info modules) take ``Engine.view``.
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

    def require_writable(self, what: str) -> None:
        """Call before a write the stores cannot see (the kernel, processes,
        files of a domain's own): a no-op here, ``ReadOnlyViolation`` on a view."""

    def recover(self, *, sweep: bool | None = None) -> dict[str, int]:
        """Remove leftovers of operations whose process died: the stores' own
        here, then the domains' steps registered in recovery.py (half-made
        containers, then the content sweep, which runs when ``gc-pending`` is
        present with ``sweep=None``, always with True, never with False, and
        never waits for a busy store)."""
        from .recovery import run_steps

        removed = {"ingest": self.blobs.cleanup_ingest(), "snapshots": self.snapshots.cleanup()}
        removed.update(run_steps(self, sweep))
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


@refuse_writes(Engine, reads=("metadata", "require_writable", "_check_version"))
class EngineView(Engine):
    """A read-only engine (see the module docstring); ``recover`` and
    ``open`` are refused like every other write."""

    read_only: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self.blobs = BlobStoreView(self.layout)
        self.snapshots = SnapshotStoreView(self.layout)

    def metadata(self, collection: str) -> MetadataStore:
        return MetadataView(self.layout, collection)

    def require_writable(self, what: str) -> None:
        raise ReadOnlyViolation(what)
