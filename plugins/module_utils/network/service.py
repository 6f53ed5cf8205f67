"""Networks: the records, their addresses and their bridges, for the
``network`` and ``network_info`` modules and for the container side.

One ``network`` task is planned, then applied (shared/ANCHORS.md #1): ``plan``
is read-only (records, the host's routes, whether the bridge exists) and
returns the steps and the record that would result, so check mode and
``--diff`` show exactly what a real run makes — for a creation, the subnet
that would be picked, the gateway and the bridge name. ``converge`` re-plans
under the ``networks`` lock before acting, so two runs cannot pick the same
subnet or name.

Like community.docker's ``docker_network``, a change of addressing
(``ipam_config``), ``internal`` or ``mtu`` recreates the network (a new id, a
new bridge); labels change in place. Unlike it, a network with containers
attached is only removed or recreated with ``force: true``, which disconnects
them first through the ``disconnect`` callable the container side provides.

The kernel (bridges from ``links.py``, nftables from ``firewall.py``) is
reached through the small ``Kernel`` protocol, so every rule here is
unit-tested against a recording fake.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Any, Protocol

from ..engine import Engine
from ..errors import Conflict, InvalidInput, InvalidState, NotFound
from ..layout import DEFAULT_STATE_ROOT
from ..metadata import Transaction
from .ipam import Candidates, Ipam, check_overlap, check_static, parse_ipam_config, pick_subnet
from .store import DEFAULT_NAME, NetworkStore, new_id, new_record, pool_id, validate_name

MTU_OPTION = "com.docker.network.driver.mtu"
RECREATE_FIELDS = ("subnet", "gateway", "ip_range", "aux_addresses", "internal", "mtu")
VIEW_FIELDS = ("name", "driver", "bridge", "subnet", "gateway", "ip_range", "aux_addresses", "internal", "labels",
               "mtu", "default")
STATIC_FIELD = "networks.ipv4_address"

Disconnect = Callable[[str, str], None]

if TYPE_CHECKING:
    from .models import NetworkRequest


def __getattr__(name: str) -> Any:
    """The pydantic request models load on first use: the container monitor
    uses this service for attachments and should not pay pydantic's import."""
    if name in ("NetworkRequest", "IpamEntry"):
        from . import models

        return getattr(models, name)
    raise AttributeError(name)


class Kernel(Protocol):
    """What the service needs from the host (links.py + firewall.py)."""

    def bridge_name(self, network_id: str, default: bool) -> str: ...
    def ensure_bridge(self, name: str, gateway_cidr: str, mtu: int | None) -> bool: ...
    def remove_bridge(self, name: str) -> bool: ...
    def bridge_exists(self, name: str) -> bool: ...
    def host_routes(self) -> list[str]: ...
    def ensure_firewall(self, network_id: str, bridge: str, subnet: str, internal: bool) -> None: ...
    def remove_firewall(self, network_id: str) -> None: ...


class HostKernel:
    """The real kernel. links/firewall are imported on first use, so a
    container without networks never pays for them."""

    def bridge_name(self, network_id: str, default: bool) -> str:
        from . import links

        return links.bridge_name(network_id, default)

    def ensure_bridge(self, name: str, gateway_cidr: str, mtu: int | None) -> bool:
        from . import links

        return links.ensure_bridge(name, gateway_cidr, mtu)

    def remove_bridge(self, name: str) -> bool:
        from . import links

        return links.remove_bridge(name)

    def bridge_exists(self, name: str) -> bool:
        from . import links

        return links.bridge_exists(name)

    def host_routes(self) -> list[str]:
        from . import links

        return links.host_routes()

    def ensure_firewall(self, network_id: str, bridge: str, subnet: str, internal: bool) -> None:
        from . import firewall

        firewall.ensure_network(firewall.NetRules(network_id=network_id, bridge=bridge, subnet=subnet,
                                                  internal=internal))

    def remove_firewall(self, network_id: str) -> None:
        from . import firewall

        firewall.remove_network(network_id)


@dataclass(frozen=True)
class Desired:
    """A present task's wishes, validated; ``ipam`` None = not stated (keep or pick)."""

    ipam: Ipam | None
    internal: bool
    labels: dict[str, str]
    mtu: int | None
    options: dict[str, Any]

    @classmethod
    def of(cls, request: NetworkRequest) -> Desired:
        entries = [e.model_dump(exclude_none=True) for e in request.ipam_config]
        options = {"ipam_config": entries, "internal": request.internal, "labels": dict(request.labels),
                   "mtu": request.mtu, "driver_options": dict(request.driver_options)}
        return cls(parse_ipam_config(entries), request.internal, dict(request.labels), _mtu(request), options)

    def differences(self, current: dict[str, Any]) -> list[str]:
        """Fields whose stated value differs from the network's; addressing
        only when ipam_config is stated (a picked subnet is never drift)."""
        wanted: dict[str, Any] = {"internal": self.internal, "mtu": self.mtu, "labels": self.labels}
        if self.ipam is not None:
            wanted.update(self.ipam.as_record())
        return [key for key, value in wanted.items() if value != (current.get(key) or _empty(value))]


def _empty(value: Any) -> Any:
    """What a record's missing or null field means, for comparison."""
    return type(value)() if isinstance(value, dict | bool) else None


def _mtu(request: NetworkRequest) -> int | None:
    options = dict(request.driver_options)
    stated = options.pop(MTU_OPTION, None)
    if options:
        raise InvalidInput(f"driver option(s) {', '.join(sorted(options))} are not supported", field="driver_options",
                           hint=f"berth's bridge driver takes {MTU_OPTION} only (or use the mtu option)")
    mtu = request.mtu
    if stated is not None:
        try:
            value = int(str(stated))
        except ValueError:
            raise InvalidInput(f"{MTU_OPTION} {stated!r} is not a number", field="driver_options",
                               hint="give the MTU in bytes, e.g. 1450") from None
        if mtu is not None and mtu != value:
            raise InvalidInput(f"mtu {mtu} and {MTU_OPTION} {value} disagree", field="mtu", hint="give one of them")
        mtu = value
    if mtu is not None and not 68 <= mtu <= 65535:
        raise InvalidInput(f"mtu {mtu} is out of range", field="mtu", hint="use 68-65535 (Ethernet: 1500)")
    return mtu


@dataclass
class NetworkPlan:
    """What one task would do. ``steps`` run in order: ``remove`` (the
    current network), ``create`` (``target``), ``labels`` (rewrite the record
    in place), ``realize`` (the bridge is missing on the host, e.g. after a
    reboot). ``attached``: containers a removal would cut off."""

    name: str
    current: dict[str, Any] | None
    target: dict[str, Any] | None
    steps: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    attached: list[tuple[str, str]] = field(default_factory=list)
    restate: bool = False  # only the record's stated options differ: rewritten, not reported as a change

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    def actions(self) -> list[str]:
        done = [f"disconnected container {name}" for _cid, name in self.attached if "remove" in self.steps]
        if self.steps[:2] == ["remove", "create"]:
            done.append(f"recreated network {self.name} ({', '.join(self.differences)} changed)")
        elif "remove" in self.steps:
            done.append(f"removed network {self.name}")
        elif "create" in self.steps and self.target is not None:
            done.append(f"created network {self.name} (bridge {self.target['bridge']}, subnet "
                        f"{self.target['subnet']}, gateway {self.target['gateway']})")
        if "labels" in self.steps:
            done.append(f"updated labels of network {self.name}")
        if "realize" in self.steps and self.target is not None:
            done.append(f"restored bridge {self.target['bridge']} (missing on the host)")
        return done


@dataclass
class NetworkOutcome:
    changed: bool = False
    actions: list[str] = field(default_factory=list)
    network: dict[str, Any] | None = None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    def result(self) -> dict[str, Any]:
        return {"changed": self.changed, "actions": self.actions, "network": self.network,
                "diff": {"before": self.before, "after": self.after}}


def view(record: dict[str, Any] | None) -> dict[str, Any]:
    """A record as the diff shows it."""
    if record is None:
        return {"exists": False}
    return {"exists": True, **{key: record.get(key) for key in VIEW_FIELDS}}


class NetworkService:
    """``disconnect(container_id, network_name)``, given by the container side,
    detaches a container and drops the network from its config; ``force``
    removal and recreation need it."""

    def __init__(self, engine: Engine, *, kernel: Kernel | None = None, disconnect: Disconnect | None = None) -> None:
        self.engine = engine
        self.store = NetworkStore(engine)
        self.kernel: Kernel = kernel or HostKernel()
        self.disconnect = disconnect

    # -- the container side's API ------------------------------------------------------------------------------
    def get(self, name: str) -> dict[str, Any] | None:
        return self.store.find(name)

    def require(self, name: str) -> dict[str, Any]:
        record = self.store.find(name)
        if record is None:
            raise NotFound(f"network {name!r} does not exist", field="networks",
                           hint="create it with the berth.engine.network module first, or use the default "
                                "network 'bridge'")
        return record

    def users(self, name: str) -> list[str]:
        """Names of the containers whose config lists the network."""
        return [cname for _cid, cname in self.store.attached(name)]

    def ensure_default(self) -> dict[str, Any]:
        """The default network ("bridge", bridge berth0), created with a
        picked subnet and realized on first use."""
        record = self.store.by_name(DEFAULT_NAME)
        if record is not None:
            return record
        with self.store.meta.transaction() as txn:
            from .models import NetworkRequest

            plan = self.plan(NetworkRequest(name=DEFAULT_NAME))
            if plan.current is not None:
                return plan.current
            self._execute(txn, plan)
        return plan.target or self.require(DEFAULT_NAME)

    def realize(self, record: dict[str, Any]) -> None:
        """Make the bridge and the firewall rules exist (idempotent): before
        attaching a container, and after a reboot emptied the kernel."""
        ipam = Ipam.from_record(record)
        self.kernel.ensure_bridge(record["bridge"], ipam.gateway_cidr, record.get("mtu"))
        self.kernel.ensure_firewall(record["id"], record["bridge"], record["subnet"], bool(record.get("internal")))

    def allocate(self, network_name: str, container_id: str, requested: str | None = None) -> str:
        """An address for the container on the network: the one it holds
        already, the ``requested`` static one, or the lowest free one."""
        with self.store.meta.transaction() as txn:
            record = self.require(network_name)
            ipam, pool = Ipam.from_record(record), pool_id(record["id"])
            if requested:
                return self._allocate_static(txn, record, ipam, requested, container_id)
            try:
                return str(txn.allocate(pool, Candidates(ipam), container_id))
            except InvalidInput:
                raise InvalidState(f"network {network_name!r} has no free address", field="networks",
                                   hint="widen its subnet or iprange, or remove containers from it") from None

    def _allocate_static(self, txn: Transaction, record: dict[str, Any], ipam: Ipam, requested: str,
                         container_id: str) -> str:
        if not (record.get("options") or {}).get("ipam_config"):
            raise InvalidInput(f"a static address needs a network with a configured subnet; {record['name']!r} has "
                               f"a picked one ({record['subnet']})", field=STATIC_FIELD,
                               hint="give the network an ipam_config subnet, or leave ipv4_address out")
        address = check_static(ipam, requested, STATIC_FIELD)
        pool = pool_id(record["id"])
        holder = (txn.find(pool) or {"allocations": {}})["allocations"].get(address)
        if holder == container_id:
            return address
        if holder is not None:
            owner = self.engine.metadata("containers").find(holder) or {}
            raise Conflict(f"{address} on network {record['name']!r} is in use by container "
                           f"{owner.get('name', holder[:12])}", field=STATIC_FIELD,
                           hint="give another address, or leave ipv4_address out")
        txn.release(pool, container_id)  # a different address it held before
        return str(txn.allocate(pool, [address], container_id))

    def release(self, network_name: str, container_id: str) -> None:
        """Give the container's address back (no error if it holds none, or the network is gone)."""
        with self.store.meta.transaction() as txn:
            record = self.store.find(network_name)
            if record is not None:
                txn.release(pool_id(record["id"]), container_id)

    # -- the network module -------------------------------------------------------------------------------------
    def plan(self, request: NetworkRequest) -> NetworkPlan:
        """Read-only: what ``converge`` would do for this task."""
        name = validate_name(request.name)
        current = self.store.by_name(name)
        if request.state == "absent":
            if current is None:
                return NetworkPlan(name, None, None)
            return NetworkPlan(name, current, None, ["remove"], attached=self.store.attached(name))
        desired = Desired.of(request)
        if current is None:
            return NetworkPlan(name, None, self._new_record(name, desired, None), ["create"])
        differences = desired.differences(current)
        if any(key in RECREATE_FIELDS for key in differences):
            return NetworkPlan(name, current, self._new_record(name, desired, current), ["remove", "create"],
                               differences, self.store.attached(name))
        steps = ["labels"] if "labels" in differences else []
        if not self.kernel.bridge_exists(current["bridge"]):
            steps.append("realize")
        # The options as stated now are kept even when nothing changes (say the picked subnet is now stated:
        # static addresses need a stated subnet); rewriting that bookkeeping is not a change to the network.
        target = {**current, "labels": dict(sorted(desired.labels.items())), "options": desired.options}
        return NetworkPlan(name, current, target, steps, differences,
                           restate=current.get("options") != desired.options)

    def converge(self, request: NetworkRequest, *, check_mode: bool) -> NetworkOutcome:
        plan = self.plan(request)
        self._refuse_cutting_off(plan, request.force)
        if check_mode or not (plan.changed or plan.restate):
            return self._outcome(plan, check_mode)
        cut_off = plan.attached if "remove" in plan.steps else []
        for container_id, _cname in cut_off:
            self.disconnect(container_id, plan.name)  # type: ignore[misc]  # _refuse_cutting_off checked it
        with self.store.meta.transaction() as txn:
            executed = self.plan(request)  # again under the lock: another run may have acted meanwhile
            if "remove" in executed.steps and executed.attached:
                names = ", ".join(cname for _cid, cname in executed.attached)
                raise Conflict(f"container(s) {names} joined network {plan.name!r} while it was being "
                               f"{'recreated' if 'create' in executed.steps else 'removed'}", field="force",
                               hint="run the task again")
            self._execute(txn, executed)
            if executed.restate and executed.target is not None and not {"create", "labels"} & set(executed.steps):
                txn.put(executed.target["id"], executed.target)
        executed.attached = cut_off
        return self._outcome(executed, check_mode)

    def _refuse_cutting_off(self, plan: NetworkPlan, force: bool) -> None:
        if "remove" not in plan.steps or not plan.attached:
            return
        names = ", ".join(cname for _cid, cname in plan.attached)
        doing = "recreated" if "create" in plan.steps else "removed"
        if not force:
            raise Conflict(f"network {plan.name!r} is used by container(s) {names} and would be {doing}",
                           field="force", hint="remove the containers or take the network out of their networks, "
                                               "or set force: true to disconnect them")
        if self.disconnect is None:
            raise Conflict(f"network {plan.name!r} is used by container(s) {names}; disconnecting them is not "
                           "available here", field="force", hint="remove the containers first")

    def _outcome(self, plan: NetworkPlan, check_mode: bool) -> NetworkOutcome:
        out = NetworkOutcome(changed=plan.changed, actions=plan.actions(), before=view(plan.current),
                             after=view(plan.target))
        if plan.target is not None:
            record = plan.target if check_mode else (self.store.by_name(plan.name) or plan.target)
            out.network = self.facts(record, known=not (check_mode and "create" in plan.steps))
        return out

    # -- execution (inside the networks transaction) ------------------------------------------------------------
    def _execute(self, txn: Transaction, plan: NetworkPlan) -> None:
        current, target = plan.current or {}, plan.target or {}
        for step in plan.steps:  # plan() gives remove only with a current network, the others with a target
            if step == "remove":
                self._remove(txn, current)
            elif step == "create":
                self._create(txn, target)
            elif step == "labels":
                txn.put(target["id"], target)
            elif step == "realize":
                self.realize(target)

    def _create(self, txn: Transaction, record: dict[str, Any]) -> None:
        # The record first: a crash before the bridge exists leaves a record the next run realizes,
        # never a bridge nothing knows about.
        NetworkStore.add(txn, record)
        try:
            self.realize(record)
        except BaseException:
            with contextlib.suppress(Exception):  # the realize error is the one to report
                self._unrealize(record)
            NetworkStore.delete(txn, record["id"])
            raise

    def _remove(self, txn: Transaction, record: dict[str, Any]) -> None:
        self._unrealize(record)
        NetworkStore.delete(txn, record["id"])

    def _unrealize(self, record: dict[str, Any]) -> None:
        self.kernel.remove_firewall(record["id"])
        self.kernel.remove_bridge(record["bridge"])

    def _new_record(self, name: str, desired: Desired, current: dict[str, Any] | None) -> dict[str, Any]:
        """The record a creation (or recreation) would write: stated
        addressing checked against the other networks and the host's routes,
        else the current network's, else the first free default pool."""
        others = {r["name"]: r["subnet"] for r in self.store.list() if r["name"] != name}
        routes = self.kernel.host_routes()
        if current is not None:  # its own bridge's route is not a conflict
            own = IPv4Network(current["subnet"])
            routes = [r for r in routes if _network(r) != own]
        ipam = desired.ipam
        if ipam is not None:
            check_overlap(ipam.subnet, others, routes)
        elif current is not None:
            ipam = Ipam.from_record(current)
        else:
            subnet = pick_subnet(others, routes)
            ipam = Ipam(subnet, subnet.network_address + 1)
        network_id = new_id()
        # berth0 belongs to the host's own state root; other roots (tests, a second engine) get br-<id>
        host_root = self.engine.layout.state_root == DEFAULT_STATE_ROOT
        bridge = self.kernel.bridge_name(network_id, name == DEFAULT_NAME and host_root)
        if (current is None or current["bridge"] != bridge) and self.kernel.bridge_exists(bridge):
            # berth0 is one name per host: another state root's default network must not be taken over
            raise Conflict(f"the bridge {bridge} already exists on the host", field="name",
                           hint=f"another berth state root (or something else) uses it; remove it with "
                                f"`ip link del {bridge}` if nothing does")
        return new_record(network_id, name, bridge, ipam, internal=desired.internal, labels=desired.labels,
                          mtu=desired.mtu, options=desired.options)

    # -- facts ----------------------------------------------------------------------------------------------------
    def facts(self, record: dict[str, Any], *, known: bool = True) -> dict[str, Any]:
        """The record plus its containers (with their addresses) and whether
        the bridge exists; ``known=False`` for a network check mode only plans."""
        if not known:
            return {**record, "containers": [], "bridge_present": False}
        allocations = {owner: ip for ip, owner in self.store.allocations(record["id"]).items()}
        containers = [{"id": cid, "name": cname, "ipv4_address": allocations.get(cid)}
                      for cid, cname in self.store.attached(record["name"])]
        return {**record, "containers": containers, "bridge_present": self.kernel.bridge_exists(record["bridge"])}

    def info(self, names: list[str] | None) -> dict[str, Any]:
        """network_info: every network, or the named ones (by name or id)."""
        missing: list[str] = []
        if names:
            records = []
            for ref in names:
                record = self.store.find(ref)
                if record is None:
                    missing.append(ref)
                elif record not in records:
                    records.append(record)
        else:
            records = self.store.list()
        return {"networks": [self.facts(r) for r in records], "missing": missing}


def _network(route: str) -> IPv4Network | None:
    try:
        return IPv4Network(route, strict=False)
    except ValueError:
        return None
