"""What a driver hands back: the writes it plans and the stats it reads.

A ``Write`` is one value for one file, plus how to compare it with what the
kernel reports back (the kernel rounds memory to pages, lists CPUs as ranges,
spells "unlimited" its own way), so planning can skip writes that would
change nothing — the basis of idempotency and of an honest check mode.

The manager every caller uses (engine, runtime, the ``cgroup`` module) is
``base.BaseManager`` with its v1 and v2 drivers. Plain classes, not
dataclasses: berth-runtime imports these when a bundle sets limits, and
``dataclasses`` costs it ~10 ms of start-up.
"""

from __future__ import annotations

from ..units import expand_cpuset

V1_UNLIMITED = 9223372036854771712  # what v1 memory files report for -1
PAGE = 4096
COMPARES = ("exact", "pages", "cpuset", "device_line", "io_max")


class Write:
    __slots__ = ("compare", "controller", "file", "value")

    def __init__(self, controller: str, file: str, value: str, compare: str = "exact") -> None:
        if compare not in COMPARES:
            raise ValueError(f"unknown comparison {compare!r}")
        self.controller = controller
        self.file = file
        self.value = value
        self.compare = compare

    def _key(self) -> tuple[str, str, str, str]:
        return (self.controller, self.file, self.value, self.compare)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Write) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Write({self.controller!r}, {self.file!r}, {self.value!r}, {self.compare!r})"

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


class Stats:
    """What a cgroup uses now (None: the controller is not there to ask)."""

    FIELDS = ("memory_usage", "memory_limit", "cpu_usage_ns", "pids_current", "oom_kills", "frozen")
    __slots__ = FIELDS

    def __init__(self, memory_usage: int | None = None, memory_limit: int | None = None,
                 cpu_usage_ns: int | None = None, pids_current: int | None = None, oom_kills: int | None = None,
                 frozen: bool = False) -> None:
        self.memory_usage = memory_usage
        self.memory_limit = memory_limit
        self.cpu_usage_ns = cpu_usage_ns
        self.pids_current = pids_current
        self.oom_kills = oom_kills
        self.frozen = frozen

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def __repr__(self) -> str:
        return f"Stats({self.as_dict()})"
