"""container_exec's task as docker_container_exec's contract: options, output shaping, detach and tty.

The task is run with the engine's ContainerService replaced by a recorder (what it was asked to run, and a
canned result); the terminal and detached paths (containers/exec_capture.py) run against a stand-in for
berth-runtime that speaks its console-socket protocol on a real pty.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import (
    CONTAINER_EXEC_SPEC,
    argument_spec,
)
from ansible_collections.berth.engine.plugins.module_utils.ansible.tasks import container as tasks
from ansible_collections.berth.engine.plugins.module_utils.containers import exec_capture
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, InvalidState


class Recorder:
    """ContainerService's exec surface: records each call and answers with ``answer``."""

    calls: list[tuple[str, dict[str, Any]]] = []
    answer = subprocess.CompletedProcess(["x"], 0, b"kept\n", b"")

    def __init__(self, _engine: Any) -> None:
        pass

    def execute(self, ref: str, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        Recorder.calls.append(("execute", {"ref": ref, "argv": argv, **kwargs}))
        if kwargs.get("timeout") == 1:
            raise subprocess.TimeoutExpired(argv, 1)
        return Recorder.answer

    def execute_detached(self, ref: str, argv: list[str], **kwargs: Any) -> int:
        Recorder.calls.append(("execute_detached", {"ref": ref, "argv": argv, **kwargs}))
        return 4242


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> type[Recorder]:
    Recorder.calls = []
    Recorder.answer = subprocess.CompletedProcess(["x"], 0, b"kept\n", b"")
    monkeypatch.setattr(tasks, "ContainerService", Recorder)
    monkeypatch.setattr(tasks.Engine, "open", staticmethod(lambda *_a: None))
    return Recorder


def params(**given: Any) -> dict[str, Any]:
    """The parameters AnsibleModule hands over: every option, defaulted."""
    spec = argument_spec(**CONTAINER_EXEC_SPEC)
    return {name: given.get(name, arg.get("default")) for name, arg in spec.items()}


def test_options_and_defaults_are_docker_container_exec_s() -> None:
    spec = argument_spec(**CONTAINER_EXEC_SPEC)
    assert {name: spec[name].get("default") for name in ("strip_empty_ends", "stdin_add_newline", "tty", "detach")} \
        == {"strip_empty_ends": True, "stdin_add_newline": True, "tty": False, "detach": False}
    assert {"container", "argv", "command", "chdir", "user", "env", "stdin", "timeout"} <= set(spec)


def test_trailing_newlines_are_stripped_and_lines_returned(recorder: type[Recorder]) -> None:
    recorder.answer = subprocess.CompletedProcess(["x"], 3, b"a\nkept\r\n\n", b"oops\n")
    result = tasks.container_exec(params(container="web", argv=["cat", "f"]), False, False)
    assert result == {"changed": True, "rc": 3, "stdout": "a\nkept", "stderr": "oops",
                      "stdout_lines": ["a", "kept"], "stderr_lines": ["oops"], "msg": "non-zero return code"}


def test_strip_empty_ends_false_keeps_the_output_as_printed(recorder: type[Recorder]) -> None:
    result = tasks.container_exec(params(container="web", argv=["cat"], strip_empty_ends=False), False, False)
    assert result["stdout"] == "kept\n" and result["stdout_lines"] == ["kept"]


def test_stdin_gets_a_newline_unless_told_not_to(recorder: type[Recorder]) -> None:
    tasks.container_exec(params(container="web", argv=["cat"], stdin="piped"), False, False)
    tasks.container_exec(params(container="web", argv=["cat"], stdin="piped", stdin_add_newline=False), False, False)
    tasks.container_exec(params(container="web", argv=["true"]), False, False)
    assert [call["stdin"] for _kind, call in recorder.calls] == [b"piped\n", b"piped", b""]


def test_command_env_chdir_user_and_tty_reach_the_service(recorder: type[Recorder]) -> None:
    tasks.container_exec(params(container="web", command="sh -c 'echo $A'", env={"A": "x", "N": 8080},
                                chdir="/srv", user="nobody", tty=True, timeout=30), False, False)
    [(kind, call)] = recorder.calls
    assert kind == "execute"
    assert call == {"ref": "web", "argv": ["sh", "-c", "echo $A"], "env": {"A": "x", "N": "8080"}, "user": "nobody",
                    "workdir": "/srv", "stdin": b"", "timeout": 30, "tty": True}


def test_detach_returns_an_exec_id_and_the_pid_without_output(recorder: type[Recorder]) -> None:
    result = tasks.container_exec(params(container="web", argv=["sleep", "9"], detach=True), False, False)
    assert set(result) == {"changed", "exec_id", "pid"} and result["pid"] == 4242
    assert len(result["exec_id"]) == 64 and int(result["exec_id"], 16) >= 0
    assert recorder.calls[0][0] == "execute_detached"
    warned = tasks.container_exec(params(container="web", argv=["top"], detach=True, tty=True), False, False)
    assert "tty is ignored" in warned["warnings"][0]


def test_detach_with_stdin_is_refused_naming_the_option(recorder: type[Recorder]) -> None:
    with pytest.raises(InvalidInput) as caught:
        tasks.container_exec(params(container="web", argv=["cat"], detach=True, stdin="x"), False, False)
    assert caught.value.field == "stdin" and "detach" in str(caught.value)
    assert recorder.calls == []


def test_a_boolean_env_value_is_refused_even_in_check_mode(recorder: type[Recorder]) -> None:
    with pytest.raises(InvalidInput) as caught:
        tasks.container_exec(params(container="web", argv=["env"], env={"DEBUG": True}), True, False)
    assert caught.value.field == "env" and "quote" in str(caught.value)


def test_check_mode_reports_changed_without_running(recorder: type[Recorder]) -> None:
    assert tasks.container_exec(params(container="web", argv=["rm", "-rf", "/srv"]), True, False) == {"changed": True}
    assert recorder.calls == []


def test_a_hung_command_fails_naming_the_container_and_timeout(recorder: type[Recorder]) -> None:
    with pytest.raises(InvalidState) as caught:
        tasks.container_exec(params(container="web", argv=["sleep", "60"], timeout=1), False, False)
    assert caught.value.field == "timeout" and "container web" in str(caught.value)


# -- exec_capture against a stand-in runtime --------------------------------------------------------------
# `exec [-t --console-socket P] [-d --pid-file F] ID ARGV...`: on -t, a pty whose master goes over the
# socket and ARGV runs on its slave; on -d, ARGV's pid goes to the pid file; ID "bad" fails as the runtime does.
FAKE_RUNTIME = textwrap.dedent("""
    import array, os, socket, sys, time
    args = sys.argv[1:]
    log = args[args.index("--log") + 1] if "--log" in args else None
    args = args[args.index("exec") + 1:]
    console = pid_file = None
    while args[0].startswith("-"):
        flag = args.pop(0)
        if flag == "--console-socket":
            console = args.pop(0)
        elif flag == "--pid-file":
            pid_file = args.pop(0)
    ident, argv = args[0], args[1:]
    if ident == "bad":
        if log:
            open(log, "a").write('level=error msg="container bad is not running"\\n')
        sys.exit(1)
    if pid_file:
        pid = os.fork()
        if pid == 0:
            os.setsid()
            os.execvp(argv[0], argv)
        open(pid_file, "w").write(str(pid))
        sys.exit(0)
    master, slave = os.openpty()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(console)
    conn.sendmsg([b"m"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]))])
    conn.close()
    os.close(master)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.execvp(argv[0], argv)
    os.close(slave)
    _pid, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
""")


@pytest.fixture
def runtime(tmp_path: Path) -> list[str]:
    script = tmp_path / "fake-runtime"
    script.write_text(FAKE_RUNTIME)
    return [sys.executable, str(script), "--root", str(tmp_path), "exec"]


def test_a_terminal_s_output_is_captured_with_its_exit_code(runtime: list[str]) -> None:
    done = exec_capture.run_on_tty([*runtime, "c1", "sh", "-c", "test -t 1 && echo on-a-tty; echo err >&2; exit 4"],
                                   b"", 30)
    assert done.returncode == 4
    assert done.stdout.replace(b"\r\n", b"\n") == b"on-a-tty\nerr\n" and done.stderr == b""


def test_a_terminal_s_input_ends_with_end_of_file(runtime: list[str]) -> None:
    done = exec_capture.run_on_tty([*runtime, "c1", "sh", "-c", "cat >/dev/null; echo read-all"], b"one\ntwo", 30)
    assert done.returncode == 0 and done.stdout.replace(b"\r\n", b"\n").endswith(b"read-all\n")


def test_a_terminal_command_past_its_timeout_raises_timeout(runtime: list[str], tmp_path: Path) -> None:
    pid_file = tmp_path / "sleeper"
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            exec_capture.run_on_tty([*runtime, "c1", "sh", "-c", f"echo $$ > {pid_file}; exec sleep 30"], b"", 0.5)
    finally:   # the stand-in runtime is killed; the command it started is this test's to stop
        if _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_a_detached_command_is_started_and_its_pid_returned(runtime: list[str], tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    pid = exec_capture.start_detached([*runtime, "c1", "sh", "-c", f"echo ran > {marker}"])
    assert pid > 0
    assert _wait_for(marker.exists)


def test_a_detached_command_the_runtime_refuses_fails_with_its_error(runtime: list[str]) -> None:
    with pytest.raises(InvalidState) as caught:
        exec_capture.start_detached([*runtime, "bad", "true"])
    assert "container bad is not running" in str(caught.value) and caught.value.field == "detach"


def _wait_for(predicate: Any) -> bool:
    import time

    for _attempt in range(500):
        if predicate():
            return True
        time.sleep(0.01)
    return False
