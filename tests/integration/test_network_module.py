"""The `network` and `network_info` modules through real ansible-playbook
runs against the real kernel (bridges, nftables): check → apply → apply →
check, labels in place, a subnet change recreating, default subnet picking
around a host route, bad input that leaves nothing behind, absent, and
concurrent address allocation. Names start with "berthtest", subnets are in
10.253.0.0/16, and every bridge, link and record is removed in finally blocks.
"""

from __future__ import annotations

import ipaddress
import json
import multiprocessing
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import converge_network
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.network import firewall, links
from ansible_collections.berth.engine.plugins.module_utils.network.ipam import pick_subnet
from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService
from tests.support.playbook import assert_converges, run_playbook, write_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
DUMMY = "berthtestdm0"  # a bridge: this kernel has no dummy driver


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    defaults = {"group/berth.engine.all": {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run")}}
    service = NetworkService(engine)
    made: set[str] = set()
    try:
        yield {"engine": engine, "defaults": defaults, "dir": tmp_path}
    finally:
        for record in service.store.list():
            made.add(record["bridge"])
            converge_network(service, NetworkRequest(name=record["name"], state="absent", force=True))
        subprocess.run(["ip", "link", "del", DUMMY], capture_output=True, check=False)
    assert not [bridge for bridge in made if links.bridge_exists(bridge)]


def _bridges_in(subnet: str) -> list[str]:
    """Bridges holding an address of ``subnet`` (other sessions' bridges are never in our test subnets)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "type", "bridge"], capture_output=True, text=True,
                         check=True).stdout
    network = ipaddress.IPv4Network(subnet)
    return [line.split()[1] for line in out.splitlines()
            if ipaddress.IPv4Interface(line.split()[3]).ip in network]


def _play(env: dict[str, Any], task: dict[str, Any], name: str = "play.yml", module: str = "network") -> Path:
    return write_playbook(env["dir"], [{f"berth.engine.{module}": task, "register": "out"},
                                       {"ansible.builtin.copy": {"content": "{{ out | to_json }}",
                                                                 "dest": str(env["dir"] / "out.json")},
                                        "check_mode": False, "changed_when": False}],
                          name=name, module_defaults=env["defaults"])


def _out(env: dict[str, Any]) -> dict[str, Any]:
    return json.loads((env["dir"] / "out.json").read_text())


def _record(env: dict[str, Any], name: str) -> dict[str, Any] | None:
    return NetworkService(env["engine"]).store.by_name(name)


def test_converges_labels_in_place_subnet_recreates(env: dict[str, Any]) -> None:
    task = {"name": "berthtestnet", "ipam_config": [{"subnet": "10.253.10.0/24", "iprange": "10.253.10.128/25"}],
            "labels": {"tier": "a"}}
    check, *_rest = assert_converges(_play(env, task))
    first = _record(env, "berthtestnet")
    assert first is not None and links.bridge_exists(first["bridge"])
    assert first["gateway"] == "10.253.10.1" and first["ip_range"] == "10.253.10.128/25"
    assert "10.253.10.0/24" in firewall.ruleset() and first["bridge"] in firewall.ruleset()
    assert "10.253.10.1/24" in subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", first["bridge"]],
                                              capture_output=True, text=True, check=True).stdout
    # the check run's diff showed the whole network it would make
    for line in ('-    "exists": false', '+    "subnet": "10.253.10.0/24"', '+    "gateway": "10.253.10.1"',
                 '+    "bridge": "br-'):
        assert line in check.output, check.output[-3000:]

    relabel = run_playbook(_play(env, {**task, "labels": {"tier": "b"}}), diff=True)
    assert relabel.changed == 1 and relabel.failed == 0, relabel.output[-3000:]
    assert _out(env)["actions"] == ["updated labels of network berthtestnet"]
    assert _record(env, "berthtestnet")["id"] == first["id"]  # in place

    moved = {**task, "labels": {"tier": "b"}, "ipam_config": [{"subnet": "10.253.11.0/24"}]}
    recreate = run_playbook(_play(env, moved), diff=True)
    assert recreate.changed == 1 and recreate.failed == 0, recreate.output[-3000:]
    out = _out(env)
    assert out["actions"] == ["recreated network berthtestnet (subnet, gateway, ip_range changed)"]
    second = _record(env, "berthtestnet")
    assert second["id"] != first["id"] and second["subnet"] == "10.253.11.0/24"
    assert out["network"]["bridge_present"] is True and links.bridge_exists(second["bridge"])
    assert not links.bridge_exists(first["bridge"]) and first["bridge"] not in firewall.ruleset()
    assert run_playbook(_play(env, moved)).changed == 0


def test_check_mode_creation_diff_shows_the_network(env: dict[str, Any]) -> None:
    task = {"name": "berthtestdiff", "ipam_config": [{"subnet": "10.253.12.0/24"}], "mtu": 1400}
    result = run_playbook(_play(env, task), check=True, diff=True)
    assert result.changed == 1 and result.failed == 0, result.output[-3000:]
    out = _out(env)
    after = out["diff"]["after"]
    assert out["diff"]["before"] == {"exists": False}
    assert after["subnet"] == "10.253.12.0/24" and after["gateway"] == "10.253.12.1" and after["mtu"] == 1400
    assert after["bridge"].startswith("br-") and not links.bridge_exists(after["bridge"])
    assert _record(env, "berthtestdiff") is None


def test_default_subnet_avoids_a_host_route(env: dict[str, Any]) -> None:
    free = pick_subnet({}, links.host_routes())  # what would be picked now
    blocker = ipaddress.IPv4Interface(f"{free.network_address + 1}/24")
    subprocess.run(["ip", "link", "add", DUMMY, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", str(blocker), "dev", DUMMY], check=True)
    subprocess.run(["ip", "link", "set", DUMMY, "up"], check=True)
    assert_converges(_play(env, {"name": "berthtestpick"}))
    picked = ipaddress.IPv4Network(_record(env, "berthtestpick")["subnet"])
    assert picked != free and not picked.overlaps(blocker.network)
    others = [ipaddress.IPv4Network(r) for r in links.host_routes() if r != str(picked)]
    assert not any(picked.overlaps(route) for route in others)
    # stating the subnet it picked is not a change; overlapping the host route is refused
    assert run_playbook(_play(env, {"name": "berthtestpick", "ipam_config": [{"subnet": str(picked)}]})).changed == 0
    bad = run_playbook(_play(env, {"name": "berthtestroute", "ipam_config": [{"subnet": str(blocker.network)}]}))
    assert bad.failed == 1 and f"overlaps the host route {blocker.network}" in bad.output, bad.output[-3000:]
    assert _record(env, "berthtestroute") is None


@pytest.mark.parametrize(("ipam", "text"), [
    ({"subnet": "10.253.20.0/25"}, "overlaps network 'berthtestfirst' (10.253.20.0/24)"),
    ({"subnet": "10.253.21.0/24", "gateway": "10.253.22.1"}, "gateway 10.253.22.1 is outside subnet 10.253.21.0/24"),
    ({"subnet": "10.253.21.0/24", "iprange": "10.253.22.0/25"}, "iprange 10.253.22.0/25 is outside subnet"),
])
def test_bad_addressing_makes_nothing(env: dict[str, Any], ipam: dict[str, Any], text: str) -> None:
    assert run_playbook(_play(env, {"name": "berthtestfirst", "ipam_config": [{"subnet": "10.253.20.0/24"}]})) \
        .failed == 0
    for check in (True, False):
        result = run_playbook(_play(env, {"name": "berthtestbad", "ipam_config": [ipam]}), check=check)
        assert result.failed == 1 and text in result.output, result.output[-3000:]
        assert "invalid_input" in result.output
    assert _record(env, "berthtestbad") is None and _bridges_in(ipam["subnet"]) == ["br-" + _record(
        env, "berthtestfirst")["id"][:12]] * (ipam["subnet"] == "10.253.20.0/25")


def test_absent_removes_bridge_and_rules(env: dict[str, Any]) -> None:
    task = {"name": "berthtestgone", "ipam_config": [{"subnet": "10.253.30.0/24"}], "internal": True}
    assert run_playbook(_play(env, task)).failed == 0
    record = _record(env, "berthtestgone")
    assert links.bridge_exists(record["bridge"]) and record["bridge"] in firewall.ruleset()
    # a container listing the network makes removal a conflict
    with env["engine"].metadata("containers").transaction() as txn:
        txn.put("c" * 64, {"id": "c" * 64, "name": "berthtestweb",
                           "config": {"networks": [{"name": "berthtestgone", "ipv4_address": None, "aliases": []}]}})
    refused = run_playbook(_play(env, {"name": "berthtestgone", "state": "absent"}))
    assert refused.failed == 1 and "used by container(s) berthtestweb" in refused.output, refused.output[-3000:]
    assert links.bridge_exists(record["bridge"])
    with env["engine"].metadata("containers").transaction() as txn:
        txn.delete("c" * 64)
    assert_converges(_play(env, {"name": "berthtestgone", "state": "absent"}, name="absent.yml"))
    assert _record(env, "berthtestgone") is None and not links.bridge_exists(record["bridge"])
    assert record["bridge"] not in firewall.ruleset() and record["id"] not in firewall.ruleset()
    assert env["engine"].metadata("networks").ids() == []


def test_network_info(env: dict[str, Any]) -> None:
    play = write_playbook(env["dir"], [
        {"berth.engine.network": {"name": "berthtestinfo", "ipam_config": [{"subnet": "10.253.40.0/24"}],
                                  "labels": {"a": "b"}}},
        {"berth.engine.network_info": {"name": ["berthtestinfo", "berthtestnope"]}, "register": "one"},
        {"berth.engine.network_info": {}, "register": "all"},
        {"ansible.builtin.assert": {"that": [
            "one.networks | length == 1", "one.missing == ['berthtestnope']",
            "one.networks[0].subnet == '10.253.40.0/24'", "one.networks[0].gateway == '10.253.40.1'",
            "one.networks[0].labels == {'a': 'b'}", "one.networks[0].bridge_present",
            "one.networks[0].bridge.startswith('br-')", "one.networks[0].containers == []",
            "all.networks | map(attribute='name') | list == ['berthtestinfo']", "not one.changed"]},
         "when": "not ansible_check_mode"},
    ], name="info.yml", module_defaults=env["defaults"])
    result = run_playbook(play)
    assert result.failed == 0, result.output[-4000:]
    check = run_playbook(play, check=True)
    assert check.failed == 0, check.output[-4000:]


def _allocate(state_root: str, network: str, worker: int, count: int, queue: Any) -> None:
    service = NetworkService(Engine.open(state_root, state_root + "-run"))
    queue.put([service.allocate(network, f"{worker:02d}{n:02d}".ljust(64, "0"), None) for n in range(count)])


def test_concurrent_allocation_gives_distinct_addresses(env: dict[str, Any]) -> None:
    engine = env["engine"]
    service = NetworkService(engine)
    converge_network(service, NetworkRequest(name="berthtestmany", ipam_config=[{"subnet": "10.253.50.0/24"}]))
    ctx = multiprocessing.get_context("fork")
    queue: Any = ctx.Queue()
    root = str(engine.layout.state_root)
    workers = [ctx.Process(target=_allocate, args=(root, "berthtestmany", w, 12, queue)) for w in range(8)]
    for proc in workers:
        proc.start()
    results = [queue.get(timeout=120) for _proc in workers]
    for proc in workers:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    addresses = [ip for chunk in results for ip in chunk]
    assert len(addresses) == 96 and len(set(addresses)) == 96
    assert "10.253.50.1" not in addresses and "10.253.50.0" not in addresses
    assert all(ipaddress.IPv4Address(ip) in ipaddress.IPv4Network("10.253.50.0/24") for ip in addresses)
    assert len(service.store.allocations(service.require("berthtestmany")["id"])) == 96
