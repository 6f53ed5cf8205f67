"""What a project has on the engine now, found by its labels (never by
names): its containers by service and replica number, its networks and
volumes, and the facts `berth compose ps` and the module report.

Only reads: on a view (check mode) a container whose process died unwatched
is corrected in memory, and a half-made one whose creator died reads as
absent (the next writable engine's recovery removes it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..containers.record import ContainerRecord
from ..containers.service import ContainerService
from ..containers.store import creator_alive
from ..engine import Engine
from ..errors import Conflict, InvalidInput
from . import names
from .model import Project


@dataclass
class Actual:
    containers: dict[str, list[ContainerRecord]] = field(default_factory=dict)   # service -> by number
    all: list[ContainerRecord] = field(default_factory=list)

    def of(self, service: str) -> list[ContainerRecord]:
        return self.containers.get(service, [])


def project_records(engine: Engine, project_name: str, *, in_flight: str = "refuse") -> list[ContainerRecord]:
    """The project's containers by label. One another live operation is still creating is refused by a
    plan (``in_flight="refuse"``) and left out of a listing (``"skip"``: ps and logs run beside an up, as
    `docker compose ps` does)."""
    service = ContainerService(engine)
    found = []
    for record in service.store.records():
        labels = record.spec.labels or {}
        if labels.get(names.PROJECT) != project_name or labels.get(names.ONEOFF, "False") == "True":
            continue
        if record.creating is not None:
            if not creator_alive(record.creating) or in_flight == "skip":
                continue   # half-made by a process that died (recovery removes it), or not made yet
            raise Conflict(f"container {record.name} is being created by another berth operation", field="name",
                           hint="wait for that operation to finish, then re-run")
        found.append(service.refreshed(record))
    return sorted(found, key=lambda r: (r.spec.labels.get(names.SERVICE, ""), names.number_of(r.spec.labels), r.name))


def read_actual(engine: Engine, project_name: str) -> Actual:
    actual = Actual(all=project_records(engine, project_name))
    for record in actual.all:
        actual.containers.setdefault(record.spec.labels.get(names.SERVICE, ""), []).append(record)
    return actual


def status(record: ContainerRecord) -> str:
    return "paused" if record.state.paused else record.state.status


def completed(record: ContainerRecord) -> bool:
    """A one-shot that ran to success and that nobody stopped: a converge leaves it be."""
    return record.state.status == "exited" and record.state.exit_code == 0 and not record.state.stopped_by_user


def container_facts(record: ContainerRecord) -> dict[str, Any]:
    """One container as the module's ``containers`` and `berth compose ps` show it."""
    labels = dict(record.spec.labels or {})
    health = (record.state.health or {}).get("status") or ""
    return {"ID": record.id, "Name": record.name, "Names": [record.name], "Project": labels.get(names.PROJECT),
            "Service": labels.get(names.SERVICE), "Number": names.number_of(labels), "State": status(record),
            "Health": health, "ExitCode": record.state.exit_code or 0, "Image": record.image,
            "Labels": labels, "Publishers": publishers(record), "Status": _status_line(record, health)}


def publishers(record: ContainerRecord) -> list[dict[str, Any]]:
    return [{"URL": p.get("host_ip") or "0.0.0.0", "TargetPort": p.get("container_port"),
             "PublishedPort": p.get("host_port") or 0, "Protocol": p.get("proto") or "tcp"}
            for p in record.state.ports]


def _status_line(record: ContainerRecord, health: str) -> str:
    state = status(record)
    if state == "exited":
        return f"Exited ({record.state.exit_code or 0})"
    if state == "running":
        return f"Up ({health})" if health else "Up"
    return state.capitalize()


def network_facts(engine: Engine, project_name: str) -> list[dict[str, Any]]:
    from ..network.store import NetworkStore

    return [{"Name": r["name"], "ID": r["id"], "Labels": r.get("labels") or {}, "Driver": r.get("driver", "bridge"),
             "Subnet": r.get("subnet")}
            for r in NetworkStore(engine).list() if (r.get("labels") or {}).get(names.PROJECT) == project_name]


def volume_facts(engine: Engine, project_name: str) -> list[dict[str, Any]]:
    from ..volumes.service import VolumeService

    return [{"Name": r["name"], "Labels": r.get("labels") or {}, "Driver": r.get("driver", "local"),
             "Mountpoint": r.get("mountpoint")}
            for r in VolumeService(engine).list() if (r.get("labels") or {}).get(names.PROJECT) == project_name]


def image_facts(records: list[ContainerRecord]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.image_id and record.image_id not in seen:
            seen[record.image_id] = {"ID": record.image_id, "Repository": record.image,
                                     "ContainerName": record.name}
    return list(seen.values())


def project_facts(engine: Engine, project_name: str) -> dict[str, Any]:
    """What `berth compose ps` shows: the project's containers (by label),
    networks, volumes and images."""
    records = project_records(engine, project_name, in_flight="skip")
    return {"containers": [container_facts(r) for r in records], "networks": network_facts(engine, project_name),
            "volumes": volume_facts(engine, project_name), "images": image_facts(records)}


# -- a project known only by its name (no compose file) ------------------------------------------------------
@dataclass
class LabelledProject(Project):
    """What the engine knows of a project from its objects' labels, as Docker Compose finds a project given
    only ``-p``: its services (their order from the depends_on label), its networks; enough for ps, logs,
    start, stop, restart and down, never for up or config (``from_labels`` tells the planner)."""

    from_labels: bool = True


def project_from_labels(engine: Engine, name: str) -> LabelledProject:
    if not names.PROJECT_NAME.fullmatch(name):
        raise InvalidInput(f"{name!r} is not a valid project name", field="project_name",
                           hint="use lowercase letters, digits, dashes and underscores, starting with a letter or "
                                "digit")
    records = project_records(engine, name, in_flight="skip")
    services: dict[str, dict[str, Any]] = {}
    for record in records:
        labels = record.spec.labels
        service = labels.get(names.SERVICE, "")
        # an image named as Compose tags a build is a local one (down --rmi local removes it)
        built = record.image == f"{name}-{service}"
        services.setdefault(service, {**({} if built else {"image": record.image}),
                                      "depends_on": _depends_on(labels.get(names.DEPENDS_ON, ""))})
    for config in services.values():   # a dependency whose containers are gone orders nothing
        config["depends_on"] = {k: v for k, v in config["depends_on"].items() if k in services}
    first = records[0].spec.labels if records else {}
    networks = {(n["Labels"].get(names.NETWORK) or n["Name"]): {"name": n["Name"]}
                for n in network_facts(engine, name)}
    return LabelledProject(name=name, working_dir=first.get(names.WORKING_DIR) or os.getcwd(),
                           config_files=[f for f in first.get(names.CONFIG_FILES, "").split(",") if f],
                           services=services, networks=networks)


def _depends_on(label: str) -> dict[str, dict[str, Any]]:
    found = {}
    for item in filter(None, label.split(",")):
        service, _sep, rest = item.partition(":")
        condition, _sep, restart = rest.partition(":")
        found[service] = {"condition": condition or "service_started", "restart": restart == "true",
                          "required": True}
    return found
