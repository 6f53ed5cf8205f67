"""A Compose service's init, extra_hosts, dns, dns_search, dns_opt and
logging driver through plan_project on the real kernel: what the container
sees (PID 1, /etc/hosts, /etc/resolv.conf) and logs that are not kept."""

from __future__ import annotations

import pytest

from tests.integration.compose.conftest import Roots

SCRIPT = "(sleep 0 &); exec sleep 1000"   # a child PID 1 must reap


def test_compose_service_keys_through_plan_project(roots: Roots) -> None:
    project = roots.project({"web": {
        "image": "busybox:latest", "command": ["sh", "-c", SCRIPT],
        "stop_grace_period": "1s", "init": True, "extra_hosts": ["db=192.0.2.10", "gw=host-gateway"],
        "dns": ["192.0.2.53"], "dns_search": ["corp.example"], "dns_opt": ["ndots:2"],
        "logging": {"driver": "none"}}})
    roots.up(project)
    assert not roots.check(project).changed
    service = roots.containers()

    def run(script: str) -> str:
        result = service.execute("shop-web-1", ["sh", "-c", script], timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout.decode()

    assert run("cat /proc/1/cmdline").split("\0")[:2] == ["/sbin/docker-init", "--"]
    gateway = next(iter(service.store.get("shop-web-1")["state"]["networks"].values()))["gateway"]
    hosts = run("cat /etc/hosts").splitlines()
    assert "192.0.2.10\tdb" in hosts and f"{gateway}\tgw" in hosts
    resolv = run("cat /etc/resolv.conf").splitlines()
    assert "nameserver 192.0.2.53" in resolv and "search corp.example" in resolv and "options ndots:2" in resolv
    with pytest.raises(Exception, match="configured logging driver does not support reading"):
        service.logs("shop-web-1")
