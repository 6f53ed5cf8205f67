"""The network task's plan (network/plan.py) and NetworkService against a
recording fake kernel: check mode over a read-only view, diffs, in place vs
recreate, picked subnets, errors that leave nothing behind, forced
disconnects through a fake container side, and the container side's API
(addresses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import validate
from ansible_collections.berth.engine.plugins.module_utils.ansible.models import EngineOptions
from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import (
    NetworkExecutor,
    converge_network,
    network_report,
    plan_network,
)
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import (
    Conflict,
    InvalidInput,
    InvalidState,
    NotFound,
)
from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService


@dataclass
class FakeKernel:
    routes: list[str] = field(default_factory=lambda: ["0.0.0.0/0", "192.0.2.0/24", "127.0.0.0/8"])
    bridges: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    rules: dict[str, tuple[str, str, bool]] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    fail_bridge: bool = False

    def bridge_name(self, network_id: str, default: bool) -> str:
        return "berth0" if default else "br-" + network_id[:12]

    def ensure_bridge(self, name: str, gateway_cidr: str, mtu: int | None) -> bool:
        self.calls.append(("ensure_bridge", name, gateway_cidr, mtu))
        if self.fail_bridge:
            raise InvalidState("bridge creation failed", field="bridge")
        changed = self.bridges.get(name) != (gateway_cidr, mtu)
        self.bridges[name] = (gateway_cidr, mtu)
        self.routes.append(gateway_cidr)  # the kernel adds the connected route
        return changed

    def remove_bridge(self, name: str) -> bool:
        self.calls.append(("remove_bridge", name))
        found = self.bridges.pop(name, None)
        if found:
            self.routes.remove(found[0])
        return found is not None

    def bridge_exists(self, name: str) -> bool:
        return name in self.bridges

    def host_routes(self) -> list[str]:
        return list(self.routes)

    def ensure_firewall(self, network_id: str, bridge: str, subnet: str, internal: bool) -> None:
        self.calls.append(("ensure_firewall", network_id, bridge, subnet, internal))
        self.rules[network_id] = (bridge, subnet, internal)

    def remove_firewall(self, network_id: str) -> None:
        self.calls.append(("remove_firewall", network_id))
        self.rules.pop(network_id, None)

    def writes(self) -> list[tuple[Any, ...]]:
        return list(self.calls)


@pytest.fixture
def kernel() -> FakeKernel:
    return FakeKernel()


@pytest.fixture
def service(engine: Engine, kernel: FakeKernel) -> NetworkService:
    return NetworkService(engine, kernel=kernel)


def request(engine: Engine, **task: Any) -> NetworkRequest:
    options = EngineOptions(state_root=engine.layout.state_root, run_root=engine.layout.run_root)
    return validate(NetworkRequest, {"engine": options, "name": "berthtest", **task})


def converge(service: NetworkService, check: bool = False, containers: Any = None, **task: Any) -> dict[str, Any]:
    """What the module does: check mode plans over a read-only view, an apply plans again and executes."""
    wanted = request(service.engine, **task)
    engine = service.engine.view() if check else service.engine
    plan = plan_network(engine, wanted, kernel=service.kernel)
    if not check:
        plan.execute(NetworkExecutor(service, containers))
    return plan.result(**network_report(engine, wanted, plan, not check, kernel=service.kernel))


@dataclass
class FakeContainers:
    """The container side: set_networks rewrites the record and gives back dropped addresses."""

    engine: Engine
    calls: list[tuple[str, list[str]]] = field(default_factory=list)

    def set_networks(self, container_id: str, entries: list[dict[str, Any]]) -> None:
        self.calls.append((container_id, [e["name"] for e in entries]))
        with self.engine.metadata("containers").transaction() as txn:
            doc = txn.get(container_id)
            dropped = [e["name"] for e in doc["config"]["networks"] if e not in entries]
            doc["config"]["networks"] = entries
            txn.put(container_id, doc)
        for network in dropped:
            NetworkService(self.engine).release(network, container_id)


def add_container(engine: Engine, name: str, networks: list[str]) -> str:
    container_id = (name.encode().hex() * 64)[:64]
    with engine.metadata("containers").transaction() as txn:
        txn.put(container_id, {"id": container_id, "name": name,
                               "config": {"networks": [{"name": n, "ipv4_address": None, "aliases": []}
                                                       for n in networks]}})
    return container_id


IPAM = [{"subnet": "10.253.1.0/24", "iprange": "10.253.1.128/25"}]


def test_check_mode_shows_the_whole_network_it_would_make(service: NetworkService, kernel: FakeKernel) -> None:
    result = converge(service, check=True, labels={"a": "1"})
    assert result["changed"] is True
    after = result["diff"]["after"]
    assert result["diff"]["before"] == {"exists": False}
    assert after["exists"] is True and after["subnet"] == "172.17.0.0/16" and after["gateway"] == "172.17.0.1"
    assert after["bridge"].startswith("br-") and after["labels"] == {"a": "1"} and after["internal"] is False
    assert result["actions"] == [f"created network berthtest (bridge {after['bridge']}, subnet 172.17.0.0/16, "
                                 "gateway 172.17.0.1)"]
    assert result["network"]["bridge_present"] is False
    assert kernel.writes() == [] and service.store.list() == []


def test_converges_and_a_picked_subnet_is_not_drift(service: NetworkService, kernel: FakeKernel) -> None:
    first = converge(service)
    record = service.store.by_name("berthtest")
    assert first["changed"] and record is not None
    assert record["subnet"] == "172.17.0.0/16" and record["default"] is False and record["mtu"] is None
    assert kernel.bridges == {record["bridge"]: ("172.17.0.1/16", None)}
    assert kernel.rules == {record["id"]: (record["bridge"], "172.17.0.0/16", False)}
    assert first["network"]["bridge_present"] is True and first["network"]["containers"] == []
    kernel.calls.clear()
    for check in (False, True):
        again = converge(service, check=check)
        assert again["changed"] is False and again["actions"] == []
        assert again["diff"]["before"] == again["diff"]["after"]
    assert kernel.writes() == []
    # stating the subnet that was picked is no change either, but it is remembered (static addresses need it)
    assert converge(service, ipam_config=[{"subnet": "172.17.0.0/16"}])["changed"] is False
    assert service.store.by_name("berthtest")["options"]["ipam_config"] == [{"subnet": "172.17.0.0/16"}]
    assert service.store.by_name("berthtest")["id"] == record["id"]


def test_labels_in_place_addressing_recreates(service: NetworkService, kernel: FakeKernel) -> None:
    converge(service, ipam_config=IPAM, labels={"tier": "a"})
    first = service.store.by_name("berthtest")
    assert first["ip_range"] == "10.253.1.128/25" and first["gateway"] == "10.253.1.1"
    assert converge(service, ipam_config=IPAM, labels={"tier": "a"})["changed"] is False

    relabel = converge(service, ipam_config=IPAM, labels={"tier": "b"})
    assert relabel["changed"] and relabel["actions"] == ["updated labels of network berthtest"]
    assert relabel["diff"]["before"]["labels"] == {"tier": "a"} and relabel["diff"]["after"]["labels"] == {"tier": "b"}
    assert service.store.by_name("berthtest")["id"] == first["id"]

    new_ipam = [{"subnet": "10.253.2.0/24", "iprange": "10.253.2.128/25"}]
    check = converge(service, check=True, ipam_config=new_ipam, labels={"tier": "b"})
    assert check["changed"] and service.store.by_name("berthtest")["subnet"] == "10.253.1.0/24"
    redo = converge(service, ipam_config=new_ipam, labels={"tier": "b"})
    assert redo["actions"] == ["recreated network berthtest (subnet, gateway, ip_range changed)"]
    second = service.store.by_name("berthtest")
    assert second["id"] != first["id"] and second["subnet"] == "10.253.2.0/24"
    assert first["bridge"] not in kernel.bridges and first["id"] not in kernel.rules
    assert list(kernel.bridges) == [second["bridge"]]
    assert [r["name"] for r in service.store.list()] == ["berthtest"]


@pytest.mark.parametrize(("task", "changed_fields"), [
    ({"internal": True}, "internal"),
    ({"mtu": 1400}, "mtu"),
    ({"driver_options": {"com.docker.network.driver.mtu": "1400"}}, "mtu"),
    ({"ipam_config": [{"subnet": "10.253.1.0/24", "gateway": "10.253.1.254"}]}, "gateway"),
    ({"ipam_config": [{"subnet": "10.253.1.0/24", "aux_addresses": {"r": "10.253.1.9"}}]}, "aux_addresses"),
    ({"ipam_config": [{"subnet": "10.253.1.0/24"}]}, "ip_range"),  # an iprange no longer stated
])
def test_what_recreates(service: NetworkService, kernel: FakeKernel, task: dict[str, Any], changed_fields: str) -> None:
    converge(service, ipam_config=[{"subnet": "10.253.1.0/24", "iprange": "10.253.1.0/25"}]
             if changed_fields == "ip_range" else [{"subnet": "10.253.1.0/24"}])
    task.setdefault("ipam_config", [{"subnet": "10.253.1.0/24"}])
    result = converge(service, **task)
    assert result["actions"] == [f"recreated network berthtest ({changed_fields} changed)"]
    assert converge(service, **task)["changed"] is False
    record = service.store.by_name("berthtest")
    assert kernel.bridges[record["bridge"]] == (f"{record['gateway']}/24", record["mtu"])


def test_recreate_without_stated_ipam_keeps_the_subnet(service: NetworkService) -> None:
    converge(service)
    converge(service, internal=True)
    assert service.store.by_name("berthtest")["subnet"] == "172.17.0.0/16"


@pytest.mark.parametrize(("task", "field", "text"), [
    ({"ipam_config": [{"subnet": "192.0.2.0/25"}]}, "ipam_config[0].subnet", "overlaps the host route 192.0.2.0/24"),
    ({"ipam_config": [{"subnet": "10.253.0.0/16"}]}, "ipam_config[0].subnet", "overlaps network 'berthother'"),
    ({"ipam_config": [{"subnet": "10.253.9.0/24", "gateway": "10.253.8.1"}]}, "ipam_config[0].gateway",
     "outside subnet"),
    ({"ipam_config": [{"subnet": "10.253.9.0/24", "iprange": "10.253.8.0/25"}]}, "ipam_config[0].iprange",
     "outside subnet"),
    ({"driver_options": {"com.docker.network.bridge.name": "x"}}, "driver_options", "not supported"),
    ({"driver_options": {"com.docker.network.driver.mtu": "big"}}, "driver_options", "not a number"),
    ({"mtu": 1400, "driver_options": {"com.docker.network.driver.mtu": 1500}}, "mtu", "disagree"),
    ({"mtu": 20}, "mtu", "out of range"),
    ({"driver": "overlay"}, "driver", "needs the overlay option"),   # the fleet view (peers) is required
    ({"name": "host"}, "name", "reserved"),
    ({"name": "bad/name"}, "name", "not a valid network name"),
    ({"labels": {"n": 1}}, "labels.n", "string"),
])
def test_bad_input_makes_nothing(service: NetworkService, kernel: FakeKernel, task: dict[str, Any], field: str,
                                 text: str) -> None:
    converge(service, name="berthother", ipam_config=[{"subnet": "10.253.1.0/24"}])
    kernel.calls.clear()
    for check in (True, False):
        with pytest.raises(InvalidInput) as err:
            converge(service, check=check, **task)
        assert err.value.field == field and text in err.value.message, err.value
    assert kernel.writes() == [] and [r["name"] for r in service.store.list()] == ["berthother"]


def test_failed_bridge_leaves_no_record(service: NetworkService, kernel: FakeKernel) -> None:
    kernel.fail_bridge = True
    with pytest.raises(InvalidState, match="bridge creation failed"):
        converge(service, ipam_config=IPAM)
    assert service.store.list() == [] and kernel.rules == {}


def test_missing_bridge_is_restored(service: NetworkService, kernel: FakeKernel) -> None:
    converge(service, ipam_config=IPAM)
    record = service.store.by_name("berthtest")
    kernel.bridges.clear()
    kernel.rules.clear()  # as after a reboot
    check = converge(service, check=True, ipam_config=IPAM)
    assert check["changed"] and check["actions"] == [f"restored bridge {record['bridge']} (missing on the host)"]
    assert converge(service, ipam_config=IPAM)["changed"] is True
    assert record["bridge"] in kernel.bridges and record["id"] in kernel.rules
    assert converge(service, ipam_config=IPAM)["changed"] is False


def test_absent(service: NetworkService, kernel: FakeKernel) -> None:
    assert converge(service, state="absent")["changed"] is False
    converge(service, ipam_config=IPAM)
    record = service.store.by_name("berthtest")
    service.allocate("berthtest", "c" * 64)
    check = converge(service, check=True, state="absent")
    assert check["changed"] and check["diff"]["after"] == {"exists": False} and check["network"] is None
    assert service.store.by_name("berthtest") is not None
    assert converge(service, state="absent")["actions"] == ["removed network berthtest"]
    assert kernel.bridges == {} and kernel.rules == {}
    assert service.engine.metadata("networks").ids() == []  # the address pool went too
    assert converge(service, state="absent")["changed"] is False
    assert ("remove_bridge", record["bridge"]) in kernel.calls


def test_in_use_needs_force_and_a_container_side(engine: Engine, kernel: FakeKernel) -> None:
    service = NetworkService(engine, kernel=kernel)
    converge(service, ipam_config=IPAM)
    web = add_container(engine, "web", ["berthtest", "other"])
    add_container(engine, "db", ["other"])
    assert service.users("berthtest") == ["web"]
    for task in ({"state": "absent"}, {"ipam_config": [{"subnet": "10.253.7.0/24"}]}):
        with pytest.raises(Conflict, match="used by container\\(s\\) web") as err:
            converge(service, check=True, **task)
        assert err.value.field == "force"
        with pytest.raises(Conflict, match="not available here"):
            converge(service, force=True, **task)
    assert service.store.by_name("berthtest")["subnet"] == "10.253.1.0/24"

    containers = FakeContainers(engine)
    check = converge(service, check=True, force=True, state="absent")
    assert check["actions"] == ["disconnected container web", "removed network berthtest"]
    result = converge(service, containers=containers, force=True, ipam_config=[{"subnet": "10.253.7.0/24"}])
    assert result["actions"] == ["disconnected container web",
                                 "recreated network berthtest (subnet, gateway, ip_range changed)", "reconnected web"]
    assert containers.calls == [(web, ["other"]), (web, ["other", "berthtest"])]
    assert service.users("berthtest") == ["web"], "the container cut off is back, with its entry"


def test_connected_plans_connects_and_disconnects(engine: Engine, kernel: FakeKernel) -> None:
    service = NetworkService(engine, kernel=kernel)
    converge(service, ipam_config=IPAM)
    web, db = add_container(engine, "web", ["berthtest"]), add_container(engine, "db", [])
    containers = FakeContainers(engine)
    for check in (True, False):
        result = converge(service, check=check, containers=containers, ipam_config=IPAM, connected=["db"])
        assert result["changed"] and result["actions"] == ["connect db", "disconnect web"]
    assert containers.calls == [(db, ["berthtest"]), (web, [])]
    assert converge(service, ipam_config=IPAM, connected=["db"])["actions"] == []
    appended = converge(service, containers=containers, ipam_config=IPAM, connected=["web"], appends=True)
    assert appended["actions"] == ["connect web"] and service.users("berthtest") == ["db", "web"]
    # an unknown container: an error in an apply; in check mode an earlier task may be about to make it
    assert converge(service, check=True, ipam_config=IPAM, connected=["db", "web", "new"])["actions"] == ["connect new"]
    with pytest.raises(NotFound, match="'new' does not exist") as err:
        converge(service, containers=containers, ipam_config=IPAM, connected=["db", "web", "new"])
    assert err.value.field == "connected"


def test_a_step_rechecks_under_the_lock(engine: Engine, kernel: FakeKernel) -> None:
    """The state moved between plan and execution: the step refuses instead of doing what the plan did not say."""
    service = NetworkService(engine, kernel=kernel)
    plan = plan_network(engine, request(engine, name="one"), kernel=kernel)
    converge(service, name="two", ipam_config=[{"subnet": "172.17.0.0/16"}])   # takes the subnet "one" picked
    with pytest.raises(Conflict, match="taken by network 'two' meanwhile"):
        plan.execute(NetworkExecutor(service))
    assert [r["name"] for r in service.store.list()] == ["two"]
    removal = plan_network(engine, request(engine, name="two", state="absent"), kernel=kernel)
    add_container(engine, "late", ["two"])
    with pytest.raises(Conflict, match="late joined network 'two'"):
        removal.execute(NetworkExecutor(service))
    assert service.store.by_name("two") is not None


def test_allocation(service: NetworkService) -> None:
    converge(service, ipam_config=[{"subnet": "10.253.1.0/29", "aux_addresses": {"r": "10.253.1.2"}}])
    a, b = "a" * 64, "b" * 64
    assert service.allocate("berthtest", a) == "10.253.1.3"
    assert service.allocate("berthtest", a) == "10.253.1.3"  # idempotent per container
    assert service.allocate("berthtest", b, "10.253.1.6") == "10.253.1.6"
    assert service.allocate("berthtest", b, "10.253.1.6") == "10.253.1.6"
    assert service.allocate("berthtest", b, "10.253.1.5") == "10.253.1.5"  # moved: the old one is free again
    with pytest.raises(Conflict, match=r"10\.253\.1\.5 on network 'berthtest' is in use") as err:
        service.allocate("berthtest", "c" * 64, "10.253.1.5")
    assert err.value.field == "networks.ipv4_address"
    with pytest.raises(InvalidInput, match="the network's gateway"):
        service.allocate("berthtest", "c" * 64, "10.253.1.1")
    assert service.allocate("berthtest", "c" * 64) == "10.253.1.4"
    assert service.allocate("berthtest", "d" * 64) == "10.253.1.6"
    with pytest.raises(InvalidState, match="has no free address"):
        service.allocate("berthtest", "e" * 64)
    service.release("berthtest", a)
    service.release("berthtest", a)  # no error twice
    service.release("nosuchnet", a)
    assert service.allocate("berthtest", "e" * 64) == "10.253.1.3"
    with pytest.raises(NotFound) as missing:
        service.allocate("nosuchnet", a)
    assert missing.value.field == "networks" and missing.value.hint


def test_static_address_needs_a_stated_subnet(service: NetworkService) -> None:
    converge(service)
    with pytest.raises(InvalidInput, match="needs a network with a configured subnet"):
        service.allocate("berthtest", "a" * 64, "172.17.0.9")


def test_default_network_and_facts(service: NetworkService, kernel: FakeKernel, engine: Engine) -> None:
    default = service.ensure_default()
    assert default["name"] == "bridge" and default["default"] is True and default["bridge"].startswith("br-")
    assert default["subnet"] == "172.17.0.0/16" and kernel.bridges[default["bridge"]] == ("172.17.0.1/16", None)
    assert service.ensure_default() == default
    assert service.require("bridge") == default and service.get(default["id"]) == default
    converge(service)  # the next picked subnet avoids the default network's
    assert service.store.by_name("berthtest")["subnet"] == "172.18.0.0/16"
    web = add_container(engine, "web", ["berthtest"])
    address = service.allocate("berthtest", web)
    info = service.info(["berthtest", "nosuch"])
    assert info["missing"] == ["nosuch"]
    assert info["networks"][0]["containers"] == [{"id": web, "name": "web", "ipv4_address": address}]
    assert [n["name"] for n in service.info(None)["networks"]] == ["berthtest", "bridge"]


def test_berth0_is_the_host_roots_and_never_taken_over(
        service: NetworkService, kernel: FakeKernel, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    kernel.bridges["berth0"] = ("172.17.0.1/16", None)       # another engine's default network
    assert service.ensure_default()["bridge"] != "berth0"    # a test's state root gets br-<id>
    drop = NetworkService(engine, kernel=kernel)
    converge_network(drop, NetworkRequest(name="bridge", state="absent"))
    monkeypatch.setattr("ansible_collections.berth.engine.plugins.module_utils.network.service.DEFAULT_STATE_ROOT",
                        engine.layout.state_root)            # now this is the host's own root
    with pytest.raises(Conflict, match="bridge berth0 already exists") as err:
        service.ensure_default()
    assert err.value.field == "name" and service.store.list() == []
