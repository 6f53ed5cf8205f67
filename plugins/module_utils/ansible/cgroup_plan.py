"""Plan one ``cgroup`` task (plans as data: plan.py).

The planner reads the kernel through ``ReadOnlyCgroup``, a manager that has
only the reading half (whether the cgroup exists, the files' current
values, its processes), so planning cannot write whichever mode it runs in.
The plan is: create the cgroup, the file writes whose values differ from
what the kernel reports now (a second run writes nothing), the processes to
place; or kill/move what is still inside and remove it. Check mode returns
exactly that; an apply executes the steps against the writable manager.
The diff's values are read from the kernel, never from a record of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cgroups.base import BaseManager
from ..cgroups.protocol import Write
from ..cgroups.resources import Resources
from ..cgroups.service import CgroupRequest, facts, shown
from ..errors import Conflict, InvalidInput, ReadOnlyViolation
from ..plan import Plan, Step

READS = frozenset({"path", "version", "warnings", "exists", "desired", "read", "plan", "processes", "frozen",
                   "stats", "dirs", "dir_for"})


class ReadOnlyCgroup:
    """A manager's reads; anything else (apply, create, add_process, remove,
    freeze, ...) raises ``ReadOnlyViolation``."""

    def __init__(self, manager: BaseManager) -> None:
        self._manager = manager

    def __getattr__(self, name: str) -> Any:
        if name in READS:
            return getattr(self._manager, name)
        raise ReadOnlyViolation(f"cgroup {self._manager.path}: {name}")


@dataclass(frozen=True)
class CreateCgroup(Step):
    path: str
    version: str

    def describe(self) -> str:
        return f"created: {self.path} ({self.version})"

    def execute(self, context: BaseManager) -> None:
        context.create()


@dataclass(frozen=True)
class SetLimits(Step):
    """Write the limits; ``writes``: the files whose values differ now (the apply writes what still differs)."""

    resources: Resources
    writes: tuple[Write, ...]

    def describe(self) -> str:
        return f"set: {', '.join(w.file for w in self.writes)}"

    def execute(self, context: BaseManager) -> list[Write]:
        return context.apply(self.resources)


@dataclass(frozen=True)
class PlaceProcess(Step):
    pid: int

    def describe(self) -> str:
        return f"placed: {self.pid}"

    def execute(self, context: BaseManager) -> None:
        context.add_process(self.pid)


@dataclass(frozen=True)
class KillProcesses(Step):
    count: int

    def describe(self) -> str:
        return f"killed: {self.count} process(es)"

    def execute(self, context: BaseManager) -> None:
        context.kill_all()


@dataclass(frozen=True)
class MoveProcesses(Step):
    """To the parent cgroup (the hierarchy's root for a top-level one)."""

    count: int

    def describe(self) -> str:
        return f"moved: {self.count} process(es)"

    def execute(self, context: BaseManager) -> None:
        for pid in context.processes():
            context.release(pid)


@dataclass(frozen=True)
class RemoveCgroup(Step):
    path: str

    def describe(self) -> str:
        return f"removed: {self.path}"

    def execute(self, context: BaseManager) -> None:
        context.remove()  # in every hierarchy, those a container under it made too


def plan_cgroup(cgroup: ReadOnlyCgroup, request: CgroupRequest) -> Plan:
    return _present(cgroup, request) if request.state == "present" else _absent(cgroup, request)


def cgroup_report(cgroup: Any, plan: Plan) -> dict[str, Any]:
    """The module's ``writes``, ``placed`` and ``cgroup`` (its facts read now:
    after an apply, the cgroup as the steps left it)."""
    limits = [w for s in plan.steps if isinstance(s, SetLimits) for w in s.writes]
    return {"writes": [w.as_dict() for w in limits],
            "placed": [s.pid for s in plan.steps if isinstance(s, PlaceProcess)],
            "cgroup": facts(cgroup, cgroup.exists())}


def _present(cgroup: ReadOnlyCgroup, request: CgroupRequest) -> Plan:
    exists = cgroup.exists()
    desired = cgroup.desired(request.resources)
    current = cgroup.read(desired) if exists else {}
    pending = cgroup.plan(request.resources)
    members = set(cgroup.processes()) if exists else set()
    to_place = [pid for pid in request.processes if pid not in members]
    for pid in to_place:
        if not Path(f"/proc/{pid}").exists():
            raise InvalidInput(f"process {pid} does not exist", field="processes", hint="give running PIDs")
    values = {w.file: shown(current.get(w.file)) for w in desired}
    plan = Plan(before={"exists": exists, "values": values},
                after={"exists": True, "values": {**values, **{w.file: w.value for w in pending}}})
    plan.warnings.extend(cgroup.warnings)
    if not exists:
        plan.add(CreateCgroup(request.path, cgroup.version))
    if pending:
        plan.add(SetLimits(request.resources, tuple(pending)))
    plan.steps += [PlaceProcess(pid) for pid in to_place]
    return plan


def _absent(cgroup: ReadOnlyCgroup, request: CgroupRequest) -> Plan:
    exists = cgroup.exists()
    plan = Plan(before={"exists": exists}, after={"exists": False})
    if not exists:
        return plan
    pids = cgroup.processes()
    if pids and request.absent_processes == "refuse":
        raise Conflict(f"cgroup {request.path} still has processes {pids[:10]}", field="absent_processes",
                       hint="stop them first, or set absent_processes to kill or move")
    if pids:
        plan.add(KillProcesses(len(pids)) if request.absent_processes == "kill" else MoveProcesses(len(pids)))
    plan.add(RemoveCgroup(request.path))
    return plan
