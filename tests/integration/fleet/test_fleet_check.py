"""A fresh fleet of its own: a berth module before the role names the role, and
``--check --diff`` of the whole converge (role, image, overlay, containers) fails
nothing and creates nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.fleet import shop
from tests.support.fleet import Fleet


def _made(fleet: Fleet) -> dict[str, list[str]]:
    """Per host: every file under its private dirs but /tmp (the play's scratch tar goes there),
    and its links and nft tables."""
    found: dict[str, list[str]] = {}
    for host in fleet.hosts:
        private = ("opt", "var/lib/berth", "run/berth", "usr/local/bin", "etc/sysctl.d")
        files = [str(p.relative_to(host.root)) for d in private for p in (host.root / d).rglob("*")]
        links = [link["ifname"] for link in json.loads(host.run("ip", "-j", "link", "show").stdout)]
        tables = host.run("nft", "list", "tables", check=False).stdout.split("\n")
        found[host.name] = sorted(files) + sorted(links) + [t for t in tables if t.strip()]
    return found


def test_module_before_the_role_names_the_role(fresh_fleet: Fleet) -> None:
    play = fresh_fleet.write_play("before role", [{"berth.engine.host_info": {}}])
    result = fresh_fleet.play(play)
    assert result.failed() == len(fresh_fleet.hosts), result.summary()
    assert "apply the berth.engine.host role" in result.output and "Traceback" not in result.output, result.output


def test_check_diff_on_a_fresh_fleet_fails_nothing_creates_nothing(fresh_fleet: Fleet, rootfs_tar: Path) -> None:
    before = _made(fresh_fleet)
    result = fresh_fleet.play(shop.converge_play(fresh_fleet, rootfs_tar), check=True, diff=True)
    assert result.failed() == 0 and result.returncode == 0, result.summary()
    assert result.changed() > 0, "check mode planned nothing on a fresh fleet"
    assert _made(fresh_fleet) == before
    network = [t for t in result.tasks if t["action"] == "berth.engine.network"]
    assert network and all(t["changed"] for t in network), network
    # --diff shows the peers the run would add
    assert all(h.address in result.output for h in fresh_fleet.hosts), result.output[-3000:]
