"""The typed resource limits every cgroup driver reads (Docker's names).

Units are parsed here, once (``512m``, cpus ``1.5``); drivers only map these
numbers to their own files. ``None`` means "not managed": a driver writes
nothing for it, so an option left out of a playbook is left alone, like
``docker update``.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ..models import StrictModel
from ..pydantic_compat import field_validator, model_validator
from ..strict import INT64_MAX, parse_uint
from .units import check_cpuset, parse_bytes, parse_cpus

DEFAULT_CPU_PERIOD = 100_000


class DeviceRate(StrictModel):
    path: str
    rate: int

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> int:
        return parse_bytes(value, "rate")


class Resources(StrictModel):
    memory: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None
    memory_swappiness: int | None = None
    cpus: float | None = None
    cpu_shares: int | None = None
    cpu_period: int | None = None
    cpu_quota: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None
    blkio_weight: int | None = None
    device_read_bps: list[DeviceRate] = []
    device_write_bps: list[DeviceRate] = []
    device_read_iops: list[DeviceRate] = []
    device_write_iops: list[DeviceRate] = []

    @field_validator("memory", "memory_reservation", "memory_swap", mode="before")
    @classmethod
    def _sizes(cls, value: Any, info: Any) -> int | None:
        if value is None:
            return None
        return parse_bytes(value, info.field_name)

    @field_validator("memory_swappiness", "cpu_shares", "cpu_period", "cpu_quota", "pids_limit", "blkio_weight",
                     mode="before")
    @classmethod
    def _whole(cls, value: Any, info: Any) -> int | None:
        return None if value is None else _signed(value, info.field_name)

    @field_validator("cpus", mode="before")
    @classmethod
    def _cpus(cls, value: Any) -> float | None:
        return None if value is None else parse_cpus(value)

    @field_validator("cpuset_cpus", "cpuset_mems")
    @classmethod
    def _cpuset(cls, value: str | None, info: Any) -> str | None:
        return None if value is None else check_cpuset(value, info.field_name)

    @model_validator(mode="after")
    def _ranges(self) -> Resources:
        _between(self.memory_swappiness, 0, 100, "memory_swappiness")
        _between(self.cpu_shares, 2, 262144, "cpu_shares")
        _between(self.cpu_period, 1000, 1_000_000, "cpu_period")
        _between(self.blkio_weight, 10, 1000, "blkio_weight")
        if self.memory is not None and self.memory < 6 * 1024 * 1024:
            raise InvalidInput(f"memory {self.memory} is below the minimum of 6 MiB", field="memory",
                               hint="give at least 6m, as Docker requires")
        if self.memory_swap not in (None, -1) and (self.memory is None or self.memory_swap < self.memory):
            raise InvalidInput("memory_swap is memory plus swap, so it must be at least memory", field="memory_swap",
                               hint="set memory too, and memory_swap >= memory (or -1 for unlimited swap)")
        if self.cpus is not None and self.cpu_quota is not None:
            raise InvalidInput("cpus and cpu_quota both set the CPU quota", field="cpus",
                               hint="give one of them")
        return self

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
        """The options the user set (for reports)."""
        return {k: v for k, v in self.model_dump().items() if v not in (None, [])}


def _signed(value: Any, field: str) -> int:
    """A whole number in ASCII digits with an optional '-' (-1 is Docker's
    "unlimited" for pids_limit and cpu_quota); no bools, no '1_000'."""
    text = value.strip(" \t") if isinstance(value, str) else value
    if isinstance(text, int) and not isinstance(text, bool) and text < 0:
        return -parse_uint(-text, field=field, what=field, maximum=INT64_MAX, hint="give a whole number")
    if isinstance(text, str) and text.startswith("-"):
        return -parse_uint(text[1:], field=field, what=field, maximum=INT64_MAX, hint="give a whole number")
    return parse_uint(text, field=field, what=field, maximum=INT64_MAX, hint="give a whole number")


def _between(value: int | None, low: int, high: int, field: str) -> None:
    if value is not None and not low <= value <= high:
        raise InvalidInput(f"{field} {value} is out of range", field=field, hint=f"use {low}..{high}")
