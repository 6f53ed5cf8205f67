"""Docker's container verbs through the real `berth` CLI on the real kernel:
ps/container ls (rows, filters, -q/-n/-l/-s, --format, the old --json),
inspect (Docker's shape, --format, the old --json), kill, restart,
pause/unpause, rename (peers' hosts files), wait, top, stats, port, update
(the cgroup sees it), container prune, the `container` group's aliases, and
run's exit codes (125 engine, 126 not executable, 127 not found) in both
lanes — and the container_info module sees what the CLI shows."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import converge_network
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService
from tests.support.cli import BerthCli
from tests.support.cli_root import cli_with_rootfs
from tests.support.runtime import container_cgroup_file, make_rootfs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/box:1"
SUBNET = "10.254.96.0/24"
PORT = 18096


@pytest.fixture
def berth(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BerthCli]:
    with cli_with_rootfs(tmp_path, make_rootfs(tmp_path_factory.mktemp("box")), IMAGE) as tool:
        yield tool


def _lines(result: object) -> list[str]:
    return getattr(result, "stdout", "").splitlines()


def test_ps_rows_filters_and_formats(berth: BerthCli) -> None:
    berth("create", "--name", "idle", "--label", "tier=db", IMAGE, "sleep", "300")
    web = berth("run", "-d", "--name", "web", "--label", "tier=web", "-p", f"127.0.0.1:{PORT}:80", IMAGE,
                "sleep", "300").stdout.split()[-1]
    berth("run", "--name", "done", IMAGE, "sh", "-c", "exit 3", check=False)

    table = _lines(berth("ps"))
    assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert len(table) == 2 and table[1].startswith(web[:12]) and "Up " in table[1]
    assert f"127.0.0.1:{PORT}->80/tcp" in table[1] and table[1].endswith("web")

    rows = [json.loads(line) for line in _lines(berth("ps", "-a", "--format", "json"))]
    assert [r["Names"] for r in rows] == ["done", "web", "idle"]            # newest first
    assert {r["Names"]: r["State"] for r in rows} == {"done": "exited", "web": "running", "idle": "created"}
    assert rows[0]["Status"].startswith("Exited (3) ") and rows[2]["Status"] == "Created"
    assert rows[1]["Command"] == '"sleep 300"' and rows[1]["Labels"] == "tier=web" and rows[1]["ID"] == web[:12]

    def names(*args: str) -> list[str]:
        return _lines(berth("ps", *args, "--format", "{{.Names}}"))

    assert names("-a", "-f", "label=tier=db") == ["idle"]
    assert names("-f", "status=exited") == ["done"]                       # status= implies -a
    assert names("-a", "-f", "exited=3") == ["done"]
    assert names("-a", "-f", "name=^we") == ["web"]
    assert names("-a", "-f", f"id={web[:8]}") == ["web"]
    assert names("-a", "-f", f"ancestor={IMAGE}", "-f", "status=created") == ["idle"]
    assert names("-n", "2") == ["done", "web"] and names("-l") == ["done"]
    assert _lines(berth("container", "ls", "-q")) == [web[:12]]
    assert _lines(berth("ps", "-q", "--no-trunc")) == [web]
    assert "SIZE" in _lines(berth("ps", "-s"))[0] and "(virtual " in _lines(berth("ps", "-s"))[1]
    table = _lines(berth("ps", "-a", "--format", "table {{.Names}}\t{{.Status}}"))
    assert table[0].split() == ["NAMES", "STATUS"] and len(table) == 4

    legacy = json.loads(berth("ps", "-a", "--json").stdout)             # the shape scripts read
    assert set(legacy) == {"done", "web", "idle"} and legacy["done"].endswith("exited (3)")
    for bad in (["-f", "status=asleep"], ["-f", "colour=red"], ["--format", "{{.Names"]):
        failed = berth("ps", *bad, check=False)
        assert failed.returncode == 1 and "berth: invalid_input:" in failed.stderr, failed.stderr
    assert berth("ps", "-n", "x", check=False).returncode == 2


def test_inspect_docker_shape_and_the_old_json(berth: BerthCli) -> None:
    berth("run", "-d", "--name", "web", "-p", f"127.0.0.1:{PORT}:80", "--restart", "on-failure:2", "-m", "64m",
          IMAGE, "sleep", "300")
    shown = json.loads(berth("container", "inspect", "web").stdout)
    assert len(shown) == 1 and shown[0]["Name"] == "/web" and shown[0]["State"]["Running"]
    assert shown[0]["State"]["Pid"] > 0 and shown[0]["Config"]["Cmd"] == ["sleep", "300"]
    assert shown[0]["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert shown[0]["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert shown[0]["NetworkSettings"]["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(PORT)}]}
    assert shown[0]["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    assert berth("inspect", "--format", "{{.State.Status}} {{.Name}}", "web").stdout == "running /web\n"
    assert json.loads(berth("inspect", "web").stdout)[0]["Id"] == shown[0]["Id"]
    record = json.loads(berth("inspect", "--json", "web").stdout)["web"]   # the raw record, as before
    assert record["id"] == shown[0]["Id"] and record["state"]["status"] == "running"
    assert berth("inspect", "nope", check=False).returncode == 1


def test_kill_restart_pause_wait_and_exit_codes(berth: BerthCli) -> None:
    berth("run", "-d", "--name", "a", IMAGE, "sleep", "300")
    berth("run", "-d", "--name", "b", IMAGE, "sh", "-c", "trap 'exit 7' USR1; while true; do sleep 0.1; done")
    before = berth("inspect", "--format", "{{.State.Pid}}", "a").stdout
    assert berth("restart", "-t", "1", "a").stdout == "a\n"
    assert berth("inspect", "--format", "{{.State.Pid}}", "a").stdout != before

    assert berth("pause", "a").stdout == "a\n"
    assert berth("ps", "-f", "status=paused", "--format", "{{.Names}} {{.Status}}").stdout.endswith("(Paused)\n")
    assert berth("container", "unpause", "a").stdout == "a\n"
    assert berth("inspect", "--format", "{{.State.Status}}", "a").stdout == "running\n"

    assert berth("kill", "-s", "USR1", "b").stdout == "b\n"
    assert berth("wait", "b").stdout == "7\n"
    assert berth("kill", "a").stdout == "a\n"
    assert berth("container", "wait", "a", "b").stdout == "137\n7\n"
    both = berth("kill", "a", "nope", check=False)
    assert both.returncode == 1 and "not running" in both.stderr and "does not exist" in both.stderr
    bad = berth("kill", "-s", "SIGNOPE", "a", check=False)
    assert bad.returncode == 1 and "--signal" in bad.stderr


def test_run_exit_codes_in_both_lanes(berth: BerthCli) -> None:
    for verb in (("run",), ("container", "run")):   # `run` is the fast lane (a monitor runs), `container run` not
        assert berth(*verb, "--rm", IMAGE, "nosuchcmd", check=False).returncode == 127
        assert berth(*verb, "--rm", IMAGE, "/etc/passwd", check=False).returncode == 126
        missing = berth(*verb, "--rm", "nosuch/image:1", "true", check=False)
        assert missing.returncode == 125 and "berth: not_found:" in missing.stderr
        assert berth(*verb, "--rm", IMAGE, "sh", "-c", "exit 4", check=False).returncode == 4
    assert json.loads(berth("ps", "-a", "--json").stdout) == {}          # --rm removed even those never run


def test_rename_top_port_stats_update(berth: BerthCli) -> None:
    engine = Engine.open(berth.state, berth.run)
    converge_network(NetworkService(engine), NetworkRequest(name="verbs", ipam_config=[{"subnet": SUBNET}]))
    berth("run", "-d", "--name", "peer", "--network", "verbs", IMAGE, "sleep", "300")
    berth("run", "-d", "--name", "old", "--network", "verbs", "-p", f"127.0.0.1:{PORT}:80", IMAGE, "sleep", "300")
    peer_hosts = berth.state / "containers" / berth.inspect("peer")["id"] / "hosts"

    def peer_names() -> set[str]:
        return {word for line in peer_hosts.read_text().splitlines() for word in line.split()[1:]}

    assert "old" in peer_names()
    assert berth("rename", "old", "new").returncode == 0
    assert "new" in peer_names() and "old" not in peer_names()
    taken = berth("rename", "new", "peer", check=False)
    assert taken.returncode == 1 and "already exists" in taken.stderr
    assert berth("ps", "--format", "{{.Names}}").stdout.split() == ["new", "peer"]

    top = _lines(berth("top", "new"))
    assert top[0].split() == ["PID", "USER", "TIME", "CMD"] and top[1].endswith("sleep 300")
    assert int(top[1].split()[0]) == berth.inspect("new")["state"]["pid"]
    assert berth("top", "new", "-ef", check=False).returncode == 1

    assert berth("port", "new").stdout == f"80/tcp -> 127.0.0.1:{PORT}\n"
    assert berth("port", "new", "80/tcp").stdout == f"127.0.0.1:{PORT}\n"
    assert berth("port", "new", "81", check=False).returncode == 1

    assert berth("update", "--memory", "96m", "--pids-limit", "40", "--restart", "always", "new").stdout == "new\n"
    new_id = berth.inspect("new")["id"]   # the kernel's limits, not only the engine's report of them
    assert container_cgroup_file(new_id, "memory/memory.limit_in_bytes", "memory.max") == str(96 << 20)
    assert container_cgroup_file(new_id, "pids/pids.max", "pids.max") == "40"
    stats = json.loads(berth("stats", "--no-stream", "--format", "json", "new").stdout)
    assert stats["Name"] == "new" and stats["MemUsage"].endswith(" / 96MiB") and stats["PIDs"] == "1"
    assert stats["CPUPerc"].endswith("%") and "/" in stats["NetIO"]
    table = _lines(berth("stats", "--no-stream"))
    assert table[0].split()[:4] == ["CONTAINER", "ID", "NAME", "CPU"] and len(table) == 3
    assert berth("inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", "new").stdout == "always\n"
    nothing = berth("update", "new", check=False)
    assert nothing.returncode == 1 and "nothing to update" in nothing.stderr


def test_prune_and_the_module_agrees(berth: BerthCli, tmp_path: Path) -> None:
    berth("run", "-d", "--name", "up", IMAGE, "sleep", "300")
    berth("run", "--name", "gone", IMAGE, "true")
    berth("create", "--name", "kept", "--label", "keep=1", IMAGE, "true")
    assert "Total reclaimed space: 0B" in berth("container", "prune", "-f", "--filter", "until=1h").stdout
    pruned = _lines(berth("container", "prune", "-f", "--filter", "label!=keep"))
    assert pruned[0] == "Deleted Containers:" and len(pruned[1]) == 64 and pruned[2] == ""
    assert len(pruned) == 4 and pruned[-1].startswith("Total reclaimed space: ")
    assert berth("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["kept", "up"]
    declined = berth("container", "prune", check=False)   # stdin is empty: not confirmed, nothing removed
    assert "Are you sure" in declined.stdout and "kept" in berth("ps", "-a", "--format", "{{.Names}}").stdout

    from tests.support.playbook import recorded, recording_play, run_playbook

    defaults = {"group/berth.engine.all": {"state_root": str(berth.state), "run_root": str(berth.run)}}
    play = recording_play(tmp_path, [{"berth.engine.container_info": {}}], defaults)
    played = run_playbook(play)
    assert played.returncode == 0, played.output
    module = {c["name"]: c for c in recorded(tmp_path)[0]["containers"]}
    cli = {r["Names"]: r for r in map(json.loads, _lines(berth("ps", "-a", "--format", "json", "--no-trunc")))}
    assert set(module) == set(cli) == {"kept", "up"}
    for name, row in cli.items():
        assert module[name]["id"] == row["ID"] and module[name]["state"]["status"] == row["State"]
