"""The berth_containers inventory plugin over a real engine: containers made by the `container` module
(on a user-defined network, with labels as Compose writes them, a published port) and by `berth run -d`,
listed by `ansible-inventory` with their groups and variables, and a play over that inventory that reaches
them. The plugin's options over fake records: tests/unit/inventory/test_berth_containers.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from tests.support.cli import BerthCli
from tests.support.devinstall import dev_install
from tests.support.inventory import BIN, ansible_env, group_hosts, list_inventory, write_inventory
from tests.support.playbook import REPO, module_env, run_playbook, write_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/invbox:1"
SUBNET = "10.254.119.0/24"
COMPOSE = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from module_env(tmp_path, IMAGE, ImportConfig(cmd=["sleep", "300"]))


@pytest.fixture
def containers(env: dict[str, Any]) -> dict[str, Any]:
    """web and idle by the module (idle stopped), job by `berth run -d`."""
    play = write_playbook(env["dir"], [
        {"berth.engine.network": {"name": "invnet", "ipam_config": [{"subnet": SUBNET}]}},
        {"berth.engine.container": {"name": "web", "image": IMAGE, "networks": [{"name": "invnet"}],
                                    "labels": {"tier": "front", **COMPOSE}, "published_ports": ["127.0.0.1::2222"]}},
        {"berth.engine.container": {"name": "idle", "image": IMAGE, "state": "stopped"}},
    ], module_defaults=env["defaults"])
    made = run_playbook(play)
    assert made.failed == 0, made.output[-4000:]
    cli = BerthCli(env["dir"])
    cli("run", "-d", "--name", "job", "-l", "tier=back", IMAGE, "sleep", "300")
    inventory = write_inventory(env["dir"], cli.state, cli.run, executable=f"{sys.executable} {REPO}/bin/berth",
                                keyed_groups=[{"key": "berth_labels.tier", "prefix": "tier"}])
    return {**env, "cli": cli, "inventory": inventory}


def test_ansible_inventory_lists_module_and_cli_containers(containers: dict[str, Any]) -> None:
    listing = list_inventory(containers["inventory"])
    hostvars = listing["_meta"]["hostvars"]
    assert sorted(hostvars) == ["job", "web"], "running ones only, by default"
    web, job = hostvars["web"], hostvars["job"]
    inspected = containers["cli"].inspect("web")
    assert web["berth_id"] == inspected["id"] and web["berth_state"] == "running" and web["berth_image"] == IMAGE
    assert web["berth_networks"] == {"invnet": inspected["state"]["networks"]["invnet"]["ip"]}
    assert web["berth_networks"]["invnet"].startswith("10.254.119.")
    assert web["berth_labels"]["tier"] == "front"
    assert web["berth_compose_project"] == "shop" and web["berth_compose_service"] == "web"
    [port] = web["berth_ports"]
    assert port["container_port"] == 2222 and port["host_ip"] == "127.0.0.1" and port["host_port"] > 0
    assert job["berth_id"] == containers["cli"].inspect("job")["id"] and list(job["berth_networks"]) == ["bridge"]
    for host in (web, job):
        assert host["ansible_connection"] == "berth.engine.berth"
        assert host["ansible_berth_state_root"] == str(containers["cli"].state)
        assert host["ansible_berth_run_root"] == str(containers["cli"].run)
        assert host["ansible_berth_executable"] == f"{sys.executable} {REPO}/bin/berth"
    assert group_hosts(listing, "image_local_invbox_1") == ["job", "web"]
    assert group_hosts(listing, "network_invnet") == ["web"] and group_hosts(listing, "network_bridge") == ["job"]
    assert group_hosts(listing, "label_tier_front") == ["web"] and group_hosts(listing, "label_tier_back") == ["job"]
    assert group_hosts(listing, "compose_shop") == group_hosts(listing, "compose_shop_web") == ["web"]
    assert group_hosts(listing, "tier_front") == ["web"] and group_hosts(listing, "tier_back") == ["job"]
    assert group_hosts(listing, "running") == ["job", "web"]


def test_all_lists_the_stopped_one_and_a_stop_moves_it(containers: dict[str, Any]) -> None:
    everything = write_inventory(containers["dir"], containers["cli"].state, containers["cli"].run,
                                 name="all.berth.yml", all=True)
    listing = list_inventory(everything)
    assert group_hosts(listing, "stopped") == ["idle"] and group_hosts(listing, "running") == ["job", "web"]
    assert listing["_meta"]["hostvars"]["idle"]["berth_state"] == "created"   # made stopped: never started
    containers["cli"]("stop", "job")
    listing = list_inventory(everything)
    assert group_hosts(listing, "stopped") == ["idle", "job"]
    assert listing["_meta"]["hostvars"]["job"]["berth_networks"] == {}


def test_a_play_over_the_inventory_reaches_the_containers(containers: dict[str, Any]) -> None:
    """Its hostvars and groups in the play, and `raw` inside each container through the connection plugin the
    inventory names (busybox: no Python, so no module; tests/integration/test_connection_plugin.py runs those)."""
    tasks: list[dict[str, Any]] = [
        {"name": "facts", "ansible.builtin.debug": {"msg": "{{ berth_name }} {{ berth_state }} {{ group_names }}"},
         "register": "facts"},
        {"name": "inside", "ansible.builtin.raw": "echo hi from berth; cat /proc/1/cmdline", "register": "inside"},
        {"name": "save", "delegate_to": "localhost", "ansible.builtin.copy": {
            "content": "{{ {'facts': facts.msg, 'inside': inside.stdout_lines} | to_json }}",
            "dest": str(containers["dir"] / "reached-{{ inventory_hostname }}.json")}}]
    play = containers["dir"] / "reach.yml"
    play.write_text(yaml.safe_dump([{"name": "reach", "hosts": "running", "gather_facts": False, "tasks": tasks}]))
    done = run_over_inventory(containers["inventory"], play)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for name in ("job", "web"):
        reached = json.loads((containers["dir"] / f"reached-{name}.json").read_text())
        assert reached["facts"].startswith(f"{name} running ") and "image_local_invbox_1" in reached["facts"]
        assert reached["inside"][0] == "hi from berth" and reached["inside"][1].startswith("sleep")   # its own pid 1


def run_over_inventory(inventory: Path, play: Path) -> subprocess.CompletedProcess[str]:
    """ansible-playbook over the inventory, with the dev install the playbook helper gives modules."""
    prefix, digest = dev_install()
    env = ansible_env(BERTH_PREFIX=str(prefix), BERTH_ENGINE_DIGEST=digest, BERTH_CLI=str(REPO / "bin" / "berth"),
                      BERTH_RUNTIME=str(REPO / "bin" / "berth-runtime"), ANSIBLE_RETRY_FILES_ENABLED="0")
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(play)], capture_output=True,
                          text=True, env=env, timeout=300, check=False)
