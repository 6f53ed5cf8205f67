"""The resource limits every cgroup driver reads (Docker's names), checked.

Units are parsed here, once (``512m``, cpus ``1.5``), and ranges checked,
each error an ``InvalidInput`` naming the option; drivers only map these
numbers to their own files. ``None`` means "not managed": a driver writes
nothing for it, so an option left out of a playbook is left alone, like
``docker update``.

Standard library only: the container engine, berth-runtime (``linux.resources``
of a bundle) and the ``cgroup`` module all build this same type; pydantic
stays in the module's own model, which hands its values to ``Resources``.
"""

from __future__ import annotations

from ..errors import InvalidInput
from ..strict import INT64_MAX, brief, parse_uint
from ..units import check_cpuset, parse_bytes, parse_cpus

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

DEFAULT_CPU_PERIOD = 100_000
SIZES = ("memory", "memory_reservation", "memory_swap")
WHOLE = ("memory_swappiness", "cpu_shares", "cpu_period", "cpu_quota", "pids_limit", "blkio_weight")
CPUSETS = ("cpuset_cpus", "cpuset_mems")
RATES = ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops")
FIELDS = ("memory", "memory_reservation", "memory_swap", "memory_swappiness", "cpus", "cpu_shares", "cpu_period",
          "cpu_quota", "cpuset_cpus", "cpuset_mems", "pids_limit", "blkio_weight", *RATES)
RANGES = {"memory_swappiness": (0, 100), "cpu_shares": (2, 262144), "cpu_period": (1000, 1_000_000),
          "blkio_weight": (10, 1000)}
MIN_MEMORY = 6 * 1024 * 1024  # Docker's minimum


class DeviceRate:
    """A throttle for one block device: ``path`` (or ``major:minor``) and a rate."""

    __slots__ = ("path", "rate")

    def __init__(self, path: str, rate: object) -> None:
        if not isinstance(path, str):
            raise InvalidInput(f"{brief(path)} is not a device path", field="path",
                               hint="give the absolute path of a block device such as /dev/sda")
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "rate", parse_bytes(rate, "rate"))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"DeviceRate is immutable ({name})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeviceRate) and (self.path, self.rate) == (other.path, other.rate)

    def __hash__(self) -> int:
        return hash((self.path, self.rate))

    def __repr__(self) -> str:
        return f"DeviceRate({self.path!r}, {self.rate})"

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "rate": self.rate}


class Resources:
    """Checked limits: ``Resources(memory="512m", cpus="1.5")``; immutable."""

    __slots__ = FIELDS

    def __init__(self, **options: object) -> None:
        for name in options:
            if name not in FIELDS:
                raise InvalidInput(f"{name} is not a resource limit", field=name,
                                   hint=f"use one of {', '.join(FIELDS)}")
        for name in FIELDS:
            value = options.get(name)
            object.__setattr__(self, name, _rates(value, name) if name in RATES else parse_field(name, value))
        self._check_together()

    memory: int | None
    memory_reservation: int | None
    memory_swap: int | None
    memory_swappiness: int | None
    cpus: float | None
    cpu_shares: int | None
    cpu_period: int | None
    cpu_quota: int | None
    cpuset_cpus: str | None
    cpuset_mems: str | None
    pids_limit: int | None
    blkio_weight: int | None
    device_read_bps: list[DeviceRate]   # lists, as the options are given; never changed after init
    device_write_bps: list[DeviceRate]
    device_read_iops: list[DeviceRate]
    device_write_iops: list[DeviceRate]

    def _check_together(self) -> None:
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise InvalidInput(f"{name} {value} is out of range", field=name, hint=f"use {low}..{high}")
        if self.memory is not None and self.memory < MIN_MEMORY:
            raise InvalidInput(f"memory {self.memory} is below the minimum of 6 MiB", field="memory",
                               hint="give at least 6m, as Docker requires")
        if self.memory_swap not in (None, -1) and (self.memory is None or self.memory_swap < self.memory):
            raise InvalidInput("memory_swap is memory plus swap, so it must be at least memory", field="memory_swap",
                               hint="set memory too, and memory_swap >= memory (or -1 for unlimited swap)")
        if self.cpus is not None and self.cpu_quota is not None:
            raise InvalidInput("cpus and cpu_quota both set the CPU quota", field="cpus", hint="give one of them")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Resources is immutable ({name})")

    def _values(self) -> tuple[object, ...]:
        return tuple(tuple(getattr(self, n)) if n in RATES else getattr(self, n) for n in FIELDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resources) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"Resources({', '.join(f'{k}={v!r}' for k, v in self.managed().items())})"

    def cpu_limit(self) -> tuple[int, int] | None:
        """(quota, period) in microseconds; quota -1 means unlimited."""
        period = self.cpu_period or DEFAULT_CPU_PERIOD
        if self.cpus is not None:
            return round(self.cpus * period), period
        if self.cpu_quota is not None:
            return (self.cpu_quota if self.cpu_quota > 0 else -1), period
        if self.cpu_period is not None:
            return -1, period  # a period alone, as docker --cpu-period: no quota
        return None

    def managed(self) -> dict[str, Any]:
        """The options set (for reports), device throttles as dicts."""
        found: dict[str, Any] = {}
        for name in FIELDS:
            value = getattr(self, name)
            if name in RATES and value:
                found[name] = [rate.as_dict() for rate in value]
            elif name not in RATES and value is not None:
                found[name] = value
        return found


def parse_field(name: str, value: object) -> Any:
    """One scalar option, units parsed (None stays None: not managed)."""
    if value is None:
        return None
    return _PARSERS[name](value, name)


def _signed(value: object, field: str) -> int:
    """A whole number in ASCII digits with an optional '-' (-1 is Docker's
    "unlimited" for pids_limit and cpu_quota); no bools, no '1_000'."""
    text = value.strip(" \t") if isinstance(value, str) else value
    if isinstance(text, int) and not isinstance(text, bool) and text < 0:
        return -parse_uint(-text, field=field, what=field, maximum=INT64_MAX, hint="give a whole number")
    if isinstance(text, str) and text.startswith("-"):
        return -parse_uint(text[1:], field=field, what=field, maximum=INT64_MAX, hint="give a whole number")
    return parse_uint(text, field=field, what=field, maximum=INT64_MAX, hint="give a whole number")


def _rates(value: object, option: str) -> list[DeviceRate]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InvalidInput(f"{brief(value)} is not a list of device rates", field=option,
                           hint="give a list of {path: /dev/sda, rate: 1m}")
    return [_rate(entry, option) for entry in value]


def _rate(entry: object, option: str) -> DeviceRate:
    if isinstance(entry, DeviceRate):
        return entry
    if not isinstance(entry, dict) or set(entry) != {"path", "rate"}:
        raise InvalidInput(f"{brief(entry)} is not a device rate", field=option,
                           hint="give each entry as {path: /dev/sda, rate: 1m}")
    return DeviceRate(entry["path"], entry["rate"])


_PARSERS: dict[str, Callable[[object, str], Any]] = {
    **{name: parse_bytes for name in SIZES}, **{name: _signed for name in WHOLE},
    **{name: check_cpuset for name in CPUSETS}, "cpus": parse_cpus,
}
