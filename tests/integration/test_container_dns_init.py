"""init, etc_hosts, dns_* and log_driver on the real kernel: tini as pid 1
reaping a zombie (and a container without it keeping one), extra hosts
lines that survive a peer joining, the container's own resolv.conf, a
none log driver that keeps nothing, the module's check → apply → apply →
check.
(The Compose keys: tests/integration/compose/test_service_keys.py.)"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.container_plan import converge
from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import converge_network
from ansible_collections.berth.engine.plugins.module_utils.containers.service import ContainerService
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService
from tests.integration.test_containers import Berth
from tests.support.leaks import ContainerWatch
from tests.support.networks import drop_networks
from tests.support.peers import needs_peer
from tests.support.runtime import make_rootfs, mounts_under, wait_for

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
              needs_peer("/usr/bin/tini-static", why="Debian's tini")]
IMAGE = "local/dnsbox:1"
SUBNET = "10.254.183.0/24"   # a range of this file's own
# a child that outlives its parent is re-parented to pid 1, and exits at once: a zombie unless pid 1 reaps it
ORPHAN = "(usleep 100000 &); exec sleep 1000"
STATS = "for p in /proc/[0-9]*; do cat $p/stat 2>/dev/null; echo; done"


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


@pytest.fixture
def berth(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Berth]:
    links_before = _links()
    tool = Berth(tmp_path)
    rootfs = make_rootfs(tmp_path_factory.mktemp("dnsbox"), ("usleep", "cat"))
    engine = Engine.open(tool.state, tool.run)
    made = ContainerWatch(engine.layout.containers)
    import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sh"]), parse_reference(IMAGE))
    tool.engine = engine  # type: ignore[attr-defined]
    yield tool
    for name in json.loads(tool("ps", "-a", "--json").stdout or "{}"):
        tool("rm", "-f", name, check=False)
    assert wait_for(lambda: tool.monitor_pid() is None, timeout=10), "the monitor did not exit"
    drop_networks(engine)
    assert not mounts_under(tmp_path)
    assert _links() - links_before == set(), "veths or bridges left behind"
    leftovers = made.cgroups_left()
    made.close()
    assert not leftovers, leftovers


def _exec(berth: Berth, name: str, script: str) -> str:
    return berth("exec", name, "sh", "-c", script).stdout


def _zombies(berth: Berth, name: str) -> list[str]:
    return [line for line in _exec(berth, name, STATS).splitlines() if line.split(") ")[-1].startswith("Z")]


def test_init_is_tini_as_pid_1_and_reaps_an_orphan(berth: Berth) -> None:
    berth("run", "-d", "--name", "plain", IMAGE, "sh", "-c", ORPHAN)
    berth("run", "-d", "--name", "tini", "--init", IMAGE, "sh", "-c", ORPHAN)
    cmdline = _exec(berth, "tini", "cat /proc/1/cmdline").split("\0")
    assert cmdline[:4] == ["/sbin/docker-init", "--", "sh", "-c"]
    assert "tini" in _exec(berth, "tini", "/sbin/docker-init --version")
    # without an init the orphan stays a zombie (pid 1 is sleep); with tini it is reaped
    assert wait_for(lambda: _zombies(berth, "plain"), timeout=10), "the orphan did not become a zombie"
    assert wait_for(lambda: "(usleep)" not in _exec(berth, "tini", STATS), timeout=10)
    assert _zombies(berth, "tini") == []
    assert berth("exec", "tini", "sh", "-c", "echo x > /sbin/docker-init", check=False).returncode != 0   # ro
    # tini passes the command's exit code through, and the stop signal to it
    assert berth("run", "--rm", "--init", "--name", "code", IMAGE, "sh", "-c", "exit 7", check=False
                 ).returncode == 7
    berth("stop", "tini")
    assert berth.inspect("tini")["state"]["status"] == "exited"


def test_extra_hosts_survive_a_peer_joining(berth: Berth) -> None:
    network = converge_network(NetworkService(berth.engine), NetworkRequest(  # type: ignore[attr-defined]
        name="names", ipam_config=[{"subnet": SUBNET}]))["network"]
    berth("run", "-d", "--name", "a", "--network", "names", "--add-host", "db.internal:192.0.2.10",
          "--add-host", "v6:[2001:db8::1]", "--add-host", "gw:host-gateway", IMAGE, "sleep", "1000")
    wanted = ["192.0.2.10\tdb.internal", "2001:db8::1\tv6", f"{network['gateway']}\tgw"]
    hosts = _exec(berth, "a", "cat /etc/hosts").splitlines()
    assert all(line in hosts for line in wanted), hosts
    berth("run", "-d", "--name", "b", "--network", "names", IMAGE, "sleep", "1000")
    assert wait_for(lambda: any(line.endswith("\tb") for line in _exec(berth, "a", "cat /etc/hosts").splitlines()),
                    timeout=10), "the peer never reached the hosts file"
    hosts = _exec(berth, "a", "cat /etc/hosts").splitlines()
    assert all(line in hosts for line in wanted), hosts
    assert not any("db.internal" in line for line in _exec(berth, "b", "cat /etc/hosts").splitlines())


@pytest.mark.parametrize("network", [[], ["--network", "host"]])
def test_dns_options_are_the_resolv_conf(berth: Berth, network: list[str]) -> None:
    out = berth("run", "--rm", "--name", "r", *network, "--dns", "192.0.2.53", "--dns", "2001:db8::53",
                "--dns-search", "corp.example", "--dns-option", "ndots:2", IMAGE, "cat", "/etc/resolv.conf").stdout
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("nameserver")] == [
        "nameserver 192.0.2.53", "nameserver 2001:db8::53"]
    assert [line for line in lines if line.startswith(("search", "domain"))] == ["search corp.example"]
    assert [line for line in lines if line.startswith("options")] == ["options ndots:2"]


def test_log_driver_none_keeps_nothing(berth: Berth) -> None:
    berth("run", "-d", "--name", "quiet", "--log-driver", "none", IMAGE, "sh", "-c", "echo lost; sleep 1000")
    berth("run", "-d", "--name", "local", "--log-driver", "local", IMAGE, "sh", "-c", "echo kept; sleep 1000")
    assert wait_for(lambda: berth("logs", "local").stdout == "kept\n", timeout=10)
    logs = berth.state / "containers" / berth.inspect("quiet")["id"] / "logs"
    assert not list(logs.glob("*")) if logs.exists() else True
    refused = berth("logs", "quiet", check=False)
    assert refused.returncode != 0 and "configured logging driver does not support reading" in refused.stderr
    assert "Traceback" not in refused.stderr
    config = berth.inspect("local")["config"]
    assert (config["log_driver"], config["log_max_size"], config["log_max_file"]) == ("local", 20 << 20, 5)


def test_module_check_apply_apply_check(berth: Berth) -> None:
    engine: Engine = berth.engine  # type: ignore[attr-defined]
    params: dict[str, Any] = {"name": "mod", "image": IMAGE, "command": ["sleep", "1000"], "init": True,
                              "etc_hosts": {"db": "192.0.2.10"}, "dns_servers": ["192.0.2.53"],
                              "dns_search_domains": ["corp.example"], "dns_opts": ["ndots:3"], "log_driver": "none"}
    check = converge(engine, params, check_mode=True)
    assert check["changed"] and ContainerService(engine).store.find("mod") is None   # check mode wrote nothing
    apply = converge(engine, params, check_mode=False)
    assert apply["actions"] == check["actions"]
    assert converge(engine, params, check_mode=False)["changed"] is False
    assert converge(engine, params, check_mode=True)["changed"] is False
    assert _exec(berth, "mod", "cat /proc/1/cmdline").startswith("/sbin/docker-init\0")
    assert "192.0.2.10\tdb" in _exec(berth, "mod", "cat /etc/hosts")
    changed = converge(engine, {**params, "dns_servers": ["192.0.2.54"]}, check_mode=True)
    assert changed["changed"] and [d["option"] for d in changed["differences"]] == ["dns_servers"]
    assert changed["differences"][0]["update"] == "recreate"
