"""v2 cpu: weight (converted from shares) and max ("quota period")."""

from __future__ import annotations

from ..protocol import Write

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (berth-runtime's start-up)
if TYPE_CHECKING:
    from ..resources import Resources


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144, default 1024) → cpu.weight (1..10000, default 100).

    The linear map runc and crun use, so a container moved between a v1 and
    a v2 host keeps its relative share: 2 → 1, 262144 → 10000, 1024 → 39.
    """
    return 1 + ((shares - 2) * 9999) // 262142


def writes(r: Resources) -> list[Write]:
    out: list[Write] = []
    if r.cpu_shares is not None:
        out.append(Write("cpu", "cpu.weight", str(shares_to_weight(r.cpu_shares))))
    limit = r.cpu_limit()
    if limit is not None:
        quota, period = limit
        out.append(Write("cpu", "cpu.max", f"{quota if quota > 0 else 'max'} {period}"))
    return out
