"""Every berth module's task, callable by name: what a module's ``main()``
hands to the host's engine (through the agent, ansible/agent.py, or in this
process when the whole engine is importable here, ansible/remote.py).

A task is ``run(name, params, check_mode, diff) -> dict``: the result an
``exit_json`` gets, or a BerthError raised as the module's failure. The
family files hold the bodies of the modules' former ``main().action``
closures; ``MODELS`` names the pydantic model each module's parameters are
validated into (the contract test reads it).
"""

from __future__ import annotations

import importlib
from typing import Any

from ...errors import BerthError
from ..glue import task_failure
from ..pydantic_compat import PYDANTIC_IMPORT_ERROR

# module name -> the family file (tasks/<family>.py) whose TASKS has it
FAMILIES: dict[str, str] = {
    "cgroup": "cgroup",
    "compose": "compose",
    "container": "container", "container_exec": "container", "container_info": "container",
    "container_copy_into": "copy_into",
    "host_info": "host",
    "image": "image", "image_info": "image", "login": "image",
    "network": "network", "network_info": "network",
    "prune": "volume", "volume": "volume", "volume_info": "volume",
}


def family(name: str) -> Any:
    if name not in FAMILIES:
        raise KeyError(f"no berth task named {name!r}")
    return importlib.import_module(f"{__name__}.{FAMILIES[name]}")


def preload() -> None:
    """Import every task's code (the agent does, once, so its workers pay no import) and hash the engine
    code it runs (what a task compares with the monitor's: monitor_client.monitor_skew)."""
    for name in sorted(set(FAMILIES.values())):
        importlib.import_module(f"{__name__}.{name}")
    from ...containers.monitor_client import running_digest

    running_digest()


def run(name: str, params: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
    """Run module ``name``'s task on validated ``params``; a BerthError is the task's failure."""
    return family(name).TASKS[name](params, check_mode, diff)


def model_of(name: str) -> Any:
    """The pydantic model module ``name``'s parameters are validated into."""
    return family(name).MODELS[name]


def execute(name: str, params: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
    """``run`` as a reply (ansible/remote.py's wire shape): ``{"result": ...}``, or ``{"failed": ...}``
    for the engine's errors (message, kind, field), an OSError (glue.task_failure: the operation, its object,
    the traceback as ``exception``) and a missing pydantic. Any other exception is a bug and propagates
    (the agent's worker reports it the same way, as a bug)."""
    if PYDANTIC_IMPORT_ERROR is not None:
        return {"failed": {"msg": "berth's engine cannot import pydantic>=2 here: re-run the berth.engine.host "
                                  "role (or pip install -r requirements.txt)", "exception": PYDANTIC_IMPORT_ERROR}}
    try:
        return {"result": run(name, params, check_mode, diff)}
    except (BerthError, OSError) as err:   # an OSError: the kernel's or the disk's, named by its operation
        return {"failed": task_failure(err, name, params)}
