"""Networks: the records, their addresses and their bridges, for the
``network`` and ``network_info`` modules and for the container side.

The ``network`` task is planned in ``ansible/network_plan.py`` (plans as data): this service
gives it the read side (records, the host's routes, whether a bridge
exists, the record a creation would write) and the writes its steps make
inside the ``networks`` transaction (``create_in``, ``remove_in``). The
container side uses ``require``, ``ensure_default``, ``realize``,
``allocate`` and ``release``.

The kernel (bridges from ``links.py``, nftables from ``firewall.py``) is
reached through the small ``Kernel`` protocol, so every rule here is
unit-tested against a recording fake.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any, Protocol

from ..engine import Engine
from ..errors import Conflict, InvalidInput, InvalidState, NotFound
from ..layout import DEFAULT_STATE_ROOT
from ..metadata import Transaction
from .ipam import Candidates, Ipam, check_overlap, check_static, parse_ipam_config, pick_subnet
from .overlay import routes_view
from .overlay_kernel import OverlayHostKernel, overlay_desired, overlay_record, realize_overlay, unrealize_overlay
from .store import DEFAULT_NAME, NetworkStore, new_id, new_record, pool_id

MTU_OPTION = "com.docker.network.driver.mtu"
RECREATE_FIELDS = ("subnet", "gateway", "ip_range", "aux_addresses", "internal", "mtu")
VIEW_FIELDS = ("name", "driver", "bridge", "subnet", "gateway", "ip_range", "aux_addresses", "internal", "labels",
               "mtu", "default", "overlay")
STATIC_FIELD = "networks.ipv4_address"


class NetworkWishes(Protocol):
    """What a network task states (the network module's validated request,
    ansible/network_models.NetworkRequest, is one): the service reads these
    attributes and knows nothing of the surface that validated them."""

    name: str
    ipam_config: Any   # entries with model_dump(exclude_none=True), or plain dicts
    internal: bool
    labels: dict[str, str]
    mtu: int | None
    driver_options: dict[str, Any]
    # also read when present (getattr): driver ("bridge" | "overlay"), overlay (dict), encrypted (bool)


class Kernel(Protocol):
    """What the service needs from the host (links.py + firewall.py)."""

    def bridge_name(self, network_id: str, default: bool) -> str: ...
    def ensure_bridge(self, name: str, gateway_cidr: str, mtu: int | None) -> bool: ...
    def remove_bridge(self, name: str) -> bool: ...
    def bridge_exists(self, name: str) -> bool: ...
    def host_routes(self) -> list[str]: ...
    def ensure_firewall(self, network_id: str, bridge: str, subnet: str, internal: bool) -> None: ...
    def remove_firewall(self, network_id: str) -> None: ...
    # overlay networks (overlay_kernel.py): underlay_mtu, ensure_overlay, overlay_entries, apply_overlay,
    # remove_overlay, ensure_overlay_firewall — only called for a network with driver overlay


class HostKernel(OverlayHostKernel):
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
    driver: str = "bridge"
    overlay: dict[str, Any] | None = None  # the stated overlay options (driver overlay)

    @classmethod
    def default(cls) -> Desired:
        """The default network's wishes: nothing stated (a picked subnet)."""
        return cls(None, False, {}, None, {"ipam_config": [], "internal": False, "labels": {}, "mtu": None,
                                           "driver_options": {}})

    @classmethod
    def of(cls, request: NetworkWishes) -> Desired:
        entries = [e if isinstance(e, dict) else e.model_dump(exclude_none=True) for e in request.ipam_config]
        options = {"ipam_config": entries, "internal": request.internal, "labels": dict(request.labels),
                   "mtu": request.mtu, "driver_options": dict(request.driver_options)}
        driver = getattr(request, "driver", "bridge") or "bridge"
        stated = overlay_desired(request, driver, entries)
        if stated is not None:
            options.update(driver=driver, overlay=stated)
        return cls(parse_ipam_config(entries), request.internal, dict(request.labels), _mtu(request), options,
                   driver, stated)

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


def _mtu(request: NetworkWishes) -> int | None:
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


def view(record: dict[str, Any] | None) -> dict[str, Any]:
    """A record as the diff shows it."""
    if record is None:
        return {"exists": False}
    shown = {"exists": True, **{key: record.get(key) for key in VIEW_FIELDS}}
    if record.get("driver") != "overlay":
        shown.pop("overlay")
    else:  # --diff shows the peers (in overlay) and the routes that would change
        shown["routes"] = routes_view(record)
    return shown


class NetworkService:
    def __init__(self, engine: Engine, *, kernel: Kernel | None = None) -> None:
        self.engine = engine
        self.store = NetworkStore(engine)
        self.kernel: Kernel = kernel or HostKernel()

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
        self.engine.require_writable("create the default network")
        with self.store.meta.transaction() as txn:
            record = self.store.by_name(DEFAULT_NAME)   # again under the lock: another run may have made it
            if record is not None:
                return record
            record = self.planned_record(DEFAULT_NAME, Desired.default(), None)
            self.create_in(txn, record)
        return record

    def realize(self, record: dict[str, Any]) -> None:
        """Make the bridge and the firewall rules exist (idempotent): before
        attaching a container, and after a reboot emptied the kernel."""
        self.engine.require_writable(f"make bridge {record['bridge']} and its nftables rules")
        ipam = Ipam.from_record(record)
        self.kernel.ensure_bridge(record["bridge"], ipam.gateway_cidr, record.get("mtu"))
        self.kernel.ensure_firewall(record["id"], record["bridge"], record["subnet"], bool(record.get("internal")))
        if record.get("driver") == "overlay":
            realize_overlay(self.kernel, record, self.overlays(record["id"]))

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

    # -- the network task's writes (inside the networks transaction) ----------------------------------------------
    def create_in(self, txn: Transaction, record: dict[str, Any]) -> None:
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

    def remove_in(self, txn: Transaction, record: dict[str, Any]) -> None:
        self._unrealize(record)
        NetworkStore.delete(txn, record["id"])

    def _unrealize(self, record: dict[str, Any]) -> None:
        self.engine.require_writable(f"remove bridge {record['bridge']} and its nftables rules")
        self.kernel.remove_firewall(record["id"])
        if record.get("driver") == "overlay":
            unrealize_overlay(self.kernel, record, self.overlays(record["id"]))
        self.kernel.remove_bridge(record["bridge"])

    def overlays(self, but: str) -> list[dict[str, Any]]:
        """The other overlay networks' records (they share VXLAN port elements in the firewall)."""
        return [r for r in self.store.list() if r.get("driver") == "overlay" and r["id"] != but]

    # -- the network task's reads --------------------------------------------------------------------------------
    def planned_record(self, name: str, desired: Desired, current: dict[str, Any] | None) -> dict[str, Any]:
        """The record a creation (or recreation) would write: stated
        addressing checked against the other networks and the host's routes,
        else the current network's, else the first free default pool."""
        others = {r["name"]: r["subnet"] for r in self.store.list() if r["name"] != name}
        routes = self.kernel.host_routes()
        if current is not None:  # its own bridge's route (an overlay's: its slices' routes) is not a conflict
            own = IPv4Network((current.get("overlay") or current)["subnet"])
            routes = [r for r in routes if not ((net := _network(r)) and net.subnet_of(own))]
        if desired.driver == "overlay":
            return self._planned_overlay(name, desired, current, others, routes)
        ipam = desired.ipam
        if ipam is not None:
            check_overlap(ipam.subnet, others, routes)
        elif current is not None:
            ipam = Ipam.from_record(current)
        else:
            subnet = pick_subnet(others, routes)
            ipam = Ipam(subnet, subnet.network_address + 1)
        network_id = new_id(self.engine.layout.state_root, name, current["id"] if current else None)
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

    def _planned_overlay(self, name: str, desired: Desired, current: dict[str, Any] | None, others: dict[str, str],
                         routes: list[str]) -> dict[str, Any]:
        network_id = new_id(self.engine.layout.state_root, name, current["id"] if current else None)
        bridge = self.kernel.bridge_name(network_id, False)
        if (current is None or current["bridge"] != bridge) and self.kernel.bridge_exists(bridge):
            raise Conflict(f"the bridge {bridge} already exists on the host", field="name",
                           hint=f"remove it with `ip link del {bridge}` if nothing uses it")
        return overlay_record(self.kernel, network_id, name, bridge, desired, others, routes)

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
