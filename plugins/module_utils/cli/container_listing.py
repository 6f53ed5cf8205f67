"""What the container verbs share (cli/container_verbs.py, cli/container_admin.py):
the listing of every record with its state, read without the typed specs
(cheap for a `ps` of hundreds), the container service on demand, a
writable layer's size, and Docker's one-after-the-other multi-container verbs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..errors import BerthError

if TYPE_CHECKING:
    from ..containers.record import ContainerRecord
    from ..containers.service import ContainerService

ACTIVE = ("running", "paused", "restarting")   # a process exists (a paused or restarting one too)


def service_of(engine: Engine) -> ContainerService:
    from ..containers.service import ContainerService

    return ContainerService(engine)


class Listed:
    """A record document as the listing verbs read it: the fields they need, without the typed spec
    (ContainerRecord.load and to_dict of 200 specs would be most of a `ps`)."""

    __slots__ = ("config", "created", "document", "id", "image", "image_id", "name", "state")

    def __init__(self, document: dict[str, Any]) -> None:
        from ..containers.record import ContainerState

        self.document = document
        self.id, self.name = document["id"], document["name"]
        self.image, self.image_id = document.get("image", ""), document.get("image_id")
        self.created, self.config = document.get("created"), document.get("config") or {}
        self.state = ContainerState.load(document.get("state") or {})

    @property
    def running(self) -> bool:
        return self.state.status == "running"

    @property
    def cgroup(self) -> str:
        return self.config.get("cgroup_path") or f"berth-{self.id}"

    @property
    def lifecycle(self) -> str:
        from .. import lifecycle as lc

        view: dict[str, Any] = {"name": self.name, "state": {"status": self.state.status,
                                                             "paused": self.state.paused}}
        if "creating" in self.document:
            view["creating"] = self.document["creating"]
        return lc.of_record(view)


def listed(engine: Engine) -> list[tuple[Listed, str]]:
    """Every container with its lifecycle state, newest first; nothing written: a record that says running
    whose process died while no monitor watched reads as exited (as ContainerService.refreshed says)."""
    from ..containers.monitor_client import MonitorClient
    from ..containers.store import ContainerStore

    alive = MonitorClient(engine.layout.state_root, engine.layout.run_root).alive()
    entries = [Listed(document) for document in ContainerStore(engine).list()]
    found = [(entry, "exited" if entry.running and not alive and not _process_lives(entry) else entry.lifecycle)
             for entry in entries]
    return sorted(found, key=lambda pair: (pair[0].created or "", pair[0].id), reverse=True)


def _process_lives(record: Listed) -> bool:
    """The same pid *and* start time: a recycled pid is another process."""
    from ..containers.monitor_client import process_alive
    from ..runtime.state import start_time

    if not process_alive(record.state.pid):
        return False
    return record.state.pid_start is None or start_time(record.state.pid) == record.state.pid_start


def upper_size(engine: Engine, record: Listed | ContainerRecord) -> int:
    """Bytes in the container's writable layer (hard links counted once)."""
    import os

    upper = engine.layout.containers / record.id / "bundle" / "upper"
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _dirs, files in os.walk(upper):
        for name in files:
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


def each_container(engine: Engine, refs: list[str],
                   action: Callable[[ContainerService, str], str | None]) -> dict[str, Any]:
    """Runs ``action`` for every reference and prints what it returns; a failure is reported and the
    others still run; exit 1 when any failed (Docker's multi-container verbs do the same)."""
    service = service_of(engine)
    failed = False
    for ref in refs:
        try:
            line = action(service, ref)
        except BerthError as err:
            sys.stderr.write(f"berth: {err.kind}: {err}\n")
            failed = True
            continue
        if line is not None:
            sys.stdout.write(f"{line}\n")
    return {"_rc": 1 if failed else 0}
