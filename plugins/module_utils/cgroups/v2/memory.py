"""v2 memory: max, low (reservation), swap.max (swap only, not memory+swap)."""

from __future__ import annotations

from ..protocol import Write
from ..v1.memory import swap_limit

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (berth-runtime's start-up)
if TYPE_CHECKING:
    from ..resources import Resources


def writes(r: Resources) -> list[Write]:
    out: list[Write] = []
    if r.memory is not None:
        out.append(Write("memory", "memory.max", _limit(r.memory), "pages"))
    total = swap_limit(r)
    if total is not None:
        swap = "max" if total < 0 else str(max(total - (r.memory or 0), 0))
        out.append(Write("memory", "memory.swap.max", swap, "pages"))
    if r.memory_reservation is not None:
        out.append(Write("memory", "memory.low", _limit(r.memory_reservation), "pages"))
    return out  # memory_swappiness has no v2 file: the service reports it as not applied


def _limit(value: int) -> str:
    return "max" if value <= 0 else str(value)
