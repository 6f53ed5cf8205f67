"""The network, volume and system verbs of the `berth` CLI against real
objects on the real kernel: Docker's output shapes parsed, exit codes, live
connect/disconnect of a running container, refusals that name the users,
prune, `system df` sizes, and the CLI and the info modules agreeing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.ansible.tasks.network import network_info
from ansible_collections.berth.engine.plugins.module_utils.ansible.tasks.volume import volume_info
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.support.cli import BerthCli
from tests.support.networks import drop_networks
from tests.support.runtime import make_rootfs, mounts_under, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/netsys:1"


@pytest.fixture
def berth(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BerthCli]:
    tool = BerthCli(tmp_path)
    engine = Engine.open(tool.state, tool.run)
    import_rootfs(ImageStore(engine), make_rootfs(tmp_path_factory.mktemp("box")), ImportConfig(cmd=["sh"]),
                  parse_reference(IMAGE))
    tool.engine = engine  # type: ignore[attr-defined]
    yield tool
    for record in engine.metadata("containers").list():
        tool("rm", "-f", record["id"], check=False)
    assert wait_for(lambda: tool.monitor_pid() is None, timeout=10), "the monitor did not exit"
    drop_networks(engine)
    for record in VolumeService(engine).list():
        VolumeService(engine).remove(record["name"])
    assert not mounts_under(tmp_path)


def roots(berth: BerthCli) -> dict[str, str]:
    return {"state_root": str(berth.state), "run_root": str(berth.run)}


def interfaces(berth: BerthCli, container: str) -> list[str]:
    lines = berth("exec", container, "cat", "/proc/net/dev").stdout.splitlines()[2:]
    return sorted(line.split(":")[0].strip() for line in lines)


def test_network_create_ls_inspect_rm(berth: BerthCli) -> None:
    made = berth("network", "create", "--subnet", "10.231.7.0/24", "--gateway", "10.231.7.254", "--label", "tier=db",
                 "-o", "com.docker.network.driver.mtu=1400", "backend")
    network_id = made.stdout.strip()
    assert len(network_id) == 64
    again = berth("network", "create", "backend", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    rows = [json.loads(line) for line in berth("network", "ls", "--format", "json").stdout.splitlines()]
    assert [(r["Name"], r["ID"], r["Driver"], r["Scope"], r["Labels"]) for r in rows] == \
        [("backend", network_id[:12], "bridge", "local", "tier=db")]
    table = berth("network", "ls").stdout.splitlines()
    assert table[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"] and "backend" in table[1]
    assert berth("network", "ls", "-q", "--no-trunc", "-f", "label=tier=db").stdout == network_id + "\n"
    assert berth("network", "ls", "-q", "-f", "name=nothing").stdout == ""
    assert berth("network", "ls", "-f", "colour=red", check=False).returncode == 1
    [document] = json.loads(berth("network", "inspect", "backend").stdout)
    assert document["Id"] == network_id
    assert document["IPAM"]["Config"] == [{"Subnet": "10.231.7.0/24", "Gateway": "10.231.7.254"}]
    assert document["Options"]["com.docker.network.driver.mtu"] == "1400" and document["Labels"] == {"tier": "db"}
    assert berth("network", "inspect", "-f", "{{.Name}} {{.Internal}}", network_id[:12]).stdout == "backend false\n"
    module = network_info({"engine": roots(berth), "name": ["backend"]}, False, False)["networks"][0]
    assert (module["id"], module["name"], module["subnet"]) == (network_id, "backend", "10.231.7.0/24")
    bad = berth("network", "create", "--gateway", "10.0.0.1", "nosubnet", check=False)
    assert bad.returncode == 1 and "--subnet" in bad.stderr
    assert berth("network", "rm", "backend", "missing", check=False).returncode == 1
    assert berth("network", "ls", "-q").stdout == ""
    assert berth("network", "inspect", "backend", check=False).returncode == 1


def test_connect_disconnect_live_and_rm_refused_naming_users(berth: BerthCli) -> None:
    berth("network", "create", "--subnet", "10.231.8.0/24", "front")
    berth("network", "create", "spare")
    berth("run", "-d", "--name", "web", "--network", "front", IMAGE, "sleep", "600")
    berth("network", "create", "--subnet", "10.231.9.0/24", "extra")
    berth("network", "connect", "--ip", "10.231.9.20", "--alias", "api", "extra", "web")
    assert interfaces(berth, "web") == ["eth0", "eth1", "lo"], "connected while running"
    [document] = json.loads(berth("network", "inspect", "extra").stdout)
    assert [(c["Name"], c["IPv4Address"]) for c in document["Containers"].values()] == [("web", "10.231.9.20/24")]
    twice = berth("network", "connect", "extra", "web", check=False)
    assert twice.returncode == 1 and "already connected" in twice.stderr
    refused = berth("network", "rm", "extra", check=False)
    assert refused.returncode == 1 and "web" in refused.stderr
    assert json.loads(berth("network", "prune", "-f", "--json").stdout) == {"deleted": ["spare"]}
    berth("network", "disconnect", "extra", "web")
    assert interfaces(berth, "web") == ["eth0", "lo"], "disconnected while running"
    assert berth("network", "disconnect", "extra", "web", check=False).returncode == 1
    berth("network", "disconnect", "-f", "extra", "web")
    assert berth("network", "connect", "extra", "nobody", check=False).returncode == 1
    assert berth("network", "prune", "-f").stdout == "Deleted Networks:\nextra\n"
    assert berth("network", "rm", "bridge", check=False).returncode == 1, "the default network stays"


def test_volume_verbs_in_dockers_shapes(berth: BerthCli) -> None:
    assert berth("volume", "create", "data", "-l", "app=db").stdout == "data\n"
    anonymous = berth("volume", "create").stdout.strip()
    assert len(anonymous) == 64
    berth("create", "--name", "user", "-v", "data:/data", IMAGE, "true")
    rows = [json.loads(line) for line in berth("volume", "ls", "--format", "json").stdout.splitlines()]
    assert sorted((r["Name"], r["Driver"], r["Labels"]) for r in rows) == \
        sorted([("data", "local", "app=db"), (anonymous, "local", "")])
    assert berth("volume", "ls").stdout.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert berth("volume", "ls", "-q", "-f", "dangling=true").stdout == anonymous + "\n"
    assert berth("volume", "ls", "-q", "-f", "label=app=db").stdout == "data\n"
    [document] = json.loads(berth("volume", "inspect", "data").stdout)
    assert set(document) == {"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"}
    assert document["Mountpoint"] == volume_info({"engine": roots(berth), "name": "data"}, False, False)[
        "volume"]["mountpoint"]
    assert berth("volume", "inspect", "-f", "{{.Name}}:{{.Driver}}", "data").stdout == "data:local\n"
    in_use = berth("volume", "rm", "data", check=False)
    assert in_use.returncode == 1 and "user" in in_use.stderr
    pruned = berth("volume", "prune", "-f").stdout
    assert pruned.startswith(f"Deleted Volumes:\n{anonymous}\n") and "Total reclaimed space:" in pruned
    assert berth("volume", "rm", "gone", check=False).returncode == 1
    assert berth("volume", "rm", "-f", "gone").returncode == 0


def test_system_df_and_prune(berth: BerthCli, tmp_path: Path) -> None:
    engine = berth.engine  # type: ignore[attr-defined]
    extra = tmp_path / "extra"
    (extra / "etc").mkdir(parents=True)
    (extra / "etc" / "only-here").write_text("x" * 5000)
    import_rootfs(ImageStore(engine), extra, ImportConfig(cmd=["sh"]), parse_reference("local/unused:1"))
    berth("run", "--name", "wrote", "-v", "kept:/kept", IMAGE, "sh", "-c", "head -c 100000 /dev/zero > /big; "
          "echo hi > /kept/f")
    berth("network", "create", "idle")
    rows = {r["Type"]: r for r in map(json.loads, berth("system", "df", "--format", "json").stdout.splitlines())}
    assert list(rows) == ["Images", "Containers", "Local Volumes", "Build Cache"]
    assert (rows["Images"]["TotalCount"], rows["Images"]["Active"]) == ("2", "1")
    assert (rows["Containers"]["TotalCount"], rows["Containers"]["Active"]) == ("1", "0")
    assert rows["Containers"]["Size"] != "0B" and rows["Containers"]["Reclaimable"].endswith("(100%)")
    assert (rows["Local Volumes"]["TotalCount"], rows["Local Volumes"]["Active"]) == ("1", "1")
    verbose = json.loads(berth("system", "df", "-v", "--format", "json").stdout)
    images = {i["Repository"]: i for i in verbose["Images"]}
    assert images["local/netsys"]["Containers"] == "1" and images["local/unused"]["SharedSize"] == "0B"
    assert [c["Names"] for c in verbose["Containers"]] == ["wrote"]
    assert berth("system", "df", "-v").stdout.startswith("Images space usage:")
    declined = berth("system", "prune", check=False)   # no -f, stdin empty: nothing is removed
    assert declined.returncode == 0 and "Are you sure" in declined.stdout
    done = json.loads(berth("system", "prune", "-a", "-f", "--volumes", "--json").stdout)
    assert len(done["containers"]) == 1 and done["networks"] == ["idle"] and done["volumes"] == []
    assert len(done["images"]) == 2 and done["space_reclaimed"] > 0, "-a: both images, now unused"
    assert berth("system", "prune", "-f").stdout == "Total reclaimed space: 0B\n"
    assert "kernel" in berth("system", "info", "--json").stdout
