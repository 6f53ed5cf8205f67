"""Run a module's ``main()`` in this process, the way ansible-playbook runs it
on the host — argument spec, the module's model, its plan, ``exit_json`` /
``fail_json`` — without Ansible's start-up and transport, so a bad task's
outcome (what its user reads) costs milliseconds instead of a playbook run.
``BERTH_PREFIX`` names no install, so the module's thin client
(ansible/remote.py) runs the task in this process, where the engine is
importable, instead of handing it to a host agent.

An exception other than the engine's errors leaves ``main()`` uncaught here:
in a real run that is a "MODULE FAILURE" with a traceback, so a test calling
``run_module`` fails on it too."""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible.module_utils.testing import patch_module_args

from tests.support.hoststate import tree_differences, tree_state

PACKAGE = "ansible_collections.berth.engine.plugins.modules"
NO_INSTALL = "/nonexistent/berth-inprocess"   # no engine.json there: the task runs in this process


@dataclass
class ModuleRun:
    rc: int
    result: dict[str, Any]

    def assert_fails_naming(self, field: str, text: str, fix: str) -> None:
        """Failed through fail_json: the message names the option and the fix, and carries no traceback."""
        error = self.result.get("error") or {}
        assert self.rc == 1 and self.result.get("failed") is True, self.result
        assert error.get("field") == field, self.result
        assert text in error.get("message", ""), self.result
        assert fix in f"{error.get('message')} ({error.get('hint')})", self.result   # the fix: mostly the hint
        assert self.result["msg"].startswith(f"{field}: ") and text in self.result["msg"] and fix in self.result["msg"]
        assert "exception" not in self.result and "module_stderr" not in self.result, self.result


def run_module(name: str, args: dict[str, Any], *, check: bool = False) -> ModuleRun:
    """``berth.engine.<name>`` with ``args``, in check mode or not (diff on)."""
    module = importlib.import_module(f"{PACKAGE}.{name}")
    printed = io.StringIO()
    real = module.AnsibleModule

    def fresh_spec(**kwargs: Any) -> Any:
        # AnsibleModule fills suboption defaults into the spec's own default dicts (harmless in a module's
        # one-shot process): hand it a copy, so the module's ARGS stay as the contract test reads them
        return real(**copy.deepcopy(kwargs))

    module.AnsibleModule = fresh_spec
    rc = 0
    try:
        with _without_install(), patch_module_args({**args, "_ansible_check_mode": check, "_ansible_diff": True}), \
                contextlib.redirect_stdout(printed):
            module.main()
    except SystemExit as done:
        rc = int(done.code or 0)
    else:
        raise AssertionError(f"{name}.main() returned without exit_json or fail_json")
    finally:
        module.AnsibleModule = real
    return ModuleRun(rc, json.loads(printed.getvalue()))


@contextlib.contextmanager
def _without_install() -> Any:
    saved = {key: os.environ.get(key) for key in ("BERTH_PREFIX", "BERTH_ENGINE_DIGEST")}
    os.environ["BERTH_PREFIX"] = NO_INSTALL
    os.environ.pop("BERTH_ENGINE_DIGEST", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Roots:
    """A state root and a run root, as a task's ``state_root``/``run_root``, with a fingerprint of both."""

    def __init__(self, state: Path, run: Path) -> None:
        self.state, self.run = state, run

    @property
    def params(self) -> dict[str, str]:
        return {"state_root": str(self.state), "run_root": str(self.run)}

    def fingerprint(self) -> dict[str, tuple[object, ...]]:
        """Every entry under both roots but the task locks: an apply takes its
        task's lock (an empty file under locks/) before it plans."""
        locks = str(self.state / "locks")
        return {path: entry for path, entry in tree_state(self.state, self.run).items()
                if not path.startswith(locks)}

    def assert_unchanged_since(self, before: dict[str, tuple[object, ...]]) -> None:
        wrote = tree_differences(before, self.fingerprint())
        assert not wrote, "a failed task wrote:\n" + "\n".join(wrote)
