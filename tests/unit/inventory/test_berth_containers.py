"""The berth_containers inventory plugin over a fake record set: container documents written into a state
root of the test's own (no kernel, no monitor), read by the real ``ansible-inventory``. What a container is
listed as (containers/listing.py: running only by default, a dead unwatched process as exited, half-made ones
left out, nothing written), its host variables and groups, the Constructable options, filters, the ssh
connection type, and bad configurations failing with a message that names the option."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.inventory import berth_containers as plugin
from ansible_collections.berth.engine.plugins.module_utils.containers import options
from ansible_collections.berth.engine.plugins.module_utils.containers.listing import ListedContainer, list_containers
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.runtime.state import start_time
from tests.support.inventory import group_hosts, list_inventory, run_inventory, write_inventory

IMAGE = "registry.example/team/web:1.2"
COMPOSE = {"com.docker.compose.project": "shop", "com.docker.compose.service": "api"}
ALIVE = {"pid": os.getpid(), "pid_start": start_time(os.getpid())}   # this test process: a live "init"
WEB_NETWORKS = {"front": {"ip": "10.254.200.5", "prefix": 24}, "back": {"ip": "10.254.201.5", "prefix": 24}}
WEB_PORTS = [{"host_ip": "0.0.0.0", "host_port": 18022, "container_port": 22, "proto": "tcp"}]


def document(number: int, name: str, state: dict[str, Any], labels: dict[str, str] | None = None,
             **more: Any) -> dict[str, Any]:
    spec = options.build_spec(IMAGE, {"labels": labels or {}, "env": {"SECRET": "s3cret"}})
    return {"id": f"{number:x}" * 64, "name": name, "image": IMAGE, "image_id": "sha256:" + "e" * 64,
            "config": {}, "spec": spec.to_dict(), "stated": ["labels", "env"],
            "state": {"restart_count": 0, **state}, "created": "2026-01-01T00:00:00Z", **more}


RECORDS = [
    document(1, "web", {"status": "running", **ALIVE, "networks": WEB_NETWORKS, "ports": WEB_PORTS},
             {"tier": "front", "owner.team": "a b"}),
    document(2, "api", {"status": "running", "paused": True, **ALIVE,
                        "networks": {"shop_default": {"ip": "10.254.202.7"}}}, COMPOSE),
    document(3, "idle", {"status": "exited", "exit_code": 0}),
    document(4, "ghost", {"status": "running", "pid": 2 ** 22 + 1, "pid_start": 1, "networks": WEB_NETWORKS}),
    document(5, "half", {"status": "created"}, creating={"pid": os.getpid(), "pid_start": ALIVE["pid_start"]}),
]


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    with ContainerStore(engine).meta.transaction() as txn:
        for record in RECORDS:
            txn.create(record["id"], record)
    return engine.layout.state_root, engine.layout.run_root


def tree_stamp(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in [root, *root.rglob("*")]}


def test_the_listing_reads_running_ones_and_writes_nothing(roots: tuple[Path, Path]) -> None:
    state, run = roots
    before = tree_stamp(state), tree_stamp(run)
    running = list_containers(state, run)
    everything = list_containers(state, run, include_stopped=True)
    assert (tree_stamp(state), tree_stamp(run)) == before, "a listing writes nothing"
    assert [(c.name, c.state, c.running) for c in running] == [("api", "paused", True), ("web", "running", True)]
    # the ghost's process died while no monitor watched: exited, with no addresses; "half" is still being made
    assert [(c.name, c.state) for c in everything] == [("api", "paused"), ("ghost", "exited"), ("idle", "exited"),
                                                       ("web", "running")]
    ghost = next(c for c in everything if c.name == "ghost")
    assert ghost.networks == {} and ghost.ports == () and not ghost.running
    assert running[1].networks == {"front": "10.254.200.5", "back": "10.254.201.5"}
    assert running[0].compose_project == "shop" and running[0].compose_service == "api"


def test_the_listing_takes_no_lock(roots: tuple[Path, Path]) -> None:
    """A play converging the engine holds the containers lock; an inventory read meanwhile does not wait."""
    engine = Engine.open(*roots)
    with ContainerStore(engine).meta.transaction(timeout=1):
        assert [c.name for c in list_containers(*roots)] == ["api", "web"]


def test_a_missing_state_root_lists_nothing(tmp_path: Path) -> None:
    assert list_containers(tmp_path / "none", tmp_path / "run") == []
    assert not (tmp_path / "none").exists()


def test_hosts_vars_and_default_groups(roots: tuple[Path, Path], tmp_path: Path) -> None:
    listing = list_inventory(write_inventory(tmp_path, *roots))
    hostvars = listing["_meta"]["hostvars"]
    assert sorted(hostvars) == ["api", "web"]
    web = hostvars["web"]
    assert web["ansible_connection"] == "berth.engine.berth" and web["ansible_host"] == "web"
    assert web["ansible_berth_state_root"] == str(roots[0]) and web["ansible_berth_run_root"] == str(roots[1])
    assert web["berth_id"] == "1" * 64 and web["berth_name"] == "web" and web["berth_image"] == IMAGE
    assert web["berth_state"] == "running" and web["berth_labels"] == {"tier": "front", "owner.team": "a b"}
    assert web["berth_networks"] == {"front": "10.254.200.5", "back": "10.254.201.5"}
    assert web["berth_ports"] == WEB_PORTS and "berth_compose_project" not in web
    assert "berth_inspect" not in web, "the record (its env secrets) only with verbose_output"
    assert hostvars["api"]["berth_compose_project"] == "shop" and hostvars["api"]["berth_compose_service"] == "api"
    assert group_hosts(listing, "image_registry_example_team_web_1_2") == ["api", "web"]
    assert group_hosts(listing, "network_front") == group_hosts(listing, "network_back") == ["web"]
    assert group_hosts(listing, "label_tier_front") == ["web"]
    assert group_hosts(listing, "label_owner_team_a_b") == ["web"]
    assert group_hosts(listing, "compose_shop") == group_hosts(listing, "compose_shop_api") == ["api"]
    assert group_hosts(listing, "running") == ["api", "web"] and group_hosts(listing, "stopped") == []


def test_all_lists_stopped_ones(roots: tuple[Path, Path], tmp_path: Path) -> None:
    listing = list_inventory(write_inventory(tmp_path, *roots, all=True))
    assert sorted(listing["_meta"]["hostvars"]) == ["api", "ghost", "idle", "web"]
    assert group_hosts(listing, "stopped") == ["ghost", "idle"]
    assert listing["_meta"]["hostvars"]["idle"]["berth_state"] == "exited"


def test_constructable_options_and_verbose_output(roots: tuple[Path, Path], tmp_path: Path) -> None:
    path = write_inventory(tmp_path, *roots, verbose_output=True, executable="/opt/berth/bin/berth",
                           keyed_groups=[{"key": "berth_labels.tier | default('none')", "prefix": "tier"}],
                           groups={"paused_ones": "berth_state == 'paused'",
                                   "with_secret": "berth_inspect.spec.env.SECRET == 's3cret'"},
                           compose={"first_ip": "berth_networks.values() | sort | first"})
    listing = list_inventory(path)
    hostvars = listing["_meta"]["hostvars"]
    assert group_hosts(listing, "tier_front") == ["web"] and group_hosts(listing, "tier_none") == ["api"]
    assert group_hosts(listing, "paused_ones") == ["api"]
    assert group_hosts(listing, "with_secret") == ["api", "web"]
    assert hostvars["web"]["first_ip"] == "10.254.200.5" and hostvars["api"]["first_ip"] == "10.254.202.7"
    assert hostvars["web"]["berth_inspect"]["id"] == "1" * 64
    assert hostvars["web"]["ansible_berth_executable"] == "/opt/berth/bin/berth"


def test_filters_first_match_decides(roots: tuple[Path, Path], tmp_path: Path) -> None:
    path = write_inventory(tmp_path, *roots, all=True,
                           filters=[{"include": "berth_name == 'idle'"}, {"exclude": "berth_state == 'exited'"},
                                    {"exclude": "berth_compose_project is defined"}])
    assert sorted(list_inventory(path)["_meta"]["hostvars"]) == ["idle", "web"]
    only = write_inventory(tmp_path, *roots, name="only.berth.yml",
                           filters=[{"include": "'tier' in berth_labels"}, {"exclude": True}])
    assert sorted(list_inventory(only)["_meta"]["hostvars"]) == ["web"]


def test_ssh_connection_type(roots: tuple[Path, Path], tmp_path: Path) -> None:
    listing = list_inventory(write_inventory(tmp_path, *roots, connection_type="ssh"))
    web, api = listing["_meta"]["hostvars"]["web"], listing["_meta"]["hostvars"]["api"]
    assert "ansible_connection" not in web
    assert (web["ansible_host"], web["ansible_port"]) == ("127.0.0.1", 18022)   # its published port 22
    assert (api["ansible_host"], api["ansible_port"]) == ("10.254.202.7", 22)   # not published: its address


def test_default_roots_set_no_connection_roots() -> None:
    container = ListedContainer(id="f" * 64, name="x", image="busybox", image_id=None, state="running")
    module = plugin.InventoryModule()
    module.get_option = {"state_root": plugin.DEFAULT_STATE_ROOT, "run_root": plugin.DEFAULT_RUN_ROOT,  # type: ignore
                         "executable": None, "connection_type": "berth"}.get
    assert module._connection_variables(container) == {"ansible_connection": "berth.engine.berth",
                                                       "ansible_host": "x"}


@pytest.mark.parametrize(("filters", "words"), [
    ([{"include": "true", "exclude": "true"}], ("filters", "entry 1", "one key")),
    (["berth_name == 'web'"], ("filters", "entry 1", "include or exclude")),
    ([{"include": "  "}], ("filters", "entry 1", "no condition")),
])
def test_malformed_filters_name_the_entry(filters: list[Any], words: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput) as raised:
        plugin.checked_filters(filters)
    assert all(word in str(raised.value) for word in words), str(raised.value)


@pytest.mark.parametrize(("options", "words"), [
    ({"filters": [{"keep": "true"}]}, ("filters", "include or exclude")),
    ({"connection_type": "docker"}, ("connection_type", "berth", "ssh")),
    ({"filters": [{"include": "berth_nonesuch.x"}]}, ("filters", "include", "berth_nonesuch")),
])
def test_a_bad_configuration_fails_naming_the_option(roots: tuple[Path, Path], tmp_path: Path,
                                                     options: dict[str, Any], words: tuple[str, ...]) -> None:
    done = run_inventory(write_inventory(tmp_path, *roots, **options), "--list")
    assert done.returncode != 0
    assert all(word in done.stderr for word in words), done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_a_layout_of_another_version_fails_naming_the_state_root(roots: tuple[Path, Path], tmp_path: Path) -> None:
    (roots[0] / "layout-version").write_text("99")
    done = run_inventory(write_inventory(tmp_path, *roots), "--list")
    assert done.returncode != 0 and "state_root" in done.stderr and "layout version 99" in done.stderr


def test_a_file_not_named_berth_yml_is_not_the_plugins(roots: tuple[Path, Path], tmp_path: Path) -> None:
    done = run_inventory(write_inventory(tmp_path, *roots, name="containers.yml"), "--list")
    assert done.returncode != 0 and "berth.engine.berth_containers" in done.stderr   # verify_file refused it
    assert sorted(list_inventory(write_inventory(tmp_path, *roots, name="x.berth.yaml"))["_meta"]["hostvars"]) \
        == ["api", "web"]


def test_default_group_names_before_sanitizing() -> None:
    groups = plugin.default_groups(ListedContainer(id="f" * 64, name="x", image="busybox", image_id=None,
                                                   state="exited", labels=COMPOSE))
    assert groups == ["image_busybox", "label_com.docker.compose.project_shop", "label_com.docker.compose.service_api",
                      "compose_shop", "compose_shop_api", "stopped"]
