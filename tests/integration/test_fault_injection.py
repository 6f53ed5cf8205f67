"""A raw OS error on the host reaches the playbook's user as a failed task naming the operation and its
object, through the real path: ansible-playbook, the module's thin client, the host's engine agent.

The fault is a real one the kernel reports (no monkeypatching across the agent's process): the state
root's parent is a regular file, so the engine's first mkdir fails with ENOTDIR. Every module fails
cleanly — the message names the task's object and the path, no "MODULE FAILURE", no traceback in
``msg`` — and with tracebacks enabled the traceback is in ``exception`` only. (Each plan step's own
operation, and the faults behind the engine's interfaces — cgroup writes, netlink, a full disk — are
tests/unit/ansible/test_fault_injection.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.playbook import recorded, recording_play, run_playbook

pytestmark = pytest.mark.integration

TASKS: list[tuple[dict[str, Any], str]] = [
    ({"berth.engine.volume": {"name": "data"}}, "volume data"),
    ({"berth.engine.network": {"name": "faultnet"}}, "network faultnet"),
    ({"berth.engine.image": {"name": "local/none:1", "source": "local"}}, "image local/none:1"),
    ({"berth.engine.container": {"name": "web", "image": "local/none:1", "pull": "never"}}, "container web"),
]


def _play(tmp_path: Path, name: str) -> Path:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the state root's parent should be\n")
    defaults = {"group/berth.engine.all": {"state_root": str(blocker / "state"), "run_root": str(tmp_path / "run")}}
    tasks = [{**task, "ignore_errors": True} for task, _subject in TASKS]
    return recording_play(tmp_path, tasks, defaults, name=name)


def test_an_os_error_fails_each_module_naming_the_operation(tmp_path: Path) -> None:
    play = run_playbook(_play(tmp_path, "play.yml"))
    assert play.output.count("...ignoring") == len(TASKS), play.output[-3000:]
    path = tmp_path / "blocker" / "state"
    for (task, subject), result in zip(TASKS, recorded(tmp_path), strict=True):
        module = next(iter(task)).rsplit(".", 1)[-1]
        assert result.get("failed") is True, result
        assert result["msg"] == f"could not run the {module} task for {subject}: {path}: [Errno 20] Not a directory"
        assert result["error"]["kind"] == "os_error" and result["error"]["path"] == str(path), result
        assert "MODULE FAILURE" not in result["msg"] and "module_stderr" not in result, result
        assert "Traceback" not in str(result.get("exception", "")), result   # tracebacks are off by default
    assert "Traceback" not in play.output
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_the_traceback_is_in_exception_when_asked_for(tmp_path: Path) -> None:
    play = run_playbook(_play(tmp_path, "play.yml"), env={"ANSIBLE_DISPLAY_TRACEBACK": "error"})
    assert play.output.count("...ignoring") == len(TASKS), play.output[-3000:]
    for result in recorded(tmp_path):
        assert "Traceback" not in result["msg"], result
        assert "NotADirectoryError" in str(result.get("exception")), result
