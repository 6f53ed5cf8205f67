# Copyright (c) berth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The direct call: a berth task handed to the host's engine agent without
shipping the module.

A module run costs a task far more than the engine's work: AnsiballZ's
payload is written (or piped), unpacked and compiled on the host, and
``ansible.module_utils.basic`` is imported, on every loop item. The module
itself only validates its parameters and forwards them to the agent
(module_utils/ansible/remote.py). So the action plugin validates them here,
on the controller, with the module's own spec and rules, and runs one small
standard-library client on the host (``CLIENT`` below: the installed engine's
remote.py) that forwards them the same way. What the host sees is the same
request, under the same environment, become and connection.

The call falls back to the module (returns None) whenever the module would
say something else first: parameters that do not validate (the module words
the error), no interpreter known yet (the module run discovers it), no engine
installed on the host (the module's own message or check-mode plan), async
tasks and delegation. Once the client ran, its answer is final: the task
has been handed over, and running it again could run a command twice.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shlex
from typing import Any

from ansible.module_utils.common.parameters import remove_values

# Run as `python -I -S -c CLIENT`: no site, no environment-driven imports; the engine's own path from its
# engine.json, as the agent it talks to. Prints one JSON document: the agent's reply, or {"fallback": why}.
CLIENT = """\
import json, os, sys
prefix = os.environ.get("BERTH_PREFIX") or "/opt/berth"
try:
    with open(os.path.join(prefix, "engine.json"), "rb") as handle:
        install = json.load(handle)
    sys.path[:0] = [entry for entry in install["path"] if isinstance(entry, str)]
    from ansible_collections.berth.engine.plugins.module_utils.ansible import remote
except Exception as exc:
    sys.stdout.write(json.dumps({"fallback": "%s: %s" % (type(exc).__name__, exc)}))
    sys.exit(0)
request = json.loads(sys.stdin.buffer.read())
reply = remote.dispatch(request["task"], request["params"], request["check_mode"], request["diff"])
sys.stdout.write(json.dumps(reply, default=remote.json_fallback))
"""
MODULES = "ansible_collections.berth.engine.plugins.modules"


def enabled() -> bool:
    """BERTH_DIRECT_CALL=0 on the controller runs every task as a plain module (for comparison or a bug)."""
    return os.environ.get("BERTH_DIRECT_CALL", "1") not in ("0", "false", "no")


def module_name(action: Any) -> str | None:
    """The berth module a task names (FQCN, short name or redirect resolved), or None."""
    resolved = getattr(action._task, "resolved_action", None) or action._task.action
    prefix = "berth.engine."
    return resolved[len(prefix):] if isinstance(resolved, str) and resolved.startswith(prefix) else None


def interpreter(action: Any, task_vars: dict[str, Any]) -> str | None:
    """The host's python as the module run would pick it (module_common's rule): the
    interpreter setting (variable, environment or ansible.cfg), else the discovered fact."""
    from ansible import constants

    stated = constants.config.get_config_value("INTERPRETER_PYTHON", variables=task_vars)
    if stated:
        stated = str(action._templar.template(stated)).strip()
        if stated and not stated.startswith("auto"):
            return stated
    facts = task_vars.get("ansible_facts") or {}
    found = facts.get("discovered_interpreter_python")
    return str(found) if found else None


def call(action: Any, task_vars: dict[str, Any]) -> dict[str, Any] | None:
    """The task's result through the agent, or None to run the module instead."""
    name = module_name(action)
    python = interpreter(action, task_vars)
    if name is None or python is None or action._task.async_val or action._task.delegate_to:
        action._display.vvv(f"berth: {name}: a module run (interpreter {python or 'not known yet'})")
        return None
    module = importlib.import_module(f"{MODULES}.{name}")
    validated = _validated(action, module)
    if validated is None:
        return None
    params, no_log_values = validated
    request = {"task": name, "params": params, "check_mode": bool(action._task.check_mode),
               "diff": bool(action._task.diff)}
    parts = (action._compute_environment_string(), shlex.quote(python), "-I", "-S", "-c", shlex.quote(CLIENT))
    command = " ".join(part for part in parts if part)
    res = action._low_level_execute_command(command, sudoable=True,
                                            in_data=json.dumps(request, default=str).encode())
    reply = _reply(res)
    if reply is None:
        action._display.vvv(f"berth: {name}: a module run (the direct call found no engine: {res.get('stdout')})")
        return None
    action._display.vvv(f"berth: {name}: the direct call answered")
    return _module_result(action, reply, params, no_log_values, res)


def _validated(action: Any, module: Any) -> tuple[dict[str, Any], set[str]] | None:
    """The module's parameters checked as AnsibleModule checks them; None when they fail (the module words it)."""
    from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator

    args = {key: value for key, value in action._task.args.items() if not str(key).startswith("_ansible_")}
    validator = ModuleArgumentSpecValidator(module.ARGS, **getattr(module, "RULES", {}))
    result = validator.validate(args)
    if result.error_messages:
        return None
    for warning in result._warnings:
        action._display.warning(f"Both option {warning['option']} and its alias {warning['alias']} are set.")
    return dict(result.validated_parameters), set(result._no_log_values)


def _reply(res: dict[str, Any]) -> dict[str, Any] | None:
    """The client's answer; None when nothing was handed over (no interpreter there, no engine installed)."""
    stdout = (res.get("stdout") or "").strip()
    if res.get("rc") in (126, 127) and not stdout:
        return None   # the interpreter is not there (or not runnable): the module run says so in Ansible's words
    try:
        reply = json.loads(stdout)
    except ValueError:
        return {"failed": {"msg": "berth's engine client on the host gave no answer (exit status "
                                  f"{res.get('rc')}): {(res.get('stderr') or stdout).strip()[-2000:]}"}}
    if not isinstance(reply, dict) or "fallback" in reply:
        return None
    return reply


def _module_result(action: Any, reply: dict[str, Any], params: dict[str, Any], no_log_values: set[str],
                   res: dict[str, Any]) -> dict[str, Any]:
    """What the module's exit_json/fail_json would have printed, parsed as Ansible parses a module's output."""
    if "result" in reply:
        data = dict(reply["result"])
    else:
        data = dict(reply.get("failed") or {"msg": "berth's engine agent sent an empty reply"})
        data["failed"] = True
    data["invocation"] = {"module_args": params}
    data = remove_values(data, no_log_values)
    text = json.dumps(data, default=str)
    shaped = {"rc": 0, "stdout": text, "stderr": res.get("stderr") or ""}
    if "profile" in inspect.signature(action._parse_returned_data).parameters:
        return action._parse_returned_data(shaped, "legacy")
    return action._parse_returned_data(shaped)
