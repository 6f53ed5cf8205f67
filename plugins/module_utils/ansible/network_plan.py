"""Plan one ``network`` task (plans as data: plan.py).

``plan_network`` only reads — network records, the host's routes, whether a
bridge exists, which containers list the network — and returns the steps,
in order: disconnect the containers a forced removal or recreation cuts off;
remove, create or recreate the network, or rewrite its labels in place;
restore a bridge missing on the host; reconnect the containers cut off (same
aliases and static addresses); then connect and disconnect containers for
``connected``. A creation's step carries the whole record (the subnet that
would be picked, the gateway, the bridge name), so check mode and ``--diff``
show exactly what an apply makes.

Like community.docker's ``docker_network``, a change of addressing
(``ipam_config``), ``internal`` or ``mtu`` recreates the network (a new id,
a new bridge); labels change in place. Unlike it, a network with containers
attached is only removed or recreated with ``force: true``.

Steps execute against a ``NetworkExecutor``: the service (and its kernel)
plus the container side, which connects and disconnects containers in
place (``ContainerService.set_networks``: running ones are re-wired live).
The network package never imports the container package: the surface that
runs the task hands the container side in. Each step that writes the
``networks`` collection takes its lock and re-checks there what the plan
assumed (no container joined a network being removed, the name and a picked
subnet still free), failing with a Conflict instead of doing something the
plan did not say; the container steps take the container side's own locks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Any, Protocol

from ..containers.monitor_client import MonitorClient, reload_resolvers
from ..containers.store import ContainerStore
from ..engine import Engine
from ..errors import Conflict, NotFound
from ..metadata import Transaction
from ..network.overlay_kernel import pending_changes, realize_overlay, recreate_differences
from ..network.service import RECREATE_FIELDS, Desired, Kernel, NetworkService, view
from ..network.store import container_networks, is_record, validate_name
from ..plan import Plan, Step

if TYPE_CHECKING:
    from .network_models import NetworkRequest


class ContainerSide(Protocol):
    """What the plan's container steps need from the container package."""

    def set_networks(self, ref: str, networks: list[dict[str, Any]]) -> Any: ...


@dataclass
class NetworkExecutor:
    """The context the steps execute against; ``containers`` None means no
    container can be connected or disconnected (a step that must fails)."""

    service: NetworkService
    containers: ContainerSide | None = None

    @property
    def engine(self) -> Engine:
        return self.service.engine

    def set_networks(self, container: str, change: Any) -> None:
        """Give the container (name or id) ``change(its current entries)``."""
        if self.containers is None:
            raise Conflict(f"container {container} would have to be connected or disconnected, which is not "
                           "available here", field="force", hint="remove the containers first")
        record = self.service.store.container(container)
        if record is None:
            raise NotFound(f"container {container!r} does not exist", field="connected",
                           hint="create the container first, or take it out of connected")
        self.containers.set_networks(record["id"], change(container_networks(record)))


@dataclass
class NetworkPlan(Plan):
    """A network task's plan. ``restate``: the record with the options as
    stated now, rewritten after the steps when only that bookkeeping differs
    (say a picked subnet is now stated: static addresses need a stated
    subnet) — not a change to the network, so not a step."""

    network: dict[str, Any] | None = None
    creates: bool = False
    restate: dict[str, Any] | None = field(default=None, repr=False)
    overlay: bool = False   # an overlay network is made, changed or removed: the monitor's resolvers follow

    def execute(self, context: Any) -> list[Any]:
        done = super().execute(context)
        if self.restate is not None:
            _put_record(context, self.restate)
        if self.overlay and self.steps:
            self.warnings += reload_resolvers(context.engine)   # names served now, not at the next re-read
        return done


# -- steps ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DisconnectCutOff(Step):
    """A container attached to a network a forced removal or recreation cuts off."""

    container: str
    network: str

    def describe(self) -> str:
        return f"disconnected container {self.container}"

    def execute(self, context: NetworkExecutor) -> None:
        context.set_networks(self.container, lambda entries: [e for e in entries if e.get("name") != self.network])


@dataclass(frozen=True)
class RemoveNetwork(Step):
    record: dict[str, Any]

    def describe(self) -> str:
        return f"removed network {self.record['name']}"

    def execute(self, context: NetworkExecutor) -> None:
        with context.service.store.meta.transaction() as txn:
            _refuse_joined(context.service, self.record["name"], "removed")
            context.service.remove_in(txn, self.record)


@dataclass(frozen=True)
class CreateNetwork(Step):
    record: dict[str, Any]

    def describe(self) -> str:
        overlay = self.record.get("overlay")
        if overlay:
            return (f"created overlay network {self.record['name']} (bridge {self.record['bridge']}, slice "
                    f"{overlay['host_subnet']} of {overlay['subnet']}, gateway {self.record['gateway']}, VXLAN "
                    f"{overlay['device']} vni {overlay['vni']} port {overlay['port']}, "
                    f"{len(overlay['peers']) - 1} peer(s))")
        return (f"created network {self.record['name']} (bridge {self.record['bridge']}, subnet "
                f"{self.record['subnet']}, gateway {self.record['gateway']})")

    def execute(self, context: NetworkExecutor) -> None:
        with context.service.store.meta.transaction() as txn:
            _refuse_taken_subnet(txn, self.record)
            context.service.create_in(txn, self.record)


@dataclass(frozen=True)
class RecreateNetwork(Step):
    current: dict[str, Any]
    record: dict[str, Any]
    changed: tuple[str, ...]

    def describe(self) -> str:
        return f"recreated network {self.record['name']} ({', '.join(self.changed)} changed)"

    def execute(self, context: NetworkExecutor) -> None:
        with context.service.store.meta.transaction() as txn:
            _refuse_joined(context.service, self.record["name"], "recreated")
            context.service.remove_in(txn, self.current)
            _refuse_taken_subnet(txn, self.record)
            context.service.create_in(txn, self.record)


@dataclass(frozen=True)
class UpdateLabels(Step):
    record: dict[str, Any]

    def describe(self) -> str:
        return f"updated labels of network {self.record['name']}"

    def execute(self, context: NetworkExecutor) -> None:
        _put_record(context, self.record)


@dataclass(frozen=True)
class RestoreBridge(Step):
    record: dict[str, Any]

    def describe(self) -> str:
        return f"restored bridge {self.record['bridge']} (missing on the host)"

    def execute(self, context: NetworkExecutor) -> None:
        context.service.realize(self.record)


@dataclass(frozen=True)
class ConvergePeers(Step):
    """An overlay network's peers changed (or the kernel lost entries): the
    record's ``overlay`` and labels rewritten, the per-peer routes, neighbours,
    FDB entries and firewall elements converged; the bridge, the VXLAN device
    and the containers are left alone."""

    record: dict[str, Any]
    changes: tuple[str, ...]

    def describe(self) -> str:
        return f"converged peers of network {self.record['name']} ({'; '.join(self.changes) or 'records only'})"

    def execute(self, context: NetworkExecutor) -> None:
        service = context.service
        service.engine.require_writable(f"converge the peers of network {self.record['name']}")
        with service.store.meta.transaction() as txn:
            current = txn.get(self.record["id"])
            txn.put(self.record["id"], {**current, "labels": self.record["labels"],
                                        "options": self.record["options"], "overlay": self.record["overlay"]})
        realize_overlay(service.kernel, self.record, service.overlays(self.record["id"]))


@dataclass(frozen=True)
class ServeNames(Step):
    """Containers of this host run on the overlay network but no monitor
    does (it was killed): one is started. It adopts the running containers
    and serves the network's names to the other hosts again (and the
    containers' restart policies and healthchecks)."""

    network: str

    def describe(self) -> str:
        return f"started the container monitor to serve the names of network {self.network} (its containers " \
               "ran unwatched)"

    def execute(self, context: NetworkExecutor) -> None:
        layout = context.engine.layout
        context.engine.require_writable(f"serve the names of network {self.network}")
        MonitorClient(layout.state_root, layout.run_root).spawn()


def _unwatched(engine: Engine, network: str) -> bool:
    """Whether containers of this host run on ``network`` with no monitor to serve their names."""
    layout = engine.layout
    if MonitorClient(layout.state_root, layout.run_root).alive():
        return False
    return any(r.running and network in r.state.networks for r in ContainerStore(engine).records())


@dataclass(frozen=True)
class ReconnectCutOff(Step):
    """After a recreation: a container cut off is attached again, with the same entry."""

    container: str
    entry: dict[str, Any]

    def describe(self) -> str:
        return f"reconnected {self.container}"

    def execute(self, context: NetworkExecutor) -> None:
        context.set_networks(self.container, lambda entries: [*entries, self.entry])


@dataclass(frozen=True)
class Connect(Step):
    container: str
    network: str

    def describe(self) -> str:
        return f"connect {self.container}"

    def execute(self, context: NetworkExecutor) -> None:
        context.set_networks(self.container, lambda entries: [*entries, {"name": self.network}])


@dataclass(frozen=True)
class Disconnect(Step):
    container: str
    network: str

    def describe(self) -> str:
        return f"disconnect {self.container}"

    def execute(self, context: NetworkExecutor) -> None:
        context.set_networks(self.container, lambda entries: [e for e in entries if e.get("name") != self.network])


# -- planning ------------------------------------------------------------------------------------------------------
def plan_network(engine: Engine, request: NetworkRequest, *, kernel: Kernel | None = None) -> NetworkPlan:
    service = NetworkService(engine, kernel=kernel)
    name = validate_name(request.name)
    current = service.store.by_name(name)
    plan = NetworkPlan(before=view(current), after=view(None))
    plan.overlay = (current or {}).get("driver") == "overlay"
    if request.state == "absent":
        if current is not None:
            _cut_off(plan, service, name, request.force, "removed")
            plan.add(RemoveNetwork(current))
        return plan
    desired = Desired.of(request)
    if desired.driver == "overlay":
        plan.overlay = True
        target = _plan_overlay(plan, service, name, current, desired, request.force)
        if current is not None and _unwatched(engine, name):
            plan.add(ServeNames(name))
    else:
        target = _plan_network_itself(plan, service, name, current, desired, request.force)
    plan.after, plan.network = view(target), target
    if request.connected is not None:
        _plan_connected(plan, service, engine, name, request.connected, request.appends)
    return plan


def network_report(engine: Engine, request: NetworkRequest, plan: NetworkPlan, applied: bool,
                   *, kernel: Kernel | None = None) -> dict[str, Any]:
    """The module's ``network``: its facts after the task (in check mode, the
    record the plan would leave; None when it is absent)."""
    if plan.network is None:
        return {"network": None}
    service = NetworkService(engine, kernel=kernel)
    if not applied:
        return {"network": service.facts(plan.network, known=not plan.creates)}
    record = service.store.by_name(request.name) or plan.network
    return {"network": service.facts(record)}


def converge_network(service: NetworkService, request: NetworkRequest,
                     containers: ContainerSide | None = None) -> dict[str, Any]:
    """Plan and apply one task against a writable engine (tests, benchmarks,
    the CLI): the result the module would return."""
    plan = plan_network(service.engine, request, kernel=service.kernel)
    plan.execute(NetworkExecutor(service, containers))
    return plan.result(**network_report(service.engine, request, plan, True, kernel=service.kernel))


def _plan_network_itself(plan: NetworkPlan, service: NetworkService, name: str, current: dict[str, Any] | None,
                         desired: Desired, force: bool) -> dict[str, Any]:
    """Steps for the network's own record and bridge; the record it ends with."""
    if current is None:
        target = service.planned_record(name, desired, None)
        plan.add(CreateNetwork(target))
        plan.creates = True
        return target
    differences = desired.differences(current)
    if current.get("driver", "bridge") != "bridge":
        differences = ["driver", *differences]
    if any(key in (*RECREATE_FIELDS, "driver") for key in differences):
        target = service.planned_record(name, desired, current)
        cut = _cut_off(plan, service, name, force, "recreated")
        plan.add(RecreateNetwork(current, target, tuple(differences)))
        plan.steps += [ReconnectCutOff(cname, entry) for cname, entry in cut]
        return target
    target = {**current, "labels": dict(sorted(desired.labels.items())), "options": desired.options}
    if "labels" in differences:
        plan.add(UpdateLabels(target))
    elif current.get("options") != desired.options:
        plan.restate = target
    if not service.kernel.bridge_exists(current["bridge"]):
        plan.add(RestoreBridge(target))
    return target


def _plan_overlay(plan: NetworkPlan, service: NetworkService, name: str, current: dict[str, Any] | None,
                  desired: Desired, force: bool) -> dict[str, Any]:
    """Steps for an overlay network: created or recreated as a whole when its
    addressing, VNI, port, underlay address, MTU or ``internal`` change; its
    peers (and labels) converged in place otherwise."""
    fresh = service.planned_record(name, desired, current)
    if current is None:
        plan.add(CreateNetwork(fresh))
        plan.creates = True
        return fresh
    differences = recreate_differences(current, fresh)
    if differences:
        cut = _cut_off(plan, service, name, force, "recreated")
        plan.add(RecreateNetwork(current, fresh, tuple(differences)))
        plan.steps += [ReconnectCutOff(cname, entry) for cname, entry in cut]
        return fresh
    target = {**current, "labels": fresh["labels"], "options": desired.options, "overlay": fresh["overlay"]}
    if not service.kernel.bridge_exists(current["bridge"]) or pending_changes(service.kernel, target) is None:
        plan.add(RestoreBridge(target))  # realize makes the bridge, the VXLAN device and every entry
        _keep_record(plan, current, target)
        return target
    changes = pending_changes(service.kernel, target)
    peers_changed = current["overlay"].get("peers") != target["overlay"]["peers"] \
        or current["overlay"].get("slices") != target["overlay"]["slices"]
    if peers_changed or (changes is not None and not changes.empty):
        plan.add(ConvergePeers(target, tuple(changes.describe() if changes else ())))
    elif current.get("labels") != target["labels"]:
        plan.add(UpdateLabels(target))
    elif current.get("options") != target["options"]:
        plan.restate = target
    return target


def _keep_record(plan: NetworkPlan, current: dict[str, Any], target: dict[str, Any]) -> None:
    """A restored overlay network whose peers changed too: the record follows (bookkeeping after the steps)."""
    if any(current.get(k) != target.get(k) for k in ("labels", "options", "overlay")):
        plan.restate = target


def _cut_off(plan: NetworkPlan, service: NetworkService, name: str, force: bool,
             doing: str) -> list[tuple[str, dict[str, Any]]]:
    """Disconnect steps for the containers attached (refused without ``force``);
    (container name, its entry) of each, for a recreation to reconnect."""
    members = service.store.memberships(name)
    if not members:
        return []
    names = ", ".join(cname for _cid, cname, _entry in members)
    if not force:
        raise Conflict(f"network {name!r} is used by container(s) {names} and would be {doing}", field="force",
                       hint="remove the containers or take the network out of their networks, "
                            "or set force: true to disconnect them")
    plan.steps += [DisconnectCutOff(cname, name) for _cid, cname, _entry in members]
    return [(cname, entry) for _cid, cname, entry in members]


def _plan_connected(plan: NetworkPlan, service: NetworkService, engine: Engine, name: str, connected: list[str],
                    appends: bool) -> None:
    """``connected`` (with ``appends``, as in docker_network): who to connect
    and disconnect. An unknown container is an error, except in check mode,
    where an earlier task of the play may be about to create it."""
    members = {cname for _cid, cname, _entry in service.store.memberships(name)}
    for container in connected:
        if service.store.container(container) is None and not engine.read_only:
            raise NotFound(f"container {container!r} does not exist", field="connected",
                           hint="create the container first, or take it out of connected")
    plan.steps += [Connect(c, name) for c in connected if c not in members]
    if not appends:
        plan.steps += [Disconnect(c, name) for c in sorted(members) if c not in connected]


def _refuse_joined(service: NetworkService, name: str, doing: str) -> None:
    """Under the networks lock: no container may have joined since the plan disconnected the attached ones."""
    joined = service.store.attached(name)
    if joined:
        raise Conflict(f"container(s) {', '.join(c for _i, c in joined)} joined network {name!r} while it was "
                       f"being {doing}", field="force", hint="run the task again")


def _refuse_taken_subnet(txn: Transaction, record: dict[str, Any]) -> None:
    """Under the networks lock: another run may have taken the planned subnet since the plan picked it."""
    subnet = IPv4Network(record["subnet"])
    for other in txn.list():
        if is_record(other) and other["id"] != record["id"] and other["name"] != record["name"] \
                and IPv4Network(other["subnet"]).overlaps(subnet):
            raise Conflict(f"subnet {record['subnet']} was taken by network {other['name']!r} meanwhile",
                           field="ipam_config", hint="run the task again")


def _put_record(context: NetworkExecutor, record: dict[str, Any]) -> None:
    with context.service.store.meta.transaction() as txn:
        current = txn.get(record["id"])
        kept = {"overlay": record["overlay"]} if "overlay" in record else {}
        txn.put(record["id"], {**current, "labels": record["labels"], "options": record["options"], **kept})
