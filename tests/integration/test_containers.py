"""Containers through the `berth` CLI on the real kernel: run, logs, restart
policies, stop, rotation, a killed monitor, bad input — and nothing left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.cli import BerthCli
from tests.support.leaks import ContainerWatch
from tests.support.networks import drop_networks
from tests.support.runtime import make_rootfs, mounts_under, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/box:1"


class Berth(BerthCli):
    """The CLI, as these tests call it."""


@pytest.fixture
def berth(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Berth]:
    tool = Berth(tmp_path)
    rootfs = make_rootfs(tmp_path_factory.mktemp("box"))
    engine = Engine.open(tool.state, tool.run)
    made = ContainerWatch(engine.layout.containers)   # other suites' containers may come and go meanwhile
    import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sh"]), parse_reference(IMAGE))
    yield tool
    for record in json.loads(tool("ps", "-a", "--json").stdout or "{}"):
        tool("rm", "-f", record, check=False)
    assert wait_for(lambda: tool.monitor_pid() is None, timeout=10), "the monitor did not exit"
    drop_networks(engine)
    leftovers = made.cgroups_left()
    made.close()
    assert not leftovers, leftovers
    assert not list((tool.run / "runtime").glob("*")) if (tool.run / "runtime").exists() else True
    assert not mounts_under(tmp_path)


def test_run_logs_ps_rm(berth: Berth) -> None:
    result = berth("run", "--name", "hello", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    state = berth.inspect("hello")["state"]
    assert state["status"] == "exited" and state["exit_code"] == 3 and state["finished_at"]
    logs = (berth.state / "containers" / berth.inspect("hello")["id"] / "logs" / "container.log").read_text()
    entries = [json.loads(line) for line in logs.splitlines()]
    assert [(e["stream"], e["log"]) for e in entries] == [("stdout", "out\n"), ("stderr", "err\n")]
    assert all(e["time"].endswith("Z") for e in entries)
    assert berth("logs", "-n", "1", "hello").stderr == "err\n"
    berth("rm", "hello")
    assert not (berth.state / "containers" / state.get("id", "x")).exists()
    assert berth("inspect", "hello", check=False).returncode == 1


def test_run_rm_removes_everything(berth: Berth) -> None:
    assert berth("run", "--rm", "--name", "gone", IMAGE, "true").returncode == 0
    assert json.loads(berth("ps", "-a", "--json").stdout) == {}
    assert list((berth.state / "containers").glob("*")) == []


def test_on_failure_restarts_up_to_max(berth: Berth) -> None:
    berth("run", "-d", "--name", "flaky", "--restart", "on-failure:2", IMAGE, "sh", "-c", "echo try; exit 1")
    assert wait_for(lambda: berth.inspect("flaky")["state"].get("restart_count") == 2
                    and berth.inspect("flaky")["state"]["status"] == "exited", timeout=20)
    assert berth("logs", "flaky").stdout == "try\ntry\ntry\n"


def test_always_restarts_until_stopped_and_no_does_not(berth: Berth) -> None:
    berth("run", "-d", "--name", "loop", "--restart", "always", IMAGE, "true")
    assert wait_for(lambda: berth.inspect("loop")["state"].get("restart_count", 0) >= 2, timeout=20)
    berth("stop", "loop")
    stopped = berth.inspect("loop")["state"]
    assert stopped["status"] == "exited" and stopped["stopped_by_user"]
    count = stopped["restart_count"]
    berth("run", "-d", "--name", "once", IMAGE, "true")
    assert wait_for(lambda: berth.inspect("once")["state"]["status"] == "exited")
    assert berth.inspect("once")["state"].get("restart_count", 0) == 0
    assert berth.inspect("loop")["state"]["restart_count"] == count, "a stopped container stays stopped"


def test_stop_sends_the_stop_signal_then_kills(berth: Berth) -> None:
    berth("run", "-d", "--name", "stubborn", "--stop-timeout", "1", IMAGE, "sleep", "300")
    berth("run", "-d", "--name", "polite", "--stop-signal", "SIGKILL", IMAGE, "sleep", "300")
    berth("stop", "stubborn")    # sleep as pid 1 ignores SIGTERM: killed after 1 s
    assert berth.inspect("stubborn")["state"]["exit_code"] == 137
    berth("stop", "polite")
    assert berth.inspect("polite")["state"]["exit_code"] == 137


def test_logs_rotate(berth: Berth) -> None:
    berth("run", "--name", "chatty", "--log-max-size", "400", "--log-max-file", "3", IMAGE, "sh", "-c",
          "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo line $i; sleep 0.01; done")
    directory = berth.state / "containers" / berth.inspect("chatty")["id"] / "logs"
    files = sorted(p.name for p in directory.iterdir())
    assert files == ["container.log", "container.log.1", "container.log.2"]
    assert all(p.stat().st_size <= 400 for p in directory.iterdir())
    assert berth("logs", "-n", "1", "chatty").stdout == "line 20\n"


def test_killed_monitor_then_converge(berth: Berth) -> None:
    berth("run", "-d", "--name", "survivor", IMAGE, "sleep", "300")
    monitor = berth.monitor_pid()
    assert monitor is not None
    os.kill(monitor, signal.SIGKILL)
    assert wait_for(lambda: not Path(f"/proc/{monitor}").exists()
                    or not Path(f"/proc/{monitor}/cmdline").read_text())
    assert berth.inspect("survivor")["state"]["status"] == "running", "the container outlives its monitor"
    os.kill(berth.inspect("survivor")["state"]["pid"], signal.SIGKILL)
    assert wait_for(lambda: berth.inspect("survivor")["state"]["status"] == "exited")
    berth("start", "survivor")
    assert berth.inspect("survivor")["state"]["status"] == "running"
    berth("rm", "-f", "survivor")


@pytest.mark.parametrize(("args", "text"), [
    (["--name", "x", "local/absent:1", "true"], "is not present"),
    (["--name", "bad/name", IMAGE, "true"], "not a valid container name"),
    (["--name", "x", "--user", "nosuchuser", IMAGE, "true"], "unable to find user nosuchuser"),
    (["--name", "x", "--restart", "sometimes", IMAGE, "true"], "restart_policy"),
    (["--name", "x", "--rm", "--restart", "always", IMAGE, "true"], "auto_remove conflicts"),
    (["--name", "x", IMAGE, "nosuchcmd"], 'exec: "nosuchcmd": executable file not found'),
])
def test_bad_input(berth: Berth, args: list[str], text: str) -> None:
    result = berth("run", *args, check=False)
    assert result.returncode != 0 and text in result.stderr, result.stderr
    records = json.loads(berth("ps", "-a", "--json").stdout)
    assert set(records) <= {"x"}
    if records:   # like Docker, a container whose start failed stays created
        assert berth.inspect("x")["state"]["status"] == "created"


def test_duplicate_name(berth: Berth) -> None:
    berth("create", "--name", "twin", IMAGE, "true")
    again = berth("create", "--name", "twin", IMAGE, "true", check=False)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_exec_and_restore(berth: Berth) -> None:
    berth("run", "-d", "--name", "box", "--restart", "unless-stopped", IMAGE, "sleep", "300")
    done = berth("exec", "-u", "nobody", "box", "sh", "-c", "id -u; exit 4", check=False)
    assert (done.returncode, done.stdout) == (4, "65534\n")
    piped = subprocess.run([*berth.prefix, "exec", "-i", "box", "cat"], input="through stdin", capture_output=True,
                           text=True, check=True)
    assert piped.stdout == "through stdin"
    berth("run", "-d", "--name", "always", "--restart", "always", IMAGE, "sleep", "300")
    # a reboot, as far as the containers know: every container process killed, no monitor
    pids = [berth.inspect(name)["state"]["pid"] for name in ("box", "always")]
    monitor = berth.monitor_pid()
    assert monitor is not None
    os.kill(monitor, signal.SIGKILL)
    assert wait_for(lambda: not Path(f"/proc/{monitor}/cmdline").exists()
                    or not Path(f"/proc/{monitor}/cmdline").read_text())
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: all(berth.inspect(n)["state"]["status"] == "exited" for n in ("box", "always")))
    berth("stop", "always")   # a person stopped it: unless-stopped would stay down, always comes back
    restored = json.loads(berth("restore", "--json").stdout)["started"]
    assert sorted(restored) == ["always", "box"]
    assert berth.inspect("box")["state"]["status"] == "running"


def test_health_transitions(berth: Berth) -> None:
    berth("run", "-d", "--name", "probed", "--health-cmd", "test -f /tmp/ok", "--health-interval", "0.2s",
          "--health-retries", "2", "--health-start-period", "2.5s", IMAGE, "sh", "-c",
          "sleep 3; touch /tmp/ok; sleep 3; rm /tmp/ok; sleep 300")

    def status() -> str:
        return (berth.inspect("probed")["state"].get("health") or {}).get("status", "")

    assert status() == "starting"   # failed probes in the 2.5 s start period do not count (Docker)
    assert wait_for(lambda: status() == "healthy", timeout=15)
    assert wait_for(lambda: status() == "unhealthy", timeout=15)
    log = berth.inspect("probed")["state"]["health"]["log"]
    assert len(log) == 5 and log[-1]["exit_code"] == 1


def test_export_is_the_merged_filesystem(berth: Berth, tmp_path: Path) -> None:
    import tarfile

    berth("run", "--name", "changed", IMAGE, "sh", "-c", "mkdir /data; echo hi > /data/x; rm /etc/motd")
    berth("export", "changed", "-o", str(tmp_path / "fs.tar"))
    with tarfile.open(tmp_path / "fs.tar") as tar:
        names = set(tar.getnames())
        assert tar.extractfile("./data/x").read() == b"hi\n"  # type: ignore[union-attr]
    assert "./bin/busybox" in names and "./etc/motd" not in names and "./etc/passwd" in names
    assert not mounts_under(berth.state)


def test_exec_with_a_tty(berth: Berth) -> None:
    """`berth exec -it` on a pseudo-terminal: the shell sees a tty, input reaches it, its exit code comes back."""
    import pty

    berth("run", "-d", "--name", "term", IMAGE, "sleep", "300")
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs
        os.execv(berth.prefix[0], [*berth.prefix, "exec", "-it", "term", "sh"])
    import select
    import time

    os.write(fd, b"tty; echo typed-$((6*7)); exit 6\n")
    output, deadline = b"", time.monotonic() + 30
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 0.5)[0]:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    else:
        os.kill(pid, signal.SIGKILL)
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 6
    assert b"/dev/pts/0" in output and b"typed-42" in output
