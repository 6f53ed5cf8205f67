"""The modules' thin client (ansible/remote.py) and the host's engine agent (ansible/agent.py).

The agent tests start real agents (the venv's python on this tree, as a dev
install does) under a temporary prefix, and stop them at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible import remote
from ansible_collections.berth.engine.plugins.module_utils.ansible import tasks as task_registry
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from tests.support.devinstall import agent_pids, stop_agents, write_install

DIGEST = "ab" * 32


def _env(prefix: Path, **more: str) -> dict[str, str]:
    return {**os.environ, "BERTH_PREFIX": str(prefix), **more}


@pytest.fixture
def prefix(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / ("long-" * 12)   # a socket path longer than sun_path: reached through /proc/self/fd
    yield root / "x"
    stop_agents(root)


# -- the client's decisions ---------------------------------------------------------------------------
def test_no_install_and_no_engine_here_names_the_role(prefix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "engine_here", lambda: False)
    reply = remote.dispatch("volume_info", {}, False, False, _env(prefix))
    msg = reply["failed"]["msg"]
    assert "not installed" in msg and f"{prefix}/engine.json" in msg and "berth.engine.host" in msg


def test_a_check_run_before_the_role_reports_the_change_and_never_fails(
        prefix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "engine_here", lambda: False)
    planned = remote.dispatch("volume", {"name": "v", "labels": {}, "state_root": "/x"}, True, False,
                              _env(prefix))["result"]
    assert planned["changed"] is True and "berth.engine.host" in planned["actions"][0]
    assert planned["diff"] == {"before": {}, "after": {"name": "v"}}   # what the task states, made from nothing
    assert "not installed" in planned["warnings"][0] and f"{prefix}/engine.json" in planned["warnings"][0]
    read = remote.dispatch("volume_info", {}, True, False, _env(prefix))["result"]
    assert read["changed"] is False and "not installed" in read["warnings"][0]


def test_no_install_with_the_engine_here_runs_in_process(prefix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, ...]] = []
    monkeypatch.setattr(task_registry, "execute", lambda *args: seen.append(args) or {"result": {"changed": False}})
    assert remote.dispatch("volume_info", {"name": "v"}, True, False, _env(prefix)) == {"result": {"changed": False}}
    assert seen == [("volume_info", {"name": "v"}, True, False)]


def test_a_digest_skew_runs_nothing_and_says_both(prefix: Path) -> None:
    write_install(prefix, DIGEST)
    reply = remote.dispatch("volume_info", {}, False, False,
                            _env(prefix, BERTH_ENGINE_DIGEST="cd" * 32, BERTH_ENGINE_VERSION="0.2.0"))
    msg = reply["failed"]["msg"]
    assert "abababababab" in msg and "cdcdcdcdcdcd" in msg and "0.2.0" in msg and "0.1.0" in msg
    assert "re-run the berth.engine.host role to upgrade this host" in msg
    assert not (prefix / "run").exists(), "no agent may start for a skewed engine"


def test_a_damaged_install_says_which_file(prefix: Path) -> None:
    prefix.mkdir(parents=True)
    (prefix / "engine.json").write_text("{not json")
    msg = remote.dispatch("volume_info", {}, False, False, _env(prefix))["failed"]["msg"]
    assert str(prefix / "engine.json") in msg and "re-run the berth.engine.host role" in msg


def test_the_wire_round_trips_a_frame() -> None:
    left, right = socket.socketpair()
    with left, right:
        remote.send_frame(left, {"a": [1, "é"], "s": {3}})
        assert remote.recv_frame(right) == {"a": [1, "é"], "s": [3]}
        left.close()
        with pytest.raises(EOFError):
            remote.recv_frame(right)


# -- through a real agent -----------------------------------------------------------------------------
def test_a_task_runs_on_the_agent_and_errors_come_back(prefix: Path, tmp_path: Path) -> None:
    roots = {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run")}
    Engine.open(tmp_path / "state", tmp_path / "run")
    write_install(prefix, DIGEST)
    env = _env(prefix, BERTH_ENGINE_DIGEST=DIGEST)
    reply = remote.dispatch("volume_info", {**roots, "name": None, "size": True}, False, False, env)
    assert reply == {"result": {"changed": False, "volumes": []}}
    assert len(agent_pids(prefix.parent)) == 1
    mode = (prefix / "run").stat().st_mode & 0o777
    assert mode == 0o700
    failed = remote.dispatch("volume_info", {**roots, "name": "../x", "size": True}, False, False, env)["failed"]
    assert failed["error"]["field"] == "name" and "exception" not in failed


def test_a_worker_crash_comes_back_with_its_traceback(prefix: Path) -> None:
    write_install(prefix, DIGEST)
    failed = remote.dispatch("no_such_task", {}, False, False, _env(prefix))["failed"]
    assert "berth's engine failed unexpectedly" in failed["msg"] and "no_such_task" in failed["msg"]
    assert "Traceback" in failed["exception"] and "KeyError" in failed["exception"]


def test_concurrent_tasks_start_one_agent(prefix: Path, tmp_path: Path) -> None:
    Engine.open(tmp_path / "state", tmp_path / "run")
    write_install(prefix, DIGEST)
    params = {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run"), "name": None, "size": True}
    replies: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: replies.append(
        remote.dispatch("volume_info", params, False, False, _env(prefix)))) for _i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replies == [{"result": {"changed": False, "volumes": []}}] * 8
    assert len(agent_pids(prefix.parent)) == 1
    assert len(_agent_processes(prefix)) == 1


def test_the_agent_leaves_when_another_engine_is_installed(prefix: Path) -> None:
    write_install(prefix, DIGEST)
    remote.dispatch("no_such_task", {}, False, False, _env(prefix))
    [pid] = agent_pids(prefix.parent)
    sock = remote.socket_path(str(prefix), DIGEST)
    write_install(prefix, "ef" * 32)
    assert _gone(pid), "the agent of a replaced engine must exit"
    assert not os.path.exists(sock)


def test_the_agent_leaves_when_idle(prefix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_install(prefix, DIGEST)
    monkeypatch.setenv("BERTH_AGENT_IDLE", "0.5")   # the agent takes the starting client's environment
    remote.dispatch("no_such_task", {}, False, False, _env(prefix))
    [pid] = agent_pids(prefix.parent)
    assert _gone(pid)


def test_the_client_keeps_no_child(prefix: Path) -> None:
    write_install(prefix, DIGEST)
    remote.dispatch("no_such_task", {}, False, False, _env(prefix))
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)   # the intermediate was reaped; the agent is init's


def _agent_processes(prefix: Path) -> list[int]:
    """The agents of ``prefix`` (not their workers, forks with the same command line, which may be exiting)."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if remote.BOOT.encode() in argv and str(prefix).encode() in argv:
                with contextlib.suppress(OSError, IndexError):
                    found[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return [pid for pid, parent in found.items() if parent not in found]


def _gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def test_the_action_plugins_digest_is_the_engines_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.berth.engine.plugins.action import berth as action
    from ansible_collections.berth.engine.plugins.module_utils.version import engine_digest

    tree = tmp_path / "mu"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.py").write_text("A = 1\n")
    (tree / "sub" / "b.py").write_text("B = 2\n")
    first = action.cached_digest(str(tree), str(tmp_path / "cache"))
    assert first == engine_digest(str(tree))
    monkeypatch.setattr(action, "engine_digest", lambda _dir: pytest.fail("the cache was not used"))
    assert action.cached_digest(str(tree), str(tmp_path / "cache")) == first
    monkeypatch.undo()
    (tree / "a.py").write_text("A = 22\n")
    assert action.cached_digest(str(tree), str(tmp_path / "cache")) == engine_digest(str(tree)) != first
    assert json.loads(next((tmp_path / "cache").glob("digest-*.json")).read_text())["digest"] != first
