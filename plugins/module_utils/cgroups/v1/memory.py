"""v1 memory: limit, soft limit (reservation), memory+swap, swappiness."""

from __future__ import annotations

from ..protocol import Write

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (berth-runtime's start-up)
if TYPE_CHECKING:
    from ..resources import Resources


def writes(r: Resources) -> list[Write]:
    out: list[Write] = []
    if r.memory is not None:
        out.append(Write("memory", "memory.limit_in_bytes", str(r.memory), "pages"))
    swap_total = swap_limit(r)
    if swap_total is not None:
        out.append(Write("memory", "memory.memsw.limit_in_bytes", str(swap_total), "pages"))
    if r.memory_reservation is not None:
        out.append(Write("memory", "memory.soft_limit_in_bytes", str(r.memory_reservation), "pages"))
    if r.memory_swappiness is not None:
        out.append(Write("memory", "memory.swappiness", str(r.memory_swappiness)))
    return out


def swap_limit(r: Resources) -> int | None:
    """memory+swap as Docker sets it: unset swap with a memory limit allows
    as much swap as memory (twice the limit in total)."""
    if r.memory_swap is not None:
        return r.memory_swap
    return 2 * r.memory if r.memory is not None and r.memory > 0 else None
