"""A container's record, typed: what it was made from (``spec``), which
options the task that made or last updated it stated (``stated``), the
runtime-facing config derived from the spec, and its state.

The store keeps records as JSON documents (``store.py``); ``ContainerRecord.load``
reads one, upgrading records written before specs existed (their ``options``
and ``config`` become a spec), so older state roots converge without a
recreate; ``to_dict`` writes the document back (``load(r.to_dict()) == r``).
Inside the engine records travel typed: ``ContainerStore.record``/``records``
read them; the raw documents are what ``inspect`` and ``container_info`` show.
Standard library only: the monitor imports this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import lifecycle as lc
from .spec import RESOURCE_NAMES, ContainerSpec


@dataclass(frozen=True)
class ContainerState:
    """What the record says of the container's process now (``state`` in the
    document; the monitor writes it, ``service.refresh`` corrects it)."""

    status: str = "created"
    paused: bool = False
    pid: int = 0
    pid_start: int | None = None      # the init's start time: a recycled pid is another process
    exit_code: int | None = None
    restart_count: int = 0
    stopped_by_user: bool = False
    oom_killed: bool = False
    started_at: str | None = None
    finished_at: str | None = None
    health: dict[str, Any] | None = None
    error: str | None = None
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)   # attachments while it runs
    ports: tuple[dict[str, Any], ...] = ()                             # published while it runs

    @classmethod
    def load(cls, data: dict[str, Any]) -> ContainerState:
        return cls(status=data.get("status", "created"), paused=bool(data.get("paused")), pid=data.get("pid") or 0,
                   pid_start=data.get("pid_start"), exit_code=data.get("exit_code"),
                   restart_count=data.get("restart_count") or 0, stopped_by_user=bool(data.get("stopped_by_user")),
                   oom_killed=bool(data.get("oom_killed")), started_at=data.get("started_at"),
                   finished_at=data.get("finished_at"), health=data.get("health"), error=data.get("error"),
                   networks=dict(data.get("networks") or {}), ports=tuple(data.get("ports") or ()))

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "paused": self.paused, "pid": self.pid, "pid_start": self.pid_start,
                "exit_code": self.exit_code, "restart_count": self.restart_count,
                "stopped_by_user": self.stopped_by_user, "oom_killed": self.oom_killed,
                "started_at": self.started_at, "finished_at": self.finished_at, "health": self.health,
                "error": self.error, "networks": dict(self.networks), "ports": list(self.ports)}


@dataclass(frozen=True)
class ContainerRecord:
    id: str
    name: str
    image: str
    image_id: str | None
    spec: ContainerSpec
    stated: tuple[str, ...]
    state: ContainerState
    config: dict[str, Any] = field(default_factory=dict)   # the runtime-facing config the bundle was made from
    creating: dict[str, Any] | None = None                 # the creating process, until the bundle is complete
    created: str | None = None

    @classmethod
    def load(cls, data: dict[str, Any]) -> ContainerRecord:
        spec = ContainerSpec.from_dict(data["spec"]) if "spec" in data else legacy_spec(data)
        stated = tuple(data.get("stated") or data.get("options") or ())
        return cls(id=data["id"], name=data["name"], image=data.get("image", spec.image),
                   image_id=data.get("image_id"), spec=spec, stated=stated,
                   state=ContainerState.load(data.get("state") or {}), config=data.get("config") or {},
                   creating=data.get("creating"), created=data.get("created"))

    def to_dict(self) -> dict[str, Any]:
        """The document ``load`` reads back as this record (a legacy one is
        written in today's form: ``spec`` and ``stated``)."""
        document: dict[str, Any] = {"id": self.id, "name": self.name, "image": self.image, "image_id": self.image_id,
                                    "config": self.config, "spec": self.spec.to_dict(), "stated": list(self.stated),
                                    "state": self.state.to_dict()}
        if self.created is not None:
            document["created"] = self.created
        if self.creating is not None:
            document["creating"] = self.creating
        return document

    @property
    def lifecycle(self) -> str:
        """The engine state (lifecycle.of_record): creating, created, running,
        paused, restarting or exited; InvalidState for an unknown status."""
        view: dict[str, Any] = {"name": self.name, "state": {"status": self.state.status, "paused": self.state.paused}}
        if self.creating is not None:
            view["creating"] = self.creating
        return lc.of_record(view)

    @property
    def cgroup(self) -> str:
        """The container's cgroup (records made before cgroup_parent name none: the default)."""
        from .limits import cgroup_path

        return self.config.get("cgroup_path") or cgroup_path(self.id)

    @property
    def running(self) -> bool:
        """The record says a process runs (a paused one's too)."""
        return self.state.status == lc.RUNNING


def legacy_spec(data: dict[str, Any]) -> ContainerSpec:
    """The spec of a record written before specs: its bundle config holds
    what the container was made with, and ``options`` the values its task
    stated (normalised by the same rows, so they compare as before)."""
    spec = _spec_from_config(data)
    from ..errors import BerthError
    from .options import BY_NAME, build_spec

    options = {k: v for k, v in (data.get("options") or {}).items() if k in BY_NAME}
    if not options:
        return spec

    try:
        stated = build_spec(spec.image, options)
    except BerthError:
        return spec
    return spec.with_changes(**{name: stated.value(name) for name in options if name not in RESOURCE_NAMES},
                             resources={**spec.resources, **stated.resources})


def _spec_from_config(data: dict[str, Any]) -> ContainerSpec:
    config = data.get("config") or {}
    policy, _sep, retries = str(config.get("restart_policy") or "no").partition(":")
    network = {"network_mode": config.get("network_mode")} if config.get("network_mode") not in (None, "bridge") \
        else {}
    return ContainerSpec.from_dict({
        "image": data.get("image", ""), "command": config.get("command"), "entrypoint": config.get("entrypoint"),
        "env": config.get("env") or {}, "user": config.get("user"), "working_dir": config.get("working_dir"),
        "hostname": config.get("hostname"), "read_only": bool(config.get("read_only")),
        "capabilities": config.get("cap_add") or (), "cap_drop": config.get("cap_drop") or (),
        "labels": config.get("labels") or {}, "restart_policy": policy,
        "restart_retries": int(retries) if retries.isdigit() else None, "stop_signal": config.get("stop_signal"),
        "stop_timeout": config.get("stop_timeout"), "auto_remove": bool(config.get("auto_remove")),
        "log_options": {"max_size": config.get("log_max_size") or 0, "max_file": config.get("log_max_file") or 1},
        "healthcheck": config.get("healthcheck"), "oom_score_adj": config.get("oom_score_adj"),
        "tmpfs": config.get("tmpfs") or (), "ulimits": config.get("ulimits") or (),
        "sysctls": config.get("sysctls") or {}, "devices": config.get("devices") or (),
        "privileged": bool(config.get("privileged")), "resources": config.get("resources") or {},
        "cgroup_parent": config.get("cgroup_parent"),
        "networks": [{"name": n["name"], **({"aliases": sorted(n["aliases"])} if n.get("aliases") else {}),
                      **({"ipv4_address": n["ipv4_address"]} if n.get("ipv4_address") else {})}
                     for n in config.get("networks") or []],
        "publish_all_ports": bool(config.get("publish_all_ports")), **network})
