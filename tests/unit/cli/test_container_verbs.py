"""The container verbs' parsing and shapes: Docker's Status sentences, ports,
ps rows, inspect's document, signals, prune's until=, stats' units."""

from __future__ import annotations

import argparse

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cli import container_procs as procs
from ansible_collections.berth.engine.plugins.module_utils.cli import container_rows as rows
from ansible_collections.berth.engine.plugins.module_utils.cli.container_admin import until_epoch
from ansible_collections.berth.engine.plugins.module_utils.cli.container_verbs import (
    _checked_filters,
    signal_number,
)
from ansible_collections.berth.engine.plugins.module_utils.cli.main import _parser
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

T0 = "2026-12-02T10:00:00.500000000Z"
NOW = rows.epoch(T0) or 0.0
PORTS = [{"host_ip": "0.0.0.0", "host_port": 8443, "container_port": 443, "proto": "tcp"},
         {"host_ip": "0.0.0.0", "host_port": 8080, "container_port": 80, "proto": "tcp"},
         {"host_ip": "127.0.0.1", "host_port": 5353, "container_port": 53, "proto": "udp"}]


def test_epoch_reads_the_records_nanosecond_stamps() -> None:
    assert rows.epoch("2026-12-02T10:00:00Z") == rows.epoch(T0) - 0.5
    assert rows.epoch(None) is None and rows.epoch("garbage") is None
    assert rows.created_at(T0) == "2026-12-02 10:00:00 +0000 UTC"


@pytest.mark.parametrize(("state", "lifecycle", "text"), [
    ({"started_at": T0}, "running", "Up 2 minutes"),
    ({"started_at": T0, "health": {"status": "healthy"}}, "running", "Up 2 minutes (healthy)"),
    ({"started_at": T0, "health": {"status": "starting"}}, "running", "Up 2 minutes (health: starting)"),
    ({"started_at": T0}, "paused", "Up 2 minutes (Paused)"),
    ({"exit_code": 3, "finished_at": T0}, "exited", "Exited (3) 2 minutes ago"),
    ({"exit_code": None}, "exited", "Exited (0)"),
    ({}, "created", "Created"),
    ({"exit_code": 1, "finished_at": T0}, "restarting", "Restarting (1) 2 minutes ago"),
])
def test_status_as_docker_words_it(state: dict, lifecycle: str, text: str) -> None:
    assert rows.status_text(state, lifecycle, NOW + 150) == text


def test_ports_column_and_port_verb() -> None:
    assert rows.ports_text(PORTS) == ("127.0.0.1:5353->53/udp, 0.0.0.0:8080->80/tcp, 0.0.0.0:8443->443/tcp")
    assert rows.port_lines(PORTS) == ["53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080",
                                      "443/tcp -> 0.0.0.0:8443"]
    assert rows.port_lines(PORTS, "80") == ["0.0.0.0:8080"]
    assert rows.port_lines(PORTS, "53/udp") == ["127.0.0.1:5353"]
    assert rows.port_lines(PORTS, "53") == []


def test_command_quoted_and_truncated_to_twenty() -> None:
    assert rows.command_text(["sleep", "10"]) == '"sleep 10"'
    long = rows.command_text(["sh", "-c", "while true; do sleep 1; done"])
    assert len(long) == 20 and long.endswith("…")
    assert rows.command_text(["sh", "-c", "while true; do sleep 1; done"], no_trunc=True).endswith('done"')


def test_effective_command_follows_docker() -> None:
    image = {"Entrypoint": ["/init"], "Cmd": ["serve"]}
    assert rows.effective_argv({"command": None, "entrypoint": None}, image) == ["/init", "serve"]
    assert rows.effective_argv({"command": ["x"], "entrypoint": None}, image) == ["/init", "x"]
    assert rows.effective_argv({"command": None, "entrypoint": ["sh"]}, image) == ["sh"]


def _document(**state: object) -> dict:
    return {"id": "ab" * 32, "name": "web", "image": "local/box:1", "image_id": "sha256:" + "cd" * 32,
            "created": T0, "config": {"labels": {"b": "2", "a": "1"}, "command": ["sleep", "9"],
                                      "networks": [{"name": "front"}], "restart_policy": "on-failure:3",
                                      "resources": {"memory": 67108864, "cpus": 1.5},
                                      "mounts": [{"type": "volume", "source": "data", "target": "/data"}]},
            "state": {"status": "running", "pid": 42, "started_at": T0, "exit_code": None,
                      "networks": {"front": {"ip": "10.9.0.2", "prefix": 24, "gateway": "10.9.0.1"}},
                      "ports": PORTS[1:2], **state}}


def test_ps_row_uses_dockers_template_fields() -> None:
    row = rows.ps_row(_document(), "running", ["sleep", "9"], now=NOW + 5)
    assert row == {"ID": "abababababab", "Image": "local/box:1", "Command": '"sleep 9"',
                   "CreatedAt": "2026-12-02 10:00:00 +0000 UTC", "RunningFor": "5 seconds ago",
                   "Status": "Up 5 seconds", "State": "running", "Ports": "0.0.0.0:8080->80/tcp", "Names": "web",
                   "Labels": "a=1,b=2", "Mounts": "data", "LocalVolumes": "1", "Networks": "front", "Size": ""}
    stopped = rows.ps_row(_document(status="exited"), "exited", ["sleep", "9"], now=NOW + 5, no_trunc=True)
    assert stopped["Ports"] == "" and stopped["ID"] == "ab" * 32 and stopped["Networks"] == "front"


def test_inspect_in_dockers_shape() -> None:
    shown = rows.inspect_document(_document(), "paused", ["sleep", "9"], {"Env": ["PATH=/bin"]})
    assert shown["Name"] == "/web" and shown["Id"] == "ab" * 32 and shown["Path"] == "sleep"
    assert shown["State"]["Status"] == "paused" and shown["State"]["Running"] and shown["State"]["Paused"]
    assert shown["State"]["Pid"] == 42
    assert shown["NetworkSettings"]["Networks"]["front"]["IPAddress"] == "10.9.0.2"
    assert shown["NetworkSettings"]["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    assert shown["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert shown["HostConfig"]["Memory"] == 67108864 and shown["HostConfig"]["NanoCpus"] == 1_500_000_000
    assert shown["Mounts"] == [{"Type": "volume", "Name": "data", "Source": "data", "Destination": "/data",
                                "RW": True}]
    assert shown["Config"]["Env"] == ["PATH=/bin"] and shown["Config"]["Labels"] == {"b": "2", "a": "1"}
    exited = rows.inspect_document(_document(status="exited", exit_code=2), "exited", ["sleep"], {})
    assert exited["State"]["Pid"] == 0 and exited["State"]["ExitCode"] == 2
    assert exited["NetworkSettings"]["Networks"] == {}


@pytest.mark.parametrize(("text", "number"), [("KILL", 9), ("SIGHUP", 1), ("term", 15), ("10", 10)])
def test_signals_by_name_and_number(text: str, number: int) -> None:
    assert signal_number(text) == number


@pytest.mark.parametrize("text", ["NOPE", "0", "65", "-9", "²"])
def test_bad_signals_name_the_flag(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        signal_number(text)
    assert caught.value.field == "--signal"


def test_ps_filters_are_checked() -> None:
    assert _checked_filters(["status=exited", "name=we.*", "label=a=1"]) == {
        "status": ["exited"], "name": ["we.*"], "label": ["a=1"]}
    for bad in (["status=asleep"], ["colour=red"], ["exited=x"], ["name=("], ["name"]):
        with pytest.raises(InvalidInput) as caught:
            _checked_filters(bad)
        assert caught.value.field == "--filter"


def test_prune_until_takes_durations_and_times() -> None:
    assert until_epoch("1h30m", 10_000.0) == 10_000.0 - 5400
    assert until_epoch("10s", 100.0) == 90.0
    assert until_epoch("1700000000", 0.0) == 1_700_000_000.0
    assert until_epoch("2026-12-02T10:00:00Z", 0.0) == NOW - 0.5
    with pytest.raises(InvalidInput):
        until_epoch("yesterday", 0.0)


def test_stats_units_and_counters() -> None:
    assert procs.binary_size(1536 * 1024) == "1.5MiB"
    assert procs.binary_size(512) == "512B"
    assert procs.cpu_time(3723.9) == "01:02:03"
    assert procs._v1_bytes("8:0 Read 100\n8:0 Write 50\n8:16 Read 1\nTotal 151\n") == (101, 50)
    assert procs._v2_bytes("8:0 rbytes=10 wbytes=20 rios=1\n259:0 rbytes=5 wbytes=0\n") == (15, 20)


def _parse(*argv: str) -> argparse.Namespace:
    return _parser().parse_args(list(argv))


def test_ps_flags_and_the_container_group() -> None:
    args = _parse("ps", "-a", "-q", "-n", "3", "-s", "--no-trunc", "-f", "name=x", "--format", "{{.ID}}")
    assert (args.all, args.quiet, args.last, args.size, args.no_trunc, args.filter, args.format) == (
        True, True, 3, True, True, ["name=x"], "{{.ID}}")
    for alias in ("ls", "list", "ps"):
        assert _parse("container", alias, "-l").latest
    run = _parse("container", "run", "-d", "--name", "x", "img", "true")
    assert (run.command, run.subcommand, run.detach, run.name) == ("container", "run", True, "x")
    assert _parse("container", "exec", "c", "ls", "-l").cmd == ["ls", "-l"]
    assert _parse("kill", "-s", "HUP", "a", "b").containers == ["a", "b"]
    assert _parse("container", "prune", "-f", "--filter", "until=1h").filter == ["until=1h"]
    update = _parse("update", "--memory", "64m", "--cpus", "0.5", "--restart", "always", "web")
    assert (update.memory, update.cpus, update.restart) == ("64m", "0.5", "always")


def test_every_verb_has_a_handler() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.cli.main import COMMANDS

    group = _parser()._subparsers._group_actions[0].choices["container"]
    verbs = group._subparsers._group_actions[0].choices
    assert {f"container {name}" for name in verbs} <= set(COMMANDS)
    for name in ("ps", "inspect", "kill", "restart", "pause", "unpause", "rename", "wait", "top", "stats", "port",
                 "update"):
        assert name in COMMANDS


@pytest.mark.parametrize("day", ["1970-01-01", "2000-02-29", "2024-02-29", "2026-12-31", "2100-03-01", "1969-12-31"])
def test_epoch_agrees_with_calendar(day: str) -> None:
    import calendar

    year, month, date = (int(part) for part in day.split("-"))
    assert rows.epoch(f"{day}T13:14:15Z") == calendar.timegm((year, month, date, 13, 14, 15, 0, 0, 0))
