"""Hosts for overlay tests without SSH: each host a network namespace with its
own berth state and run roots, joined by a veth to an underlay bridge that
lives in a namespace of its own (no route out, nothing in the test runner's
namespace). The engine runs inside a host through ``nsenter --net`` (not
``ip netns exec``, which remounts /sys and hides the cgroup mounts).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.cli import BerthCli
from tests.support.isolation import netns_name
from tests.support.runtime import REPO

UNDERLAY = "198.51.100.{}"  # TEST-NET-2, only inside these namespaces
COLLECTIONS = REPO / ".build" / "collections"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@dataclass
class Host:
    name: str
    netns: str
    address: str
    base: Path
    cli: BerthCli = field(init=False)

    def __post_init__(self) -> None:
        self.cli = BerthCli(self.base)
        self.cli.prefix = ["nsenter", f"--net=/run/netns/{self.netns}", *self.cli.prefix]

    def sh(self, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A command inside the host's network namespace."""
        result = subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", *argv], capture_output=True, text=True,
                                timeout=timeout, check=False)
        if check:
            assert result.returncode == 0, f"{argv}: {result.stdout}{result.stderr}"
        return result

    def python(self, code: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.sh(sys.executable, "-c", textwrap.dedent(code), check=check)

    def network(self, check: bool = False, **task: object) -> dict:
        """The network task on this host (as the module runs it: check mode plans over a read-only view)."""
        code = f"""
            import json, sys
            sys.path[:0] = [{str(COLLECTIONS)!r}, {str(REPO)!r}]
            from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import validate
            from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
            from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import (
                NetworkExecutor, network_report, plan_network)
            from ansible_collections.berth.engine.plugins.module_utils.containers.service import ContainerService
            from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
            from ansible_collections.berth.engine.plugins.module_utils.errors import BerthError
            from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService
            task = json.loads({json.dumps(task)!r})
            engine = Engine.open({str(self.cli.state)!r}, {str(self.cli.run)!r})
            view = engine.view() if {check!r} else engine
            try:
                wanted = validate(NetworkRequest, task)
                plan = plan_network(view, wanted)
                if not {check!r}:
                    plan.execute(NetworkExecutor(NetworkService(engine), ContainerService(engine)))
                out = plan.result(**network_report(view, wanted, plan, not {check!r}))
            except BerthError as err:
                out = {{"failed": True, "field": err.field, "msg": str(err)}}
            print(json.dumps(out, default=str))
        """
        return json.loads(self.python(code).stdout)

    def ip_of(self, container: str, network: str) -> str:
        """The running container's address on ``network`` (inspect's state.networks)."""
        return str(self.cli.inspect(container)["state"]["networks"][network]["ip"])


@contextmanager
def underlay(base: Path, count: int) -> Iterator[list[Host]]:
    """``count`` hosts (198.51.100.1..count) on one underlay bridge; everything removed after."""
    switch = netns_name("ovsw")
    hosts = [Host(f"h{i}", netns_name(f"ovh{i}"), UNDERLAY.format(i), base / f"h{i}") for i in range(1, count + 1)]
    made: list[str] = []
    try:
        ip("netns", "add", switch)
        made.append(switch)
        ip("-n", switch, "link", "add", "sw", "type", "bridge")
        ip("-n", switch, "link", "set", "sw", "up")
        for i, host in enumerate(hosts, 1):
            ip("netns", "add", host.netns)
            made.append(host.netns)
            ip("-n", switch, "link", "add", f"p{i}", "type", "veth", "peer", "name", "u0", "netns", host.netns)
            ip("-n", switch, "link", "set", f"p{i}", "master", "sw", "up")
            ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "u0")
            ip("-n", host.netns, "link", "set", "u0", "up")
            ip("-n", host.netns, "link", "set", "lo", "up")
        yield hosts
    finally:
        for host in hosts:
            if host.netns in made:
                _stop_containers(host)
        for netns in reversed(made):
            ip("netns", "del", netns, check=False)


def _stop_containers(host: Host) -> None:
    if not host.cli.state.exists():
        return
    listed = host.cli("ps", "-a", "--json", check=False).stdout or "{}"
    for name in json.loads(listed):
        host.cli("rm", "-f", name, check=False)
