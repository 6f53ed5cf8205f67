"""Plan and apply one ``cgroup`` task.

The plan is the list of file writes whose values differ from what the kernel
reports now (so a second run writes nothing), plus the processes to place;
check mode returns exactly that list. Diff shows before/after values read
from the kernel, not from any record of ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import Conflict, InvalidInput, InvalidState
from ..models import EngineOptions, StrictModel
from .base import BaseManager
from .factory import open_manager
from .resources import Resources

KILL_TIMEOUT = 10.0


class CgroupRequest(StrictModel):
    engine: EngineOptions
    path: str
    state: Literal["present", "absent"] = "present"
    resources: Resources = Resources()
    processes: list[int] = []
    absent_processes: Literal["refuse", "kill", "move"] = "refuse"


@dataclass
class CgroupOutcome:
    changed: bool = False
    writes: list[dict[str, str]] = field(default_factory=list)
    placed: list[int] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    cgroup: dict[str, Any] = field(default_factory=dict)

    def result(self) -> dict[str, Any]:
        return {"changed": self.changed, "writes": self.writes, "placed": self.placed, "actions": self.actions,
                "cgroup": self.cgroup, "diff": {"before": self.before, "after": self.after}}


def run(request: CgroupRequest, *, check_mode: bool, manager: BaseManager | None = None) -> CgroupOutcome:
    cgroup = manager or open_manager(request.path)
    out = CgroupOutcome()
    if request.state == "present":
        _present(cgroup, request, out, check_mode)
    else:
        _absent(cgroup, request, out, check_mode)
    out.warnings.extend(cgroup.warnings)
    return out


def _present(cgroup: BaseManager, request: CgroupRequest, out: CgroupOutcome, check: bool) -> None:
    exists = cgroup.exists()
    desired = cgroup.desired(request.resources)
    current = cgroup.read(desired) if exists else {}
    pending = cgroup.plan(request.resources)
    members = set(cgroup.processes()) if exists else set()
    to_place = [pid for pid in request.processes if pid not in members]
    for pid in to_place:
        if not Path(f"/proc/{pid}").exists():
            raise InvalidInput(f"process {pid} does not exist", field="processes", hint="give running PIDs")
    out.before = {"exists": exists, "values": {w.file: _shown(current.get(w.file)) for w in desired}}
    out.after = {"exists": True, "values": {**out.before["values"], **{w.file: w.value for w in pending}}}
    out.writes = [w.as_dict() for w in pending]
    out.placed = to_place
    out.changed = not exists or bool(pending) or bool(to_place)
    if not exists:
        out.actions.append(f"created: {request.path} ({cgroup.version})")
    if check or not out.changed:
        out.cgroup = _facts(cgroup, exists)
        return
    cgroup.apply(request.resources)
    for pid in to_place:
        cgroup.add_process(pid)
    out.cgroup = _facts(cgroup, True)
    now = cgroup.read(desired)
    out.after["values"] = {w.file: _shown(now.get(w.file)) for w in desired}


def _absent(cgroup: BaseManager, request: CgroupRequest, out: CgroupOutcome, check: bool) -> None:
    exists = cgroup.exists()
    out.before, out.after = {"exists": exists}, {"exists": False}
    if not exists:
        return
    pids = cgroup.processes()
    if pids and request.absent_processes == "refuse":
        raise Conflict(f"cgroup {request.path} still has processes {pids[:10]}", field="absent_processes",
                       hint="stop them first, or set absent_processes to kill or move")
    out.changed = True
    if pids:
        out.actions.append(f"{'killed' if request.absent_processes == 'kill' else 'moved'}: {len(pids)} process(es)")
    out.actions.append(f"removed: {request.path}")
    if check:
        return
    if pids and request.absent_processes == "kill":
        _kill_all(cgroup)
    elif pids:
        parent = request.path.rpartition("/")[0]
        target = open_manager(parent) if parent else None
        for pid in pids:
            _move(cgroup, target, pid)
    cgroup.remove()
    _remove_elsewhere(request.path)


def _remove_elsewhere(path: str) -> None:
    """A container under this cgroup (cgroup_parent) made it in every hierarchy,
    as runc does - name=systemd, devices, the unified mount - not only in the
    controllers this module manages: remove those empty directories too."""
    import contextlib
    import os

    from ..runtime.cgroup import hierarchies

    _controllers, unified, mounts = hierarchies()
    for mount in [*mounts, *([unified] if unified else [])]:
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(mount, path))


def _kill_all(cgroup: BaseManager) -> None:
    if cgroup.frozen():
        cgroup.thaw()  # a frozen task cannot die
    deadline = time.monotonic() + KILL_TIMEOUT
    while pids := cgroup.processes():
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise InvalidState(f"processes {pids[:10]} did not die within {KILL_TIMEOUT:.0f}s", field="path")
        time.sleep(0.02)


def _move(cgroup: BaseManager, target: BaseManager | None, pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        if target is not None:
            target.add_process(pid)
        else:  # to the hierarchy's root
            for directory in cgroup.dirs():
                root = directory
                for _part in cgroup.path.split("/"):
                    root = root.parent
                (root / "cgroup.procs").write_text(str(pid))


def _facts(cgroup: BaseManager, exists: bool) -> dict[str, Any]:
    facts: dict[str, Any] = {"path": cgroup.path, "version": cgroup.version, "exists": exists}
    if exists:
        facts["processes"] = cgroup.processes()
        facts["stats"] = cgroup.stats().as_dict()  # type: ignore[attr-defined]
    return facts


def _shown(value: str | None) -> str | None:
    return None if value is None else value.strip()
