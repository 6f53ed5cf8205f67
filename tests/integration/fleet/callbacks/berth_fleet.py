"""A test-only callback for fleet runs: one JSON line per host per task (host,
task, module, status, changed, berth's ``actions``, the message of a failure,
per loop item) and, at the end, the per-host recap, in ``$BERTH_FLEET_LOG``."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: berth_fleet
type: aggregate
short_description: record per-host task outcomes and the recap (berth's fleet tests)
description: Writes JSON lines to the file named by BERTH_FLEET_LOG.
"""


def _outcome(result: dict) -> dict:
    out = {"changed": bool(result.get("changed")), "actions": result.get("actions"),
           "failed": bool(result.get("failed")), "skipped": bool(result.get("skipped"))}
    if result.get("failed") or result.get("unreachable"):
        out["msg"] = str(result.get("msg", ""))[:4000]
        for key in ("module_stderr", "stderr", "exception"):
            if result.get(key):
                out[key] = str(result[key])[-3000:]
    return out


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "berth_fleet"
    CALLBACK_NEEDS_ENABLED = True

    def _emit(self, line: dict) -> None:
        path = os.environ.get("BERTH_FLEET_LOG")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, default=str) + "\n")

    def _task(self, result, status: str) -> None:  # type: ignore[no-untyped-def]
        raw = result._result
        items = [_outcome(i) for i in raw.get("results", []) if isinstance(i, dict)] if "results" in raw else None
        self._emit({"kind": "task", "host": result._host.get_name(), "task": result._task.get_name(),
                    "action": result._task.action, "status": status, **_outcome(raw), "items": items,
                    "result": {k: raw[k] for k in ("network", "container", "diff", "overlay") if k in raw}})

    def v2_runner_on_ok(self, result) -> None:  # type: ignore[no-untyped-def]
        self._task(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:  # type: ignore[no-untyped-def]
        self._task(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result) -> None:  # type: ignore[no-untyped-def]
        self._task(result, "skipped")

    def v2_runner_on_unreachable(self, result) -> None:  # type: ignore[no-untyped-def]
        self._task(result, "unreachable")

    def v2_playbook_on_stats(self, stats) -> None:  # type: ignore[no-untyped-def]
        recap = {host: {k: v for k, v in stats.summarize(host).items() if isinstance(v, int)}
                 for host in sorted(stats.processed)}
        self._emit({"kind": "stats", "stats": recap})
