"""The network task's plan for overlay networks against a recording fake kernel:
check → apply → apply → check, check mode writes nothing, --diff shows peers
and routes, a peer change converges only the per-peer entries, a recreation
for addressing changes, removal, bad input leaving nothing behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.network.overlay import (
    EntryChanges,
    KernelEntries,
    entry_changes,
)
from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService
from tests.unit.network.test_service import FakeKernel, converge

A, B, C = "192.0.2.1", "192.0.2.2", "192.0.2.3"


@dataclass
class FakeOverlayKernel(FakeKernel):
    addresses: dict[str, int] = field(default_factory=lambda: {A: 1500})
    devices: dict[str, KernelEntries] = field(default_factory=dict)
    overlay_rules: dict[str, Any] = field(default_factory=dict)

    def underlay_mtu(self, address: str) -> int | None:
        return self.addresses.get(address)

    def ensure_overlay(self, record: dict[str, Any]) -> None:
        self.calls.append(("ensure_overlay", record["id"]))
        self.devices.setdefault(record["id"], KernelEntries())

    def overlay_entries(self, record: dict[str, Any]) -> KernelEntries | None:
        return self.devices.get(record["id"])

    def apply_overlay(self, record: dict[str, Any], changes: EntryChanges) -> None:
        self.calls.append(("apply_overlay", tuple(changes.describe())))
        have = self.devices[record["id"]]
        self.devices[record["id"]] = KernelEntries(
            (have.routes - changes.remove.routes) | changes.add.routes,
            (have.neighbours - changes.remove.neighbours) | changes.add.neighbours,
            (have.fdb - changes.remove.fdb) | changes.add.fdb)

    def remove_overlay(self, record: dict[str, Any]) -> None:
        self.calls.append(("remove_overlay", record["id"]))
        self.devices.pop(record["id"], None)

    def ensure_overlay_firewall(self, rules: Any) -> None:
        self.calls.append(("ensure_overlay_firewall", rules.network_id, rules.peers))
        self.overlay_rules[rules.network_id] = rules


@pytest.fixture
def kernel() -> FakeOverlayKernel:
    return FakeOverlayKernel()


@pytest.fixture
def service(engine: Engine, kernel: FakeOverlayKernel) -> NetworkService:
    return NetworkService(engine, kernel=kernel)


def shop(service: NetworkService, peers: list[str], check: bool = False, **extra: Any) -> dict[str, Any]:
    options = {"local_address": A, "peers": peers, **extra.pop("overlay", {})}
    return converge(service, check, name="shop", driver="overlay", ipam_config=[{"subnet": "10.240.0.0/16"}],
                    overlay=options, **extra)


def test_check_apply_apply_check(service: NetworkService, kernel: FakeOverlayKernel) -> None:
    planned = shop(service, [A, B], check=True)
    assert planned["changed"] and kernel.calls == [] and service.store.list() == []
    assert planned["diff"]["after"]["overlay"]["peers"] == [A, B]
    assert planned["diff"]["after"]["routes"][0].startswith("10.240.1.0/24 via 10.240.1.0 dev vx-")
    assert "created overlay network shop" in planned["actions"][0]
    applied = shop(service, [A, B])
    assert applied["changed"]
    record = applied["network"]
    assert (record["subnet"], record["gateway"], record["mtu"], record["driver"]) == \
        ("10.240.0.0/24", "10.240.0.1", 1450, "overlay")
    assert record["overlay"]["slices"] == {A: "10.240.0.0/24", B: "10.240.1.0/24"}
    assert kernel.bridges[record["bridge"]] == ("10.240.0.1/24", 1450)
    assert kernel.devices[record["id"]] == KernelEntries(
        frozenset({("10.240.1.0/24", "10.240.1.0")}),
        frozenset({("10.240.1.0", record_mac(record, B))}), frozenset({(record_mac(record, B), B)}))
    assert kernel.overlay_rules[record["id"]].peers == (B,)
    kernel.calls.clear()
    assert not shop(service, [A, B])["changed"] and kernel.calls == []
    assert not shop(service, [A, B], check=True)["changed"]


def record_mac(record: dict[str, Any], peer: str) -> str:
    from ansible_collections.berth.engine.plugins.module_utils.network.overlay import vtep_mac

    return vtep_mac(record["overlay"]["vni"], peer)


def test_peer_changes_touch_only_the_peer_entries(service: NetworkService, kernel: FakeOverlayKernel) -> None:
    first = shop(service, [A, B])["network"]
    kernel.calls.clear()
    planned = shop(service, [A, B, C], check=True)
    assert planned["changed"] and kernel.calls == []
    assert planned["diff"]["before"]["overlay"]["peers"] == [A, B]
    assert planned["diff"]["after"]["overlay"]["peers"] == [A, B, C]
    assert len(planned["diff"]["after"]["routes"]) == 2
    grown = shop(service, [A, B, C])
    assert grown["network"]["id"] == first["id"] and grown["network"]["bridge"] == first["bridge"]
    assert [c[0] for c in kernel.calls] == ["ensure_overlay", "apply_overlay", "ensure_overlay_firewall"]
    assert not any(c[0] in ("remove_bridge", "remove_overlay") for c in kernel.calls)
    assert len(kernel.devices[first["id"]].routes) == 2
    shrunk = shop(service, [A, B])
    assert shrunk["changed"] and kernel.devices[first["id"]].routes == {("10.240.1.0/24", "10.240.1.0")}
    assert service.store.by_name("shop")["overlay"]["peers"] == [A, B]
    assert not shop(service, [A, B])["changed"]


def test_kernel_drift_is_repaired(service: NetworkService, kernel: FakeOverlayKernel) -> None:
    record = shop(service, [A, B])["network"]
    kernel.devices[record["id"]] = KernelEntries(frozenset({("10.240.9.0/24", "10.240.9.0")}))  # lost + stray
    repaired = shop(service, [A, B])
    assert repaired["changed"] and "converged peers" in repaired["actions"][0]
    want = kernel.devices[record["id"]]
    assert entry_changes(want, want).empty and ("10.240.9.0/24", "10.240.9.0") not in want.routes
    kernel.devices.pop(record["id"])  # the VXLAN device gone (a reboot): realized again
    assert "restored bridge" in shop(service, [A, B])["actions"][0]
    assert record["id"] in kernel.devices


def test_addressing_changes_recreate(service: NetworkService, kernel: FakeOverlayKernel) -> None:
    first = shop(service, [A, B])["network"]
    again = shop(service, [A, B], overlay={"vni": 77})
    assert "recreated network shop (overlay.vni changed)" in again["actions"][0]
    assert again["network"]["id"] != first["id"] and first["id"] not in kernel.devices


def test_removal(service: NetworkService, kernel: FakeOverlayKernel) -> None:
    record = shop(service, [A, B])["network"]
    gone = converge(service, name="shop", state="absent")
    assert gone["changed"] and not kernel.devices and not kernel.bridges and record["id"] not in kernel.rules
    assert service.store.list() == []


@pytest.mark.parametrize(("task", "field", "text"), [
    ({"overlay": {"local_address": "203.0.113.9"}}, "overlay.local_address", "not an address of this host"),
    ({"encrypted": True}, "encrypted", "CONFIG_INET_ESP"),
    ({"driver_options": {"com.docker.network.driver.overlay.vxlanid_list": "5"}}, "driver_options", "not supported"),
    ({"ipam_config": [{"subnet": "10.240.0.0/16", "gateway": "10.240.0.1"}]}, "ipam_config", "gateway"),
    ({"ipam_config": []}, "ipam_config", "subnet"),
    ({"overlay": {"port": 0}}, "overlay.port", "UDP port"),
    ({"mtu": 1400, "overlay": {"mtu": 1300}}, "mtu", "disagree"),
])
def test_bad_input_makes_nothing(service: NetworkService, kernel: FakeOverlayKernel, task: dict, field: str,
                                 text: str) -> None:
    options = {"name": "shop", "driver": "overlay", "ipam_config": [{"subnet": "10.240.0.0/16"}],
               "overlay": {"local_address": A, "peers": [B]}}
    overlay = {**options["overlay"], **task.pop("overlay", {})}
    with pytest.raises(InvalidInput) as err:
        converge(service, **{**options, **task, "overlay": overlay})
    assert err.value.field == field and text in err.value.message, err.value
    assert kernel.calls == [] and service.store.list() == []


def test_bridge_options_refuse_overlay_fields(service: NetworkService) -> None:
    with pytest.raises(InvalidInput) as err:
        converge(service, name="plain", overlay={"local_address": A})
    assert err.value.field == "overlay"
