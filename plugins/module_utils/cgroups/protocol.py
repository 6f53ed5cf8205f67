"""What every cgroup driver offers, and the writes it plans.

A ``Write`` is one value for one file, plus how to compare it with what the
kernel reports back (the kernel rounds memory to pages, lists CPUs as ranges,
spells "unlimited" its own way), so planning can skip writes that would
change nothing — the basis of idempotency and of an honest check mode.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from .units import expand_cpuset

if TYPE_CHECKING:  # pydantic stays out of the runtime's fast path
    from .resources import Resources

Compare = Literal["exact", "pages", "cpuset", "device_line", "io_max"]
V1_UNLIMITED = 9223372036854771712  # what v1 memory files report for -1
PAGE = 4096


@dataclass(frozen=True)
class Write:
    controller: str
    file: str
    value: str
    compare: Compare = "exact"

    def as_dict(self) -> dict[str, str]:
        return {"controller": self.controller, "file": self.file, "value": self.value}

    def satisfied_by(self, current: str | None) -> bool:
        if current is None:
            return False
        current = current.strip()
        if self.compare == "pages":
            return _pages(self.value) == _pages(current)
        if self.compare == "cpuset":
            return expand_cpuset(self.value) == expand_cpuset(current)
        if self.compare in ("device_line", "io_max"):
            return _device_satisfied(self.value, current)
        return self.value == current


def _device_satisfied(wanted: str, current: str) -> bool:
    """v1 ``8:0 1048576`` / v2 ``8:0 rbps=1048576``: the device's line in the
    file must carry the value; an unlimited value (0 / max) means no line."""
    device, *settings = wanted.split()
    line = next((ln.split() for ln in current.splitlines() if ln.split()[:1] == [device]), None)
    if line is None:
        return all(s == "0" or s.endswith("=max") for s in settings)
    return all(s in line[1:] for s in settings)


def _pages(text: str) -> int:
    if text in ("max", "-1") or (text.isdigit() and int(text) >= V1_UNLIMITED):
        return -1
    return int(text) // PAGE * PAGE


@dataclass
class Stats:
    memory_usage: int | None = None
    memory_limit: int | None = None
    cpu_usage_ns: int | None = None
    pids_current: int | None = None
    oom_kills: int | None = None
    frozen: bool = False
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class CgroupManager(Protocol):
    """One cgroup, on whichever hierarchy (v1 or v2) the host has."""

    path: str
    version: str

    def exists(self) -> bool: ...
    def create(self, controllers: set[str] | None = None) -> None: ...
    def plan(self, resources: Resources) -> list[Write]: ...
    def apply(self, resources: Resources) -> list[Write]: ...
    def read(self, writes: list[Write]) -> dict[str, str | None]: ...
    def add_process(self, pid: int) -> None: ...
    def processes(self) -> list[int]: ...
    def freeze(self) -> None: ...
    def thaw(self) -> None: ...
    def frozen(self) -> bool: ...
    def stats(self) -> Stats: ...
    def remove(self) -> None: ...
