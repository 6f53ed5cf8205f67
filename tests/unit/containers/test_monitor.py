"""The monitor's logic against a fake host and a fake clock (no processes,
no kernel): restart policies and their back-off, healthchecks (interval,
timeout, retries, start period), stop with SIGKILL after the timeout, pause,
waiters, auto_remove, adoption, and the typed protocol at its door."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.containers import policy, protocol
from ansible_collections.berth.engine.plugins.module_utils.containers.monitor import IDLE_EXIT, KILL_RETRY, Monitor
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidState
from tests.support.fake_monitor import Answers, FakeClock, FakeHost

CHECK = {"test": ["CMD", "probe"], "interval": 5.0, "timeout": 2.0, "retries": 3, "start_period": 0.0}


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.clock = FakeClock()
        self.host = FakeHost(tmp)
        self.monitor = Monitor(self.host, self.clock)

    def ask(self, request: Any) -> Answers:
        answers = Answers()
        self.monitor.request(request, answers)
        return answers

    def step(self, seconds: float = 0.0) -> None:
        self.clock.advance(seconds)
        self.monitor.step(0)

    def start(self, container_id: str, **config: Any) -> int:
        self.host.add(container_id, **config)
        (started,) = self.ask(protocol.Start(id=container_id))
        assert isinstance(started, protocol.Started), started
        return started.pid

    def pid(self, container_id: str) -> int:
        return self.host.inits[container_id]

    def close(self) -> None:
        for watch in list(self.monitor.watches.values()):
            if watch.pidfd is not None:
                self.monitor.sel.unregister(watch.pidfd)
            self.monitor._forget(watch, force=True)
        self.host.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


# -- the protocol at the door -----------------------------------------------------------------
@pytest.mark.parametrize("line", [b'{"op": "bogus"}', b"not json", b'{"op": "start"}', b'{"op": "stop", "id": 1}',
                                  b'{"op": "start", "id": "x", "extra": 1}', b"[]"])
def test_a_bad_request_is_an_error_never_ok(rig: Rig, line: bytes) -> None:
    answers = Answers()
    rig.monitor.handle_line(line, answers)
    (reply,) = answers
    assert isinstance(reply, protocol.Error) and reply.kind == "invalid_input", reply


def test_engine_errors_keep_their_kind(rig: Rig) -> None:
    (reply,) = rig.ask(protocol.Start(id="missing"))
    assert isinstance(reply, protocol.Error) and reply.kind == "not_found"
    rig.host.launch_error = InvalidState("no cgroup", field="resources", hint="look")
    rig.host.add("c1")
    (reply,) = rig.ask(protocol.Start(id="c1"))
    assert reply == protocol.Error(kind="invalid_state", message="no cgroup", field="resources", hint="look")
    assert "c1" not in rig.monitor.watches, "a failed start leaves no watch behind"


def test_an_os_error_names_the_operation_and_the_container(rig: Rig) -> None:
    rig.host.launch_error = OSError(16, "Device or resource busy", "/sys/fs/cgroup/x/cgroup.freeze")
    rig.host.add("c1")
    (reply,) = rig.ask(protocol.Start(id="c1"))
    assert reply == protocol.Error(kind="invalid_state", message="monitor: could not start container c1: "
                                   "/sys/fs/cgroup/x/cgroup.freeze: [Errno 16] Device or resource busy")


def test_ping(rig: Rig) -> None:
    (reply,) = rig.ask(protocol.Ping())
    assert isinstance(reply, protocol.Pong) and reply.pid > 0


# -- start, output, exit ---------------------------------------------------------------------
def test_start_records_the_run_and_logs_its_output(rig: Rig) -> None:
    pid = rig.start("c1")
    state = rig.host.state("c1")
    assert state["status"] == "running" and state["pid"] == pid and state["pid_start"] == pid * 10
    (again,) = rig.ask(protocol.Start(id="c1"))
    assert again == protocol.Started(pid=pid) and len(rig.host.named("launch")) == 1, "already running: no relaunch"
    rig.host.write(pid, b"hello\n")
    rig.host.write(pid, b"oops\n", stream=1)
    rig.step()
    log = rig.host.log_path("c1").read_text()
    assert '"stream": "stdout", "log": "hello\\n"' in log and '"stream": "stderr", "log": "oops\\n"' in log
    rig.host.exit(pid, 3)
    rig.step()
    state = rig.host.state("c1")
    assert (state["status"], state["exit_code"], state["pid"]) == ("exited", 3, 0)
    assert ("detach", "c1") in rig.host.calls and "c1" not in rig.monitor.watches


def test_a_signal_death_is_128_plus_the_signal(rig: Rig) -> None:
    pid = rig.start("c1")
    rig.host.exit(pid, -signal.SIGKILL)
    rig.step()
    assert rig.host.state("c1")["exit_code"] == 137


def test_wait_answers_when_the_container_exits(rig: Rig) -> None:
    pid = rig.start("c1")
    waiting = rig.ask(protocol.Wait(id="c1"))
    rig.step(5)
    assert waiting == []
    rig.host.exit(pid, 7)
    rig.step()
    assert waiting == [protocol.Exited(exit_code=7, status="exited")]
    assert rig.ask(protocol.Wait(id="c1")) == [protocol.Exited(exit_code=7, status="exited")], "not running: at once"


def test_auto_remove_discards_the_container_after_its_exit(rig: Rig) -> None:
    pid = rig.start("c1", auto_remove=True)
    rig.host.exit(pid, 0)
    rig.step()
    assert ("discard", "c1") in rig.host.calls and "c1" not in rig.host.records


# -- restart policies ------------------------------------------------------------------------
def test_restart_back_off_doubles_and_resets_after_a_long_run(rig: Rig) -> None:
    rig.start("c1", restart_policy="always")
    waits = []
    for _attempt in range(4):
        rig.host.exit(rig.pid("c1"), 1)
        rig.step(0.5)   # ran for half a second
        assert rig.host.state("c1")["status"] == "restarting"
        watch = rig.monitor.watches["c1"]
        waits.append(watch.backoff)
        launches = len(rig.host.named("launch"))
        rig.step(watch.backoff - 0.01)
        assert len(rig.host.named("launch")) == launches, "restarted before its back-off"
        rig.step(0.02)
        assert len(rig.host.named("launch")) == launches + 1
        assert rig.host.state("c1")["status"] == "running"
    assert waits == [0.1, 0.2, 0.4, 0.8]
    assert rig.host.state("c1")["restart_count"] == 4
    rig.step(policy.RESET_AFTER)   # a run of 10 s or more resets the back-off
    rig.host.exit(rig.pid("c1"), 1)
    rig.step()
    assert rig.monitor.watches["c1"].backoff == policy.BACKOFF_START


def test_back_off_is_capped(rig: Rig) -> None:
    rig.start("c1", restart_policy="always")
    for _attempt in range(12):
        rig.host.exit(rig.pid("c1"), 1)
        rig.step()
        rig.step(rig.monitor.watches["c1"].backoff)
    assert rig.monitor.watches["c1"].backoff == policy.BACKOFF_MAX


def test_on_failure_stops_after_its_retries_and_on_success(rig: Rig) -> None:
    rig.start("c1", restart_policy="on-failure:2")
    for _attempt in range(2):
        rig.host.exit(rig.pid("c1"), 1)
        rig.step()
        rig.step(1)
    assert rig.host.state("c1")["restart_count"] == 2
    rig.host.exit(rig.pid("c1"), 1)
    rig.step()
    rig.step(120)
    assert rig.host.state("c1")["status"] == "exited" and len(rig.host.named("launch")) == 3
    rig.start("c2", restart_policy="on-failure")
    rig.host.exit(rig.pid("c2"), 0)
    rig.step()
    assert rig.host.state("c2")["status"] == "exited", "a clean exit is not a failure"


def test_a_restart_that_fails_records_the_error(rig: Rig) -> None:
    rig.start("c1", restart_policy="always")
    rig.host.exit(rig.pid("c1"), 1)
    rig.step()
    rig.host.launch_error = InvalidState("the image is gone")
    rig.step(1)
    state = rig.host.state("c1")
    assert state["status"] == "exited" and "the image is gone" in state["error"]
    assert "c1" not in rig.monitor.watches


def test_start_of_a_restarting_container_starts_it_now(rig: Rig) -> None:
    rig.start("c1", restart_policy="always")
    rig.host.exit(rig.pid("c1"), 1)
    rig.step()
    (started,) = rig.ask(protocol.Start(id="c1"))
    assert isinstance(started, protocol.Started) and rig.monitor.watches["c1"].restart_at is None


# -- stopping --------------------------------------------------------------------------------
def test_stop_signals_and_answers_after_the_exit_without_restarting(rig: Rig) -> None:
    pid = rig.start("c1", restart_policy="always")
    stopping = rig.ask(protocol.Stop(id="c1", signal=signal.SIGTERM, timeout=10))
    assert ("signal", "c1", signal.SIGTERM, False) in rig.host.calls
    assert stopping == [], "answered only once the container has exited"
    rig.step()
    assert stopping == [protocol.Stopped(stopped=True)]
    state = rig.host.state("c1")
    assert state["status"] == "exited" and state["stopped_by_user"] is True and state["exit_code"] == 128 + 15
    rig.step(120)
    assert [call[1] for call in rig.host.named("launch")] == ["c1"], f"a stopped container restarted ({pid})"


def test_stop_kills_every_process_at_the_timeout_and_again_until_it_dies(rig: Rig) -> None:
    rig.host.dies_on = set()   # an init that ignores every signal (pid 1 without handlers)
    rig.start("c1")
    stopping = rig.ask(protocol.Stop(id="c1", signal=signal.SIGTERM, timeout=10))
    rig.step(9.9)
    assert not [c for c in rig.host.named("signal") if c[2] == signal.SIGKILL], "killed before the timeout"
    rig.step(0.2)
    assert ("signal", "c1", signal.SIGKILL, True) in rig.host.calls
    rig.step(KILL_RETRY)
    assert len([c for c in rig.host.named("signal") if c[2] == signal.SIGKILL]) == 2, "the SIGKILL is repeated"
    assert stopping == []
    rig.host.exit(rig.pid("c1"), -signal.SIGKILL)
    rig.step()
    assert stopping == [protocol.Stopped(stopped=True)] and rig.host.state("c1")["exit_code"] == 137


def test_a_second_stop_joins_the_first(rig: Rig) -> None:
    rig.host.dies_on = set()
    rig.start("c1")
    first = rig.ask(protocol.Stop(id="c1", timeout=10))
    second = rig.ask(protocol.Stop(id="c1", timeout=0))
    rig.host.exit(rig.pid("c1"), 0)
    rig.step()
    assert first == second == [protocol.Stopped(stopped=True)]
    assert len(rig.host.named("signal")) == 1


def test_a_signal_that_cannot_be_sent_goes_straight_to_sigkill(rig: Rig) -> None:
    rig.host.dies_on = {signal.SIGKILL}
    rig.start("c1")

    def refuse(container_id: str, signum: int, *, all_processes: bool = False) -> None:
        rig.host.calls.append(("signal", container_id, signum, all_processes))
        if signum != signal.SIGKILL:
            raise InvalidState("no such process")
        rig.host.exit(rig.pid(container_id), -signum)

    rig.host.signal = refuse  # type: ignore[method-assign]
    stopping = rig.ask(protocol.Stop(id="c1", timeout=10))
    rig.step()   # the SIGKILL, now
    assert rig.host.named("signal")[-1] == ("signal", "c1", signal.SIGKILL, True)
    rig.step()   # its exit
    assert stopping == [protocol.Stopped(stopped=True)]


def test_stop_of_a_restarting_container_cancels_the_restart(rig: Rig) -> None:
    rig.start("c1", restart_policy="always")
    rig.host.exit(rig.pid("c1"), 1)
    rig.step()
    assert rig.ask(protocol.Stop(id="c1")) == [protocol.Stopped(stopped=False)]
    rig.step(120)
    state = rig.host.state("c1")
    assert state["status"] == "exited" and state["stopped_by_user"] and len(rig.host.named("launch")) == 1


def test_stop_of_a_paused_container_thaws_it_first(rig: Rig) -> None:
    rig.start("c1")
    assert rig.ask(protocol.Pause(id="c1")) == [protocol.Ok()]
    rig.ask(protocol.Stop(id="c1"))
    assert rig.host.calls[-2:] == [("freeze", "c1", False), ("signal", "c1", signal.SIGTERM, False)]


# -- pausing ---------------------------------------------------------------------------------
def test_pause_and_unpause_go_through_the_lifecycle_table(rig: Rig) -> None:
    rig.start("c1")
    assert rig.ask(protocol.Pause(id="c1")) == [protocol.Ok()]
    assert rig.host.state("c1")["paused"] is True
    assert rig.ask(protocol.Pause(id="c1")) == [protocol.Ok()], "pausing a paused container: nothing to do"
    assert rig.ask(protocol.Unpause(id="c1")) == [protocol.Ok()]
    assert rig.host.named("freeze") == [("freeze", "c1", True), ("freeze", "c1", False)]
    assert rig.host.state("c1")["paused"] is False
    rig.host.add("c2")
    (refused,) = rig.ask(protocol.Pause(id="c2"))
    assert isinstance(refused, protocol.Error) and refused.kind == "invalid_state" and "created" in refused.message


def test_an_exit_clears_paused(rig: Rig) -> None:
    rig.start("c1")
    rig.ask(protocol.Pause(id="c1"))
    rig.host.exit(rig.pid("c1"), -signal.SIGKILL)
    rig.step()
    assert rig.host.state("c1")["paused"] is False


# -- healthchecks ----------------------------------------------------------------------------
def _probe_pids(rig: Rig) -> list[int]:
    return [call[2] for call in rig.host.named("probe")]


def test_a_passing_probe_makes_it_healthy_every_interval(rig: Rig) -> None:
    rig.start("c1", healthcheck=CHECK)
    assert rig.host.state("c1")["health"]["status"] == "starting"
    rig.step(4.9)
    assert _probe_pids(rig) == []
    rig.step(0.2)
    (probe,) = _probe_pids(rig)
    assert rig.host.named("probe")[0][3] == ["probe"]
    rig.host.write(probe, b"fine")
    rig.host.exit(probe, 0)
    rig.step()
    health = rig.host.state("c1")["health"]
    assert health["status"] == "healthy" and health["log"][-1]["output"] == "fine"
    rig.step(5)
    assert len(_probe_pids(rig)) == 2


def _fail_probes(rig: Rig, count: int) -> None:
    for _probe in range(count):
        rig.step(CHECK["interval"])
        rig.host.exit(_probe_pids(rig)[-1], 1)
        rig.step()


def test_failures_turn_it_unhealthy_after_the_retries(rig: Rig) -> None:
    rig.start("c1", healthcheck=CHECK)
    _fail_probes(rig, 2)
    assert rig.host.state("c1")["health"]["status"] == "starting"
    _fail_probes(rig, 1)
    health = rig.host.state("c1")["health"]
    assert health["status"] == "unhealthy" and health["failing_streak"] == 3


def test_failures_in_the_start_period_do_not_count(rig: Rig) -> None:
    rig.start("c1", healthcheck={**CHECK, "start_period": 12.0})
    _fail_probes(rig, 2)   # at 5 s and 10 s
    assert rig.host.state("c1")["health"]["failing_streak"] == 0
    _fail_probes(rig, 1)   # at 15 s
    assert rig.host.state("c1")["health"]["failing_streak"] == 1


def test_a_probe_past_its_timeout_is_killed_and_fails(rig: Rig) -> None:
    rig.start("c1", healthcheck=CHECK)
    rig.step(5)
    (probe,) = _probe_pids(rig)
    rig.step(1.9)
    assert rig.host.named("kill") == []
    rig.step(0.2)
    assert rig.host.named("kill") == [("kill", probe)]
    rig.step()
    entry = rig.host.state("c1")["health"]["log"][-1]
    assert entry["exit_code"] == -1 and "timed out after 2.0s" in entry["output"]


def test_no_probes_while_paused(rig: Rig) -> None:
    rig.start("c1", healthcheck=CHECK)
    rig.ask(protocol.Pause(id="c1"))
    rig.step(5)
    rig.step(5)
    assert _probe_pids(rig) == []
    rig.ask(protocol.Unpause(id="c1"))
    rig.step(5)
    assert len(_probe_pids(rig)) == 1


def test_a_probe_that_cannot_start_counts_as_failed(rig: Rig) -> None:
    rig.start("c1", healthcheck={**CHECK, "retries": 1})

    def broken(container_id: str, argv: list[str]) -> tuple[int, int]:
        raise InvalidState("exec failed")

    rig.host.exec_probe = broken  # type: ignore[method-assign]
    rig.step(5)
    health = rig.host.state("c1")["health"]
    assert health["status"] == "unhealthy" and "exec failed" in health["log"][-1]["output"]


def test_the_exit_ends_the_probes(rig: Rig) -> None:
    rig.start("c1", healthcheck=CHECK)
    rig.host.exit(rig.pid("c1"), 0)
    rig.step()
    rig.step(60)
    assert _probe_pids(rig) == []


# -- create and remove (the fast lane's requests) ------------------------------------------------------
def test_create_and_start(rig: Rig) -> None:
    (created,) = rig.ask(protocol.Create(name="web", spec={"image": "box"}, state_root="/state", start=True,
                                         stated=["image"]))
    assert created == protocol.Created(id="id-web", log=str(rig.host.log_path("id-web")))
    assert ("create", "web", {"image": "box"}, ["image"]) in rig.host.calls
    assert rig.host.state("id-web")["status"] == "running"
    (refused,) = rig.ask(protocol.Create(name="x", spec={}, state_root="/elsewhere"))
    assert isinstance(refused, protocol.Error) and refused.field == "state_root"


def test_remove_refuses_a_live_container_and_takes_an_exited_one(rig: Rig) -> None:
    rig.start("c1")
    (refused,) = rig.ask(protocol.Remove(id="c1", volumes=True))
    assert isinstance(refused, protocol.Error) and refused.kind == "conflict"
    rig.host.exit(rig.pid("c1"), 0)
    rig.step()
    assert rig.ask(protocol.Remove(id="c1", volumes=True)) == [protocol.Ok()]
    assert ("remove", "c1", True) in rig.host.calls


# -- adoption and idling ---------------------------------------------------------------------
def test_containers_of_an_earlier_monitor_are_adopted(rig: Rig) -> None:
    rig.host.add("c1", status="running", healthcheck=CHECK)
    rig.host.state("c1")["pid"] = 4242
    rig.monitor.adopt_running()
    assert rig.monitor.watches["c1"].pidfd is not None and rig.monitor.watches["c1"].next_probe is not None
    waiting = rig.ask(protocol.Wait(id="c1"))
    rig.host.exit(4242, 0)   # its pidfd turns readable
    rig.host.exits.clear()   # not this monitor's child: never reaped here
    rig.step()
    assert waiting == [protocol.Exited(exit_code=None, status="exited")]
    assert rig.host.state("c1")["status"] == "exited"


def test_idle_only_with_nothing_to_watch(rig: Rig) -> None:
    rig.start("c1", restart_policy="always")
    rig.step(IDLE_EXIT + 1)
    assert not rig.monitor.idle()
    rig.host.exit(rig.pid("c1"), 1)
    rig.step()
    rig.step(IDLE_EXIT + 0.05)
    assert not rig.monitor.idle(), "a restart is pending"
    rig.ask(protocol.Stop(id="c1"))
    assert not rig.monitor.idle()   # the clock starts from the last busy moment
    rig.step(IDLE_EXIT + 0.05)
    assert rig.monitor.idle()
