"""`container_exec` through real ansible-playbook runs against a running busybox container: the
docker_container_exec contract (stripped output, stdin with its newline, env/chdir/user, a terminal,
detach, exit codes, a timeout, a refused option) and check mode, which runs nothing.

The task's option handling is unit-tested (tests/unit/ansible/test_container_exec_task.py); here is what
the runtime, the kernel's pty and ansible-playbook show."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from tests.support.playbook import assert_failed_cleanly, module_env, recorded, recording_play, run_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/execbox:1"
X = "berth.engine.container_exec"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from module_env(tmp_path, IMAGE, ImportConfig(cmd=["sleep", "300"], env={"FROM_IMAGE": "img"}))


def _exec(**options: Any) -> dict[str, Any]:
    return {X: {"container": "box", **options}}


def test_exec_as_docker_container_exec(env: dict[str, Any]) -> None:
    play = recording_play(env["dir"], [
        {"berth.engine.container": {"name": "box", "image": IMAGE}},
        {**_exec(argv=["echo", "kept"]), "failed_when": "r1.stdout != 'kept'"},
        _exec(command="echo kept", strip_empty_ends=False),
        _exec(argv=["cat"], stdin="piped"),
        _exec(argv=["wc", "-c"], stdin="12345", stdin_add_newline=False),
        _exec(command="sh -c 'echo $GREETING $FROM_IMAGE; pwd; id -u'", env={"GREETING": "hi"}, chdir="/tmp",
              user="nobody"),
        _exec(argv=["sh", "-c", "test -t 0 && test -t 1 && echo on-a-tty; echo to-stderr >&2"], tty=True),
        _exec(argv=["sh", "-c", "sleep 1; echo finished > /tmp/detached"], detach=True),
        _exec(argv=["sh", "-c", "until test -f /tmp/detached; do sleep 1; done; cat /tmp/detached"], timeout=60),
        {**_exec(argv=["sh", "-c", "echo out; echo err >&2; exit 3"]), "ignore_errors": True},
        {**_exec(argv=["sleep", "30"], timeout=1), "ignore_errors": True},
        {**_exec(argv=["cat"], stdin="x", detach=True), "ignore_errors": True},
        {**_exec(argv=["true"], env={"DEBUG": True}), "ignore_errors": True},
    ], env["defaults"])
    result = run_playbook(play)
    assert result.failed == 0, result.output[-4000:]
    (_box, kept, unstripped, piped, counted, where, tty, detached, waited, exited, hung, refused,
     boolean) = recorded(env["dir"])
    assert kept["changed"] and kept["rc"] == 0 and kept["stdout"] == "kept" and kept["stdout_lines"] == ["kept"]
    assert unstripped["stdout"] == "kept\n"
    assert piped["stdout"] == "piped" and counted["stdout"].strip() == "5"
    assert where["stdout_lines"] == ["hi img", "/tmp", "65534"] and where["stderr"] == ""
    # a terminal: stdout and stderr together, with the terminal's line ends; no separate stderr
    assert tty["rc"] == 0 and tty["stdout"].split("\r\n") == ["on-a-tty", "to-stderr"] and tty["stderr"] == ""
    assert len(detached["exec_id"]) == 64 and detached["pid"] > 0 and "rc" not in detached
    assert "stdout" not in detached and waited["stdout"] == "finished"
    # a non-zero exit fails the task, as with docker_container_exec and ansible.builtin.command
    assert exited["failed"] and exited["rc"] == 3 and exited["msg"] == "non-zero return code"
    assert exited["stdout"] == "out" and exited["stderr"] == "err" and exited["stderr_lines"] == ["err"]
    assert_failed_cleanly(hung, "timeout", "did not finish within 1 s")
    assert_failed_cleanly(refused, "stdin", "detached")
    assert_failed_cleanly(boolean, "env", "quote")


def test_check_mode_runs_nothing(env: dict[str, Any]) -> None:
    start = recording_play(env["dir"], [{"berth.engine.container": {"name": "box", "image": IMAGE}}],
                           env["defaults"], name="up.yml")
    assert run_playbook(start).failed == 0
    touch = recording_play(env["dir"], [_exec(argv=["touch", "/tmp/in-check"])], env["defaults"], name="touch.yml")
    check = run_playbook(touch, check=True)
    assert check.failed == 0, check.output[-4000:]
    [planned] = recorded(env["dir"])
    assert planned["changed"] and "rc" not in planned and "stdout" not in planned
    look = recording_play(env["dir"], [{**_exec(argv=["ls", "/tmp/in-check"]), "failed_when": False}],
                          env["defaults"], name="look.yml")
    assert run_playbook(look).failed == 0
    [looked] = recorded(env["dir"])
    assert looked["rc"] != 0 and "No such file" in looked["stderr"]
