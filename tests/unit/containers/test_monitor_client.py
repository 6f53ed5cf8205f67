"""The monitor's client: typed requests to a fake monitor behind a fake
transport (the real Monitor over a FakeHost, no processes), spawn-and-retry
when none answers, timeouts, and the socket transport's polling."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.containers import monitor_client, protocol
from ansible_collections.berth.engine.plugins.module_utils.containers.monitor import Monitor
from ansible_collections.berth.engine.plugins.module_utils.containers.monitor_client import (
    MonitorClient,
    SocketTransport,
    process_alive,
)
from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict, InvalidState
from tests.support.fake_monitor import Answers, FakeClock, FakeHost


class InProcess:
    """A transport to a Monitor in this process: the request is handled, and
    the monitor is driven (the clock moved, a turn taken) until it answers."""

    def __init__(self, monitor: Monitor, clock: FakeClock) -> None:
        self.monitor = monitor
        self.clock = clock
        self.turns = 0

    def exchange(self, payload: bytes, timeout: float, between: Callable[[], None] | None = None,
                 poll: float = 1.0) -> bytes:
        answers = Answers()
        self.monitor.handle_line(payload.rstrip(b"\n"), answers)
        while not answers:
            self.turns += 1
            assert self.turns < 1000, "the monitor never answered"
            self.clock.advance(poll)
            self.monitor.step(0)
            if between is not None:
                between()
        return protocol.encode(answers[0])


class Scripted:
    """A transport that raises or returns what the test lists, in order."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[bytes] = []

    def exchange(self, payload: bytes, timeout: float, between: Callable[[], None] | None = None,
                 poll: float = 1.0) -> bytes:
        self.sent.append(payload)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[MonitorClient, FakeHost, InProcess]]:
    clock = FakeClock()
    host = FakeHost(tmp_path)
    monitor = Monitor(host, clock)
    transport = InProcess(monitor, clock)
    yield MonitorClient(tmp_path / "state", tmp_path / "run", transport=transport), host, transport
    for watch in list(monitor.watches.values()):
        monitor._forget(watch, force=True)
    host.close()


def test_typed_requests_to_the_monitor(fake: tuple[MonitorClient, FakeHost, InProcess]) -> None:
    client, host, _transport = fake
    host.add("c1")
    started = client.ask(protocol.Start(id="c1"), protocol.Started)
    assert started.pid == host.inits["c1"]
    client.ask(protocol.Pause(id="c1"), protocol.Ok)
    assert host.state("c1")["paused"] is True


def test_a_stop_waits_for_the_exit(fake: tuple[MonitorClient, FakeHost, InProcess]) -> None:
    client, host, transport = fake
    host.dies_on = {signal.SIGKILL}   # it ignores the SIGTERM
    host.add("c1")
    client.ask(protocol.Start(id="c1"), protocol.Started)
    stopped = client.ask(protocol.Stop(id="c1", signal=15, timeout=3), protocol.Stopped)
    assert stopped.stopped and transport.turns >= 3, "answered only after the SIGKILL at the timeout"
    assert host.state("c1")["exit_code"] == 137


def test_error_replies_raise_the_engine_error(fake: tuple[MonitorClient, FakeHost, InProcess]) -> None:
    client, host, _transport = fake
    host.add("c1")
    client.ask(protocol.Start(id="c1"), protocol.Started)
    with pytest.raises(Conflict, match="cannot remove"):
        client.ask(protocol.Remove(id="c1"), protocol.Ok)
    host.add("c2")
    with pytest.raises(InvalidState, match="cannot pause"):
        client.ask(protocol.Pause(id="c2"), protocol.Ok)


def test_no_monitor_spawns_one_and_asks_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = Scripted(ConnectionRefusedError(), protocol.encode(protocol.Started(pid=7)))
    client = MonitorClient(tmp_path, tmp_path, transport=transport)
    spawned: list[bool] = []
    monkeypatch.setattr(client, "spawn", lambda: spawned.append(True))
    assert client.ask(protocol.Start(id="c1"), protocol.Started).pid == 7
    assert spawned == [True] and transport.sent[0] == transport.sent[1]


def test_a_monitor_that_never_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = MonitorClient(tmp_path, tmp_path, transport=Scripted(FileNotFoundError(), ConnectionResetError()))
    monkeypatch.setattr(client, "spawn", lambda: None)
    with pytest.raises(InvalidState, match="does not answer"):
        client.ask(protocol.Start(id="c1"), protocol.Started)


def test_timeouts(tmp_path: Path) -> None:
    client = MonitorClient(tmp_path, tmp_path, transport=Scripted(TimeoutError(), TimeoutError()))
    with pytest.raises(TimeoutError):   # the service words a wait's own error
        client.ask(protocol.Wait(id="c1"), protocol.Exited, timeout=1)
    with pytest.raises(InvalidState, match="did not finish 'start' within 1s"):
        client.ask(protocol.Start(id="c1"), protocol.Started, timeout=1)


def test_a_reply_of_another_protocol(tmp_path: Path) -> None:
    client = MonitorClient(tmp_path, tmp_path, transport=Scripted(b'{"ok": true, "pid": 1}\n'))
    with pytest.raises(InvalidState, match="could not be read"):
        client.ask(protocol.Start(id="c1"), protocol.Started)


# -- the socket transport ----------------------------------------------------------------------
def _serve_once(path: Path, reply: bytes | None, delay: float) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def answer() -> None:
        conn, _addr = server.accept()
        with conn, server:
            conn.recv(65536)
            time.sleep(delay)
            if reply is not None:
                conn.sendall(reply)
            else:
                time.sleep(1)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


def test_the_socket_transport_polls_while_it_waits(tmp_path: Path) -> None:
    path = tmp_path / "monitor.sock"
    thread = _serve_once(path, protocol.encode(protocol.Exited(exit_code=0, status="exited")), delay=0.3)
    polls: list[float] = []
    transport = SocketTransport(str(path), lambda: True)
    line = transport.exchange(protocol.encode(protocol.Wait(id="c1")), 5, lambda: polls.append(time.monotonic()),
                              poll=0.05)
    thread.join()
    assert protocol.decode_reply(line) == protocol.Exited(exit_code=0, status="exited") and len(polls) >= 3


def test_a_dead_monitor_reads_as_a_reset_connection(tmp_path: Path) -> None:
    """Its connection may stay open (a container init holds the fd until its execve): the pid file tells."""
    path = tmp_path / "monitor.sock"
    thread = _serve_once(path, None, delay=0)
    with pytest.raises(ConnectionResetError):
        SocketTransport(str(path), lambda: False).exchange(b"{}\n", 5, poll=0.05)
    thread.join()


def test_alive_reads_the_pid_file(tmp_path: Path) -> None:
    client = MonitorClient(tmp_path, tmp_path)
    assert not client.alive()
    (tmp_path / "monitor.pid").write_text(f"{os.getpid()}\n")
    assert client.alive()
    (tmp_path / "monitor.pid").write_text("junk")
    assert not client.alive()
    assert process_alive(os.getpid()) and not process_alive(0) and not process_alive(-1)


def test_an_early_spawned_monitor_is_waited_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = MonitorClient(tmp_path, tmp_path)
    launched: list[list[str]] = []
    monkeypatch.setattr(client, "_popen", launched.append)
    client.spawn_early(["berth"])
    assert launched == [["berth"]] and client.run_root in monitor_client.SPAWNED
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)   # the monitor it started now listens
    server.bind(client.socket_path)
    server.listen(1)
    with server:
        client.spawn()
    assert launched == [["berth"]], "no second monitor" and client.run_root not in monitor_client.SPAWNED
