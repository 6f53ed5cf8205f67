"""Plans as data (shared/ANCHORS.md #1): what a task will do, computed before
anything is done.

A planner is a pure function of (desired, actual) that reads the engine
through a read-only view and returns a ``Plan``: an ordered list of ``Step``
objects plus the before/after of the object it converges. Check mode returns
the plan and stops; ``--diff`` is the plan's before/after; a real run takes
the lock, plans again over the writable engine (the state may have moved
since the check) and executes the steps in order. So the actions a check run
prints are, by construction, the actions an apply on the same state takes.

Every module's plan shares these two classes; each plan defines its own step
kinds (``ansible/container_steps.py``, ``ansible/volume_plan.py``, ...) as
small frozen dataclasses that call the domain's services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .failures import mark_failed_step


class Step:
    """One action of a plan. Subclasses are frozen dataclasses holding the
    data the action needs (names, ids, fields), never live objects, so a plan
    can be printed, compared and tested without a kernel.

    ``describe()`` is the line a user sees in ``actions`` ("create volume
    data", "update memory, cpus"); ``execute(context)`` does it against a
    writable engine (the context is whatever the domain's executor passes:
    the engine, or a service built on it) and may return a value the next
    steps or the result need."""

    def describe(self) -> str:
        raise NotImplementedError

    def execute(self, context: Any) -> Any:
        raise NotImplementedError


@dataclass
class Plan:
    """The ordered steps of one task, and the object before and after them."""

    steps: list[Step] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)   # what the task reports beyond the plan (e.g. a build's steps)

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    def actions(self) -> list[str]:
        return [step.describe() for step in self.steps]

    def execute(self, context: Any) -> list[Any]:
        """Run every step in order; their return values, in the same order. An exception a step raises
        carries the step's description and the steps done before it (failures.py), so the user reads
        which operation broke, and what was done already, whatever the exception."""
        results: list[Any] = []
        for step in self.steps:
            try:
                results.append(step.execute(context))
            except Exception as exc:
                mark_failed_step(exc, step.describe(), [done.describe() for done in self.steps[:len(results)]])
                raise
        return results

    def diff(self) -> dict[str, Any]:
        """Ansible's diff: before and after (after equals before when nothing changes)."""
        return {"before": self.before, "after": self.after if self.changed else self.before}

    def result(self, **extra: Any) -> dict[str, Any]:
        """The common part of a module's result: changed, actions, diff, warnings."""
        result: dict[str, Any] = {"changed": self.changed, "actions": self.actions(), "diff": self.diff(),
                                  **self.facts, **extra}
        if self.differences:
            result.setdefault("differences", self.differences)
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result
