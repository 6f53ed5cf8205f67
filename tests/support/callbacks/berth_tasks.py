"""A test-only callback: each task's outcome as one JSON line in
``$BERTH_TASK_LOG`` (task name, module, changed, the ``actions`` a berth
module reports, per loop item), so a test can compare a check run's plan
with the apply run's actions task by task, not just the play-wide count."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: berth_tasks
type: aggregate
short_description: record each task's changed flag and actions (berth's tests)
description: Writes one JSON line per task to the file named by BERTH_TASK_LOG.
"""


def _outcome(result: dict) -> dict:
    return {"changed": bool(result.get("changed")), "actions": result.get("actions"),
            "failed": bool(result.get("failed")), "skipped": bool(result.get("skipped"))}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "berth_tasks"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, result, status: str) -> None:  # type: ignore[no-untyped-def]
        path = os.environ.get("BERTH_TASK_LOG")
        if not path:
            return
        raw = result._result
        items = [_outcome(item) for item in raw.get("results", []) if isinstance(item, dict)] \
            if "results" in raw else None
        line = {"task": result._task.get_name(), "action": result._task.action, "status": status,
                **_outcome(raw), "items": items}
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def v2_runner_on_ok(self, result) -> None:  # type: ignore[no-untyped-def]
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:  # type: ignore[no-untyped-def]
        self._write(result, "failed")

    def v2_runner_on_skipped(self, result) -> None:  # type: ignore[no-untyped-def]
        self._write(result, "skipped")
