"""What one ``cgroup`` task asks for, checked, and the facts it reports.

``CgroupRequest`` is the task in the engine's own terms (standard library
only); the module's pydantic model validates the Ansible parameters and
hands their values here. The task is planned in ``ansible/cgroup_plan.py``.
"""

from __future__ import annotations

from ..errors import InvalidInput
from .base import check_path
from .resources import Resources

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STATES = ("present", "absent")
ABSENT_PROCESSES = ("refuse", "kill", "move")


class CgroupRequest:
    """``path`` present with ``resources`` and ``processes`` placed, or absent
    (what is still inside refused, killed or moved to the parent)."""

    __slots__ = ("absent_processes", "path", "processes", "resources", "state")

    def __init__(self, path: str, state: str = "present", resources: Resources | dict[str, Any] | None = None,
                 processes: list[int] | tuple[int, ...] = (), absent_processes: str = "refuse") -> None:
        self.path = check_path(path)
        self.state = _choice(state, STATES, "state")
        self.resources = resources if isinstance(resources, Resources) else Resources(**(resources or {}))
        self.processes = tuple(_pid(p) for p in processes)
        self.absent_processes = _choice(absent_processes, ABSENT_PROCESSES, "absent_processes")

    def __repr__(self) -> str:
        return (f"CgroupRequest({self.path!r}, state={self.state!r}, resources={self.resources!r}, "
                f"processes={list(self.processes)}, absent_processes={self.absent_processes!r})")


def facts(cgroup: Any, exists: bool) -> dict[str, Any]:
    """The module's ``cgroup``: path, driver version, processes and stats (a manager or its read-only view)."""
    found: dict[str, Any] = {"path": cgroup.path, "version": cgroup.version, "exists": exists}
    if exists:
        found["processes"] = cgroup.processes()
        found["stats"] = cgroup.stats().as_dict()
    return found


def shown(value: str | None) -> str | None:
    return None if value is None else value.strip()


def _choice(value: str, choices: tuple[str, ...], field: str) -> str:
    if value not in choices:
        raise InvalidInput(f"{value!r} is not one of {', '.join(choices)}", field=field,
                           hint=f"use one of {', '.join(choices)}")
    return value


def _pid(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInput(f"{value!r} is not a process id", field="processes", hint="give the PIDs as numbers")
    return value
