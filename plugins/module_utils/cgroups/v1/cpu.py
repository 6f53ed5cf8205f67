"""v1 cpu: shares and CFS quota/period (period first: quota is checked against it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..protocol import Write

if TYPE_CHECKING:  # pydantic stays out of the runtime's fast path
    from ..resources import Resources


def writes(r: Resources) -> list[Write]:
    out: list[Write] = []
    if r.cpu_shares is not None:
        out.append(Write("cpu", "cpu.shares", str(r.cpu_shares)))
    limit = r.cpu_limit()
    if limit is not None:
        quota, period = limit
        out.append(Write("cpu", "cpu.cfs_period_us", str(period)))
        out.append(Write("cpu", "cpu.cfs_quota_us", str(quota)))
    return out
