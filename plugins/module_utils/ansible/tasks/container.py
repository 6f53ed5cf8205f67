"""The container modules' tasks: container, container_exec, container_info."""

from __future__ import annotations

import secrets
import subprocess
from typing import Any

from ...containers.monitor_client import monitor_skew
from ...containers.options import BY_NAME, split_command
from ...containers.service import ContainerService
from ...engine import Engine
from ...errors import InvalidInput, InvalidState
from ..container_models import CONTAINER_EXEC_MODEL, CONTAINER_INFO_MODEL, CONTAINER_MODEL, without_aliases
from ..container_plan import ContainerTask, apply_container, check_container
from ..glue import validate


def container(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    values = validate(CONTAINER_MODEL, without_aliases(params)).model_dump()   # the typed boundary
    task = ContainerTask.from_params(values)
    if check_mode:   # a read-only view: planning cannot write
        engine = Engine.view(values["state_root"], values["run_root"])
        return _with_monitor_skew(engine, check_container(engine, task))
    engine = Engine.open(values["state_root"], values["run_root"])
    return _with_monitor_skew(engine, apply_container(engine, task))


def _with_monitor_skew(engine: Engine, result: dict[str, Any]) -> dict[str, Any]:
    """The result, warning when the host's monitor runs other engine code than this task (a monitor
    outlives the engine that started it): versions never mix silently."""
    skew = monitor_skew(engine)
    if skew:
        result["warnings"] = [*(result.get("warnings") or []), skew]
    return result


def container_exec(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    """docker_container_exec's contract: rc, stdout, stderr (trailing newlines stripped unless
    strip_empty_ends is false) and their lines; with detach, exec_id and pid and nothing waited for."""
    values = validate(CONTAINER_EXEC_MODEL, without_aliases(params)).model_dump()
    stdin = _exec_stdin(values)
    env = BY_NAME["env"].normalise(values["env"] or {})
    if check_mode:   # a command's effect cannot be predicted: it is not run
        return {"changed": True}
    service = ContainerService(Engine.open(values["state_root"], values["run_root"]))
    argv = values["argv"] or split_command(values["command"])
    where = {"env": env, "user": values["user"], "workdir": values["chdir"]}
    if values["detach"]:
        return _detached_exec(service, values, argv, where)
    try:
        done = service.execute(values["container"], argv, **where, stdin=stdin, timeout=values["timeout"],
                               tty=values["tty"])
    except subprocess.TimeoutExpired:
        raise InvalidState(f"the command in container {values['container']} did not finish within "
                           f"{values['timeout']} s", field="timeout",
                           hint="raise timeout, or run it with detach: true") from None
    stdout, stderr = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    if values["strip_empty_ends"]:
        stdout, stderr = stdout.rstrip("\r\n"), stderr.rstrip("\r\n")
    result = {"changed": True, "rc": done.returncode, "stdout": stdout, "stderr": stderr,
              "stdout_lines": stdout.splitlines(), "stderr_lines": stderr.splitlines()}
    if done.returncode:   # Ansible fails a result whose rc is not 0; say why, as ansible.builtin.command does
        result["msg"] = "non-zero return code"
    return result


def _exec_stdin(values: dict[str, Any]) -> bytes:
    """The bytes the command reads (stdin_add_newline appends one, as docker_container_exec does)."""
    if values["stdin"] is None:
        return b""
    if values["detach"]:
        raise InvalidInput("a detached command cannot be given stdin", field="stdin",
                           hint="drop stdin, or set detach: false")
    return (values["stdin"] + ("\n" if values["stdin_add_newline"] else "")).encode()


def _detached_exec(service: ContainerService, values: dict[str, Any], argv: list[str],
                   where: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"changed": True}
    if values["tty"]:   # nothing of berth's stays running to hold the terminal of a detached command
        result["warnings"] = ["tty is ignored with detach: true (the detached command gets no terminal)"]
    pid = service.execute_detached(values["container"], argv, **where)
    # berth keeps no exec records: the ID is one docker_container_exec's callers can log, the pid one to follow
    return {**result, "exec_id": secrets.token_hex(32), "pid": pid}


def container_info(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    values = validate(CONTAINER_INFO_MODEL, without_aliases(params)).model_dump()
    service = ContainerService(Engine.view(values["state_root"], values["run_root"]))  # reads only
    if values["wait_healthy"] and check_mode:
        # in check mode the containers may exist only in the plan: nothing to wait for
        known = [service.store.find(ref) for ref in values["wait_healthy"]]
        return {"changed": False, "containers": [r for r in known if r is not None]}
    if values["wait_healthy"]:
        return {"changed": False, "containers": service.wait_healthy(values["wait_healthy"], values["timeout"])}
    if not values["name"]:
        return {"changed": False, "containers": service.list()}
    record = service.store.find(values["name"])
    if record is None:
        return {"changed": False, "exists": False}
    current = service.refresh(record)
    result = {"changed": False, "exists": True, "container": current, "stats": service.stats(current)}
    if values["logs"]:
        result["logs"] = service.logs(record["id"], tail=values["tail"], since=values["since"])
    return result


TASKS = {"container": container, "container_exec": container_exec, "container_info": container_info}
MODELS = {"container": CONTAINER_MODEL, "container_exec": CONTAINER_EXEC_MODEL,
          "container_info": CONTAINER_INFO_MODEL}
