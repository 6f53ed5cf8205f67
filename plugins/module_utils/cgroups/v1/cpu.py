"""v1 cpu: shares and CFS quota/period (period first: quota is checked against it)."""

from __future__ import annotations

from ..protocol import Write

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (berth-runtime's start-up)
if TYPE_CHECKING:
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
