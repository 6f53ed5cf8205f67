"""The `network` and `network_info` modules through real ansible-playbook
runs against the real kernel (bridges, nftables): check → apply → apply →
check, labels in place, a subnet change recreating, network_info, default
subnet picking around a host route, bad addressing that leaves nothing behind
(one play), absent, and concurrent address allocation. The plan's decisions
and its bad input are unit tests (tests/unit/network/test_service.py,
tests/unit/test_bad_input_modules.py). Names start with "berthtest", subnets are in
10.253.0.0/16, and every bridge, link and record is removed in finally blocks.
"""

from __future__ import annotations

import ipaddress
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
from tests.support.playbook import (
    assert_converges,
    assert_failed_cleanly,
    recorded,
    recording_play,
    run_playbook,
    write_playbook,
)

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


def _play(env: dict[str, Any], task: dict[str, Any], name: str = "play.yml") -> Path:
    return recording_play(env["dir"], [{"berth.engine.network": task}], env["defaults"], name)


def _out(env: dict[str, Any]) -> dict[str, Any]:
    return recorded(env["dir"])[0]


def _record(env: dict[str, Any], name: str) -> dict[str, Any] | None:
    return NetworkService(env["engine"]).store.by_name(name)


def test_converges_labels_in_place_subnet_recreates(env: dict[str, Any]) -> None:
    task = {"name": "berthtestnet", "ipam_config": [{"subnet": "10.253.10.0/24", "iprange": "10.253.10.128/25"}],
            "labels": {"tier": "a"}, "mtu": 1400}
    check, *_rest = assert_converges(_play(env, task))
    first = _record(env, "berthtestnet")
    assert first is not None and links.bridge_exists(first["bridge"])
    assert first["gateway"] == "10.253.10.1" and first["ip_range"] == "10.253.10.128/25" and first["mtu"] == 1400
    assert "10.253.10.0/24" in firewall.ruleset() and first["bridge"] in firewall.ruleset()
    assert "10.253.10.1/24" in subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", first["bridge"]],
                                              capture_output=True, text=True, check=True).stdout
    # the check run's diff showed the whole network it would make (and made nothing: the apply planned the same)
    for line in ('-    "exists": false', '+    "subnet": "10.253.10.0/24"', '+    "gateway": "10.253.10.1"',
                 '+    "bridge": "br-', '+    "mtu": 1400'):
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
    # converged: no change, and network_info reports it (in a normal run and in check mode)
    info = write_playbook(env["dir"], [
        {"berth.engine.network": moved},
        {"berth.engine.network_info": {"name": ["berthtestnet", "berthtestnope"]}, "register": "one"},
        {"berth.engine.network_info": {}, "register": "all"},
        {"ansible.builtin.assert": {"that": [
            "one.networks | length == 1", "one.missing == ['berthtestnope']",
            "one.networks[0].subnet == '10.253.11.0/24'", "one.networks[0].gateway == '10.253.11.1'",
            "one.networks[0].labels == {'tier': 'b'}", "one.networks[0].bridge_present",
            "one.networks[0].bridge.startswith('br-')", "one.networks[0].containers == []",
            "all.networks | map(attribute='name') | list == ['berthtestnet']", "not one.changed"]}},
    ], name="info.yml", module_defaults=env["defaults"])
    for check_mode in (False, True):
        result = run_playbook(info, check=check_mode)
        assert result.failed == 0 and result.changed == 0, result.output[-4000:]


def test_default_subnet_avoids_a_host_route_and_bad_addressing_fails(env: dict[str, Any]) -> None:
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
    # one play: stating the subnet it picked is not a change; bad addressing fails (errors ignored), making nothing
    half = next(picked.subnets(new_prefix=picked.prefixlen + 1))
    bad = [({"name": "berthtestroute", "ipam_config": [{"subnet": str(blocker.network)}]},
            f"overlaps the host route {blocker.network}"),
           ({"name": "berthtestover", "ipam_config": [{"subnet": str(half)}]},
            f"overlaps network 'berthtestpick' ({picked})"),
           ({"name": "berthtestgw", "ipam_config": [{"subnet": "10.253.21.0/24", "gateway": "10.253.22.1"}]},
            "gateway 10.253.22.1 is outside subnet 10.253.21.0/24"),
           ({"name": "berthtestrange", "ipam_config": [{"subnet": "10.253.21.0/24", "iprange": "10.253.22.0/25"}]},
            "iprange 10.253.22.0/25 is outside subnet 10.253.21.0/24")]
    play = recording_play(env["dir"], [
        {"berth.engine.network": {"name": "berthtestpick", "ipam_config": [{"subnet": str(picked)}]}},
        *({"berth.engine.network": task, "ignore_errors": True} for task, _text in bad),
    ], env["defaults"], "bad.yml")
    result = run_playbook(play)
    assert result.returncode == 0 and result.changed == 0, result.output[-3000:]
    stated, *failures = recorded(env["dir"])
    assert not stated["changed"] and not stated.get("failed"), stated
    for (task, text), failed in zip(bad, failures, strict=True):
        assert_failed_cleanly(failed, text)
        assert failed["error"]["kind"] == "invalid_input"
        assert _record(env, task["name"]) is None
    assert _bridges_in("10.253.21.0/24") == [] and _bridges_in(str(half)) == [_record(env, "berthtestpick")["bridge"]]


def test_absent_removes_bridge_and_rules(env: dict[str, Any]) -> None:
    task = {"name": "berthtestgone", "ipam_config": [{"subnet": "10.253.30.0/24"}], "internal": True}
    assert run_playbook(_play(env, task)).failed == 0
    record = _record(env, "berthtestgone")
    assert links.bridge_exists(record["bridge"]) and record["bridge"] in firewall.ruleset()
    # (a container on the network makes removal a conflict without force: tests/unit/network/test_service.py)
    assert_converges(_play(env, {"name": "berthtestgone", "state": "absent"}, name="absent.yml"))
    assert _record(env, "berthtestgone") is None and not links.bridge_exists(record["bridge"])
    assert record["bridge"] not in firewall.ruleset() and record["id"] not in firewall.ruleset()
    assert env["engine"].metadata("networks").ids() == []


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
