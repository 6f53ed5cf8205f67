"""The containers of a state root as a lister sees them: the inventory plugin
(plugins/inventory/berth_containers.py) and anything else that only reads.

It works on ``Engine.view``: no skeleton made, no recovery run, no lock taken
and nothing written, so an inventory can be read while plays converge the same
engine. Imports stay light (the store, the typed record, the monitor's pid
file): an inventory pays for what it reads, not for the container service
(~140 ms of imports).

A record that says "running" whose process died while no monitor watched is
listed as exited, as ``ContainerService.refreshed`` reports it on a view; a
half-made container (its create still in progress, or its creator dead and
recovery not yet run) is not listed: it is no host yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import lifecycle as lc
from ..engine import Engine
from ..layout import DEFAULT_RUN_ROOT, DEFAULT_STATE_ROOT
from .monitor_client import MonitorClient, process_alive
from .record import ContainerRecord
from .store import ContainerStore

COMPOSE_PROJECT = "com.docker.compose.project"   # compose/names.py's labels (a higher layer: not imported)
COMPOSE_SERVICE = "com.docker.compose.service"


@dataclass(frozen=True)
class ListedContainer:
    """One container, in the terms an inventory shows."""

    id: str
    name: str
    image: str
    image_id: str | None
    state: str                                   # lifecycle: created, running, paused, restarting, exited
    labels: dict[str, str] = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=dict)   # network name -> IPv4 address, while it runs
    ports: tuple[dict[str, Any], ...] = ()       # published ports, while it runs
    document: dict[str, Any] = field(default_factory=dict)   # the record document, as inspect shows it

    @property
    def running(self) -> bool:
        """A process runs (a paused one's too, as Docker's State.Running says)."""
        return self.state in (lc.RUNNING, lc.PAUSED)

    @property
    def compose_project(self) -> str | None:
        return self.labels.get(COMPOSE_PROJECT)

    @property
    def compose_service(self) -> str | None:
        return self.labels.get(COMPOSE_SERVICE)


def list_containers(state_root: Path | str = DEFAULT_STATE_ROOT, run_root: Path | str = DEFAULT_RUN_ROOT, *,
                    include_stopped: bool = False) -> list[ListedContainer]:
    """The containers of this engine, by name; only the running ones (``docker ps``) unless ``include_stopped``."""
    view = Engine.view(state_root, run_root)
    monitor_alive = MonitorClient(state_root, run_root).alive()
    listed = []
    for document in ContainerStore(view).list():
        if "creating" in document:
            continue
        entry = listed_container(document, monitor_alive=monitor_alive)
        if include_stopped or entry.running or entry.state == lc.RESTARTING:
            listed.append(entry)
    return sorted(listed, key=lambda entry: entry.name)


def listed_container(document: dict[str, Any], *, monitor_alive: bool) -> ListedContainer:
    """A record document as listed: its state corrected when its process died unwatched."""
    record = ContainerRecord.load(document)   # typed: a legacy record's labels come from its config
    state = record.lifecycle
    died = record.running and not monitor_alive and not _process_lives(record)
    if died:
        state = lc.EXITED
    return ListedContainer(
        id=record.id, name=record.name, image=record.image, image_id=record.image_id, state=state,
        labels={str(k): str(v) for k, v in (record.spec.labels or {}).items()},
        networks={} if died else _addresses(record.state.networks),
        ports=() if died else tuple(dict(port) for port in record.state.ports),
        document=document)


def _addresses(networks: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: str(attached.get("ip") or "") for name, attached in networks.items()}


def _process_lives(record: ContainerRecord) -> bool:
    """The container's init is alive: the same pid *and* start time (a recycled pid is another process)."""
    from ..runtime.state import start_time

    if not process_alive(record.state.pid):
        return False
    return record.state.pid_start is None or start_time(record.state.pid) == record.state.pid_start
