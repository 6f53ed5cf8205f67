"""The CLI fast lane: its argv reading, and `run`/`create` handed to a
(fake) monitor as typed Create requests carrying a ContainerSpec."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cli import fastlane
from ansible_collections.berth.engine.plugins.module_utils.containers import monitor_client, protocol
from ansible_collections.berth.engine.plugins.module_utils.containers.logs import LogWriter
from ansible_collections.berth.engine.plugins.module_utils.containers.spec import ContainerSpec


def test_split_finds_roots_and_verb() -> None:
    roots, verb = fastlane.split(["--state-root", "/s", "--run-root=/r", "--json", "run", "-d", "img"])
    assert roots == {"--state-root": "/s", "--run-root": "/r"} and verb == "run"
    roots, verb = fastlane.split(["ps"])
    assert roots == {"--state-root": "/var/lib/berth", "--run-root": "/run/berth"} and verb == "ps"
    assert fastlane.split(["--state-root"])[1] is None


def test_no_monitor_means_the_full_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert fastlane.via_monitor(["--run-root", str(tmp_path), "run", "-d", "img"]) is None
    assert fastlane.via_monitor(["--run-root", str(tmp_path), "ps"]) is None
    fastlane.early_monitor(["--run-root", str(tmp_path / "missing"), "run", "img"], ["false"])
    assert not monitor_client.SPAWNED, "no run root yet: the engine creates it and spawns the monitor itself"


class FakeMonitor:
    """A monitor socket that decodes each request and answers from a script."""

    def __init__(self, run_root: Path, answer: Callable[[Any], Any]) -> None:
        self.requests: list[Any] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(run_root / "monitor.sock"))
        self.server.listen(8)
        self.answer = answer
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with self.server:
            while True:
                try:
                    conn, _addr = self.server.accept()
                except OSError:
                    return
                with conn:
                    line = conn.makefile("rb").readline()
                    if not line:
                        continue   # the client's probe: is a monitor there?
                    request = protocol.decode(line)
                    self.requests.append(request)
                    conn.sendall(protocol.encode(self.answer(request)))
                    if isinstance(request, protocol.Remove):
                        return


def test_run_is_handed_over_as_a_create_with_a_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monitor = FakeMonitor(tmp_path, lambda request: protocol.Created(id="c" * 64, log=str(tmp_path / "log")))
    code = fastlane.via_monitor(["--state-root", str(tmp_path / "state"), "--run-root", str(tmp_path), "run", "-d",
                                 "--name", "web", "-e", "A=1", "--restart", "always", "--network", "none",
                                 "local/box:1", "sleep", "60"])
    assert code == 0 and capsys.readouterr().out == f"id: {'c' * 64}\n"
    (create,) = monitor.requests
    assert isinstance(create, protocol.Create) and create.start and create.name == "web"
    assert create.state_root == str(tmp_path / "state")
    spec = ContainerSpec.from_dict(create.spec)
    assert (spec.image, spec.command, spec.env, spec.restart_policy) == ("local/box:1", ("sleep", "60"), {"A": "1"},
                                                                         "always")
    assert "env" in create.stated


def test_an_attached_run_rm_follows_the_log_waits_and_removes(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "container.log"

    def answer(request: Any) -> Any:
        if isinstance(request, protocol.Create):
            assert request.spec["auto_remove"] is False, "removed by the client once it read the output"
            return protocol.Created(id="c1", log=str(log))
        if isinstance(request, protocol.Wait):
            LogWriter(log).write("stdout", b"hello\n")
            return protocol.Exited(exit_code=3, status="exited")
        return protocol.Ok()

    monitor = FakeMonitor(tmp_path, answer)
    code = fastlane.via_monitor(["--run-root", str(tmp_path), "--state-root", str(tmp_path), "run", "--rm",
                                 "--name", "once", "--network", "none", "local/box:1", "true"])
    monitor.thread.join(5)
    assert code == 3 and capsys.readouterr().out == "hello\n"
    assert [type(r).__name__ for r in monitor.requests] == ["Create", "Wait", "Remove"]
    assert monitor.requests[-1] == protocol.Remove(id="c1", volumes=True)


def test_monitor_errors_are_printed_like_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    FakeMonitor(tmp_path, lambda request: protocol.Error(kind="already_exists", message="web exists", field="name"))
    code = fastlane.via_monitor(["--run-root", str(tmp_path), "--state-root", str(tmp_path), "create", "--name",
                                 "web", "local/box:1"])
    # Docker's create/run exit 125 on an engine error, as the full CLI's base.ENGINE_ERROR_EXIT
    assert code == 125 and capsys.readouterr().err == "berth: already_exists: name: web exists\n"


def test_a_command_that_cannot_be_executed_exits_127_or_126(tmp_path: Path) -> None:
    for code in (127, 126):
        root = tmp_path / str(code)
        root.mkdir()
        FakeMonitor(root, lambda request, code=code: protocol.Error(
            kind="invalid_input", message='exec: "x": nope', field="process.args", exit_code=code))
        assert fastlane.via_monitor(["--run-root", str(root), "--state-root", str(root), "create",
                                     "--name", "web", "local/box:1"]) == code


def test_bad_usage_and_bad_options_take_the_full_path(tmp_path: Path) -> None:
    """The full CLI prints the usage or the error, as without a monitor."""
    monitor = FakeMonitor(tmp_path, lambda request: protocol.Ok())
    assert fastlane.via_monitor(["--run-root", str(tmp_path), "run", "--bogus", "local/box:1"]) is None
    assert fastlane.via_monitor(["--run-root", str(tmp_path), "run", "--name", "x", "-h"]) is None
    assert fastlane.via_monitor(["--run-root", str(tmp_path), "run", "--name", "x", "--restart", "x",
                                 "local/box:1"]) is None
    assert monitor.requests == []


def test_json_output_is_the_full_clis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json before or after the verb, printed as cli.render prints it."""
    FakeMonitor(tmp_path, lambda request: protocol.Created(id="c1", log=str(tmp_path / "log")))
    for argv in (["--json", "create", "--name", "web", "img"], ["create", "--name", "web", "--json", "img"]):
        assert fastlane.via_monitor(["--run-root", str(tmp_path), "--state-root", str(tmp_path), *argv]) == 0
        assert capsys.readouterr().out == '{\n  "id": "c1"\n}\n'
