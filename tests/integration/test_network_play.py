"""A whole play of volume + network + containers through ansible-playbook:
check mode on a fresh host plans it without failing, then check → apply →
apply → check; networks change in place; `connected`, forced recreation."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.containers.service import ContainerService
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.network import firewall
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.support.playbook import assert_converges, module_env, recorded, recording_play, run_playbook
from tests.support.runtime import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/playbox:1"
SUBNET = "10.254.30.0/24"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from module_env(tmp_path, IMAGE, ImportConfig(cmd=["sh"]))


def _tasks(aliases: list[str]) -> list[dict[str, Any]]:
    return [
        {"berth.engine.volume": {"name": "site"}},
        {"berth.engine.network": {"name": "appnet", "ipam_config": [{"subnet": SUBNET}]}},
        {"berth.engine.container": {"name": "web", "image": IMAGE, "command": "httpd -f -p 80 -h /www",
                                    "volumes": ["site:/www:ro"], "published_ports": ["127.0.0.1:18090:80"],
                                    "networks": [{"name": "appnet", "aliases": aliases}]}},
        {"berth.engine.container": {"name": "client", "image": IMAGE, "networks": [{"name": "appnet"}],
                                    "command": ["sh", "-c", "while true; do wget -q -O - http://www/; sleep 1; done"]}},
    ]


def _play(env: dict[str, Any], tasks: list[dict[str, Any]], name: str = "play.yml") -> Path:
    return recording_play(env["dir"], tasks, env["defaults"], name)


def _out(env: dict[str, Any]) -> list[dict[str, Any]]:
    return recorded(env["dir"])


def test_the_whole_play_converges_and_check_mode_plans_it_on_a_fresh_host(env: dict[str, Any]) -> None:
    results = assert_converges(_play(env, _tasks(["www"])), made_by_earlier_tasks=("create volume site",))
    assert "does not exist yet" in results[0].output, "check mode warned, not failed, about the network"
    (VolumeService(env["engine"]).mountpoint("site") / "index.html").write_text("served from a volume\n")
    page = urllib.request.urlopen("http://127.0.0.1:18090/", timeout=5).read().decode()
    assert page == "served from a volume\n"
    store = ContainerStore(env["engine"])
    assert wait_for(lambda: "served from a volume" in (env["engine"].layout.state_root / "containers" /
                                                       store.get("client")["id"] / "logs" /
                                                       "container.log").read_text(), timeout=10)
    web = store.get("web")
    assert web["state"]["ports"] == [{"container_port": 80, "host_ip": "127.0.0.1", "host_port": 18090,
                                      "proto": "tcp"}]
    # a changed alias is changed in place: same container, same process (a play of the web task alone)
    assert run_playbook(_play(env, [_tasks(["www", "site"])[2]], name="alias.yml")).changed == 1
    after = store.get("web")
    assert (after["id"], after["state"]["pid"]) == (web["id"], web["state"]["pid"])
    assert sorted(after["state"]["networks"]["appnet"]["aliases"]) == ["site", "www"]
    inside = ContainerService(env["engine"]).execute("client", ["wget", "-q", "-O", "-", "http://site/"])
    assert inside.stdout == b"served from a volume\n", "the new alias resolves in the running peer"


def test_connected_appends_and_forced_recreation(env: dict[str, Any]) -> None:
    extra = {"berth.engine.container": {"name": "loner", "image": IMAGE, "command": "sleep 300",
                                        "network_mode": "none"}}
    made = run_playbook(_play(env, [*_tasks(["www"]), extra]))
    assert made.failed == 0, made.output[-3000:]
    store = ContainerStore(env["engine"])
    connect = {"berth.engine.network": {"name": "appnet", "ipam_config": [{"subnet": SUBNET}],
                                        "connected": ["loner"], "appends": True}}
    assert run_playbook(_play(env, [connect]), check=True).changed == 1
    assert run_playbook(_play(env, [connect])).changed == 1
    assert "appnet" in store.get("loner")["state"]["networks"]
    addresses = ContainerService(env["engine"]).execute("loner", ["ip", "-o", "-4", "addr"]).stdout.decode()
    assert "eth0" in addresses and "10.254.30." in addresses, "connected live: eth0 appeared inside"
    assert run_playbook(_play(env, [connect])).changed == 0
    # recreating the network (a new subnet) needs force (without: tests/unit/network/test_service.py);
    # its containers are reconnected
    moved = {"berth.engine.network": {"name": "appnet", "ipam_config": [{"subnet": "10.254.31.0/24"}],
                                      "force": True}}
    assert run_playbook(_play(env, [moved])).changed == 1
    assert "reconnected" in " ".join(_out(env)[0]["actions"])
    web = store.get("web")
    assert web["state"]["networks"]["appnet"]["ip"].startswith("10.254.31.")
    rules = firewall.Firewall().published(web["id"])
    assert [(p.host_port, p.container_ip) for p in rules] == [(18090, web["state"]["networks"]["appnet"]["ip"])]
    # connected without appends: only loner stays
    only = {"berth.engine.network": {"name": "appnet", "ipam_config": [{"subnet": "10.254.31.0/24"}],
                                     "connected": ["loner"]}}
    assert run_playbook(_play(env, [only])).changed == 1
    assert "appnet" not in store.get("web")["state"]["networks"]
    inside_web = ContainerService(env["engine"]).execute("web", ["ip", "-o", "-4", "addr"]).stdout.decode()
    assert "10.254.31." not in inside_web, "disconnected live: the address is gone inside"
    assert firewall.Firewall().published(store.get("web")["id"]) == [], "no network left: no published port"
    assert [n["name"] for n in store.get("loner")["config"]["networks"]] == ["appnet"]
