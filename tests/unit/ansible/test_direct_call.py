"""The action plugin's direct call (plugin_utils/direct_call.py): when it hands a
task to the host's agent, what it sends, how it shapes the answer like the
module's, and every case in which it leaves the task to the module run.

The host side is faked at the connection (``_low_level_execute_command``); the
client itself runs for real against a prefix with no engine installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.plugin_utils import direct_call


class FakeTemplar:
    def template(self, value: Any) -> Any:
        return value


class FakeDisplay:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def vvv(self, text: str) -> None:
        self.lines.append(text)

    def warning(self, text: str) -> None:
        self.lines.append(f"WARNING {text}")


def make_action(args: dict[str, Any], *, module: str = "volume", reply: Any = None, rc: int = 0,
                **task: Any) -> Any:
    """An action object with what direct_call uses of ActionBase; the host answers ``reply``."""
    from ansible.plugins.action import ActionBase

    sent: list[dict[str, Any]] = []

    class Action:
        _parse_returned_data = ActionBase._parse_returned_data

        def __init__(self) -> None:
            self._task = SimpleNamespace(**{"args": args, "action": f"berth.engine.{module}",
                                            "resolved_action": f"berth.engine.{module}", "async_val": 0,
                                            "delegate_to": None, "check_mode": False, "diff": False, **task})
            self._templar = FakeTemplar()
            self._display = FakeDisplay()
            self._connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))
            self.sent = sent

        def _compute_environment_string(self) -> str:
            return "BERTH_ENGINE_DIGEST=abc"

        def _low_level_execute_command(self, cmd: str, sudoable: bool = True, in_data: bytes | None = None) -> dict:
            sent.append({"cmd": cmd, "request": json.loads(in_data or b"{}"), "sudoable": sudoable})
            stdout = reply if isinstance(reply, str) else json.dumps(reply)
            return {"rc": rc, "stdout": stdout, "stderr": ""}

    return Action()


PYTHON = {"ansible_python_interpreter": "/usr/bin/python3"}


def test_a_task_goes_to_the_agent_with_its_validated_parameters() -> None:
    action = make_action({"name": "v1"}, reply={"result": {"changed": True, "volume": {"Name": "v1"}}},
                         check_mode=True, diff=True)
    result = direct_call.call(action, PYTHON)
    assert result is not None and result["changed"] is True and result["volume"] == {"Name": "v1"}
    sent = action.sent[0]
    assert sent["request"]["task"] == "volume" and sent["request"]["check_mode"] is True
    assert sent["request"]["diff"] is True
    assert sent["request"]["params"]["name"] == "v1" and sent["request"]["params"]["state"] == "present"  # defaults
    assert sent["cmd"].startswith("BERTH_ENGINE_DIGEST=abc /usr/bin/python3 -I -S -c ")
    assert sent["sudoable"] is True
    assert result["invocation"]["module_args"]["name"] == "v1"


def test_a_failure_is_the_modules_failure() -> None:
    action = make_action({"name": "v1"}, reply={"failed": {"msg": "volume v1 is in use by c1"}})
    result = direct_call.call(action, PYTHON)
    assert result is not None and result["failed"] is True and result["msg"] == "volume v1 is in use by c1"


def test_secrets_are_masked_in_the_answer_and_the_invocation() -> None:
    action = make_action({"registry": "r.example", "username": "u", "password": "s3cret-pw"}, module="login",
                         reply={"result": {"changed": True, "msg": "logged in with s3cret-pw"}})
    result = direct_call.call(action, PYTHON)
    assert result is not None and "s3cret-pw" not in json.dumps(result)
    assert result["invocation"]["module_args"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "s3cret-pw" not in action.sent[0]["cmd"]   # on stdin, never on a command line


@pytest.mark.parametrize("case", ["bad parameter", "rule broken", "no interpreter", "async", "delegated",
                                  "no engine", "no python there", "another collection"])
def test_the_module_runs_instead(case: str) -> None:
    args: dict[str, Any] = {"name": "v1"}
    task: dict[str, Any] = {}
    task_vars: dict[str, Any] = dict(PYTHON)
    reply: Any = {"result": {"changed": False}}
    rc, module = 0, "volume"
    if case == "bad parameter":
        args["bogus"] = 1
    elif case == "rule broken":
        module, args = "container_exec", {"container": "c1"}   # neither argv nor command
    elif case == "no interpreter":
        task_vars = {"ansible_python_interpreter": "auto"}
    elif case == "async":
        task["async_val"] = 10
    elif case == "delegated":
        task["delegate_to"] = "other"
    elif case == "no engine":
        reply = {"fallback": "FileNotFoundError: no engine.json"}
    elif case == "no python there":
        reply, rc = "", 127
    action = make_action(args, module=module, reply=reply, rc=rc, **task)
    if case == "another collection":
        action._task.resolved_action = "community.docker.docker_volume"
    assert direct_call.call(action, task_vars) is None


def test_the_discovered_interpreter_is_used() -> None:
    action = make_action({"name": "v1"}, reply={"result": {"changed": False}})
    facts = {"ansible_python_interpreter": "auto_silent",
             "ansible_facts": {"discovered_interpreter_python": "/usr/bin/python3.11"}}
    assert direct_call.call(action, facts) is not None
    assert " /usr/bin/python3.11 -I -S -c " in action.sent[0]["cmd"]


def test_an_answer_that_is_not_json_fails_the_task_with_the_hosts_words() -> None:
    action = make_action({"name": "v1"}, reply="Traceback (most recent call last): boom", rc=1)
    result = direct_call.call(action, PYTHON)
    assert result is not None and result["failed"] is True
    assert "gave no answer (exit status 1)" in result["msg"] and "boom" in result["msg"]


def test_the_client_says_fallback_without_an_engine_install(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-I", "-S", "-c", direct_call.CLIENT], input=b"{}", capture_output=True,
                          env={"BERTH_PREFIX": str(tmp_path)}, check=False, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "FileNotFoundError" in json.loads(done.stdout)["fallback"]


def test_the_client_forwards_to_remote_dispatch(tmp_path: Path) -> None:
    """With an engine.json naming this tree, the client runs remote.dispatch: an unreachable agent's failure
    (no agent can start from a python that does not exist) comes back as the task's failure."""
    collections = Path(__file__).resolve().parents[3] / ".build" / "collections"   # ansible_collections/berth/engine
    (tmp_path / "engine.json").write_text(json.dumps({"digest": "ab" * 32, "python": str(tmp_path / "nopython"),
                                                      "path": [str(collections)], "version": "0"}))
    request = {"task": "volume", "params": {"name": "v1"}, "check_mode": False, "diff": False}
    done = subprocess.run([sys.executable, "-I", "-S", "-c", direct_call.CLIENT], input=json.dumps(request).encode(),
                          capture_output=True, env={"BERTH_PREFIX": str(tmp_path)}, check=False, timeout=60)
    reply = json.loads(done.stdout)
    assert "failed" in reply and "cannot run the task on berth's engine agent" in reply["failed"]["msg"]
