"""v2 cpu: weight (converted from shares) and max ("quota period")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..protocol import Write
from ..units import shares_to_weight

if TYPE_CHECKING:  # pydantic stays out of the runtime's fast path
    from ..resources import Resources


def writes(r: Resources) -> list[Write]:
    out: list[Write] = []
    if r.cpu_shares is not None:
        out.append(Write("cpu", "cpu.weight", str(shares_to_weight(r.cpu_shares))))
    limit = r.cpu_limit()
    if limit is not None:
        quota, period = limit
        out.append(Write("cpu", "cpu.max", f"{quota if quota > 0 else 'max'} {period}"))
    return out
