"""v1 pids: the process-count limit (0 or -1: unlimited, as Docker)."""

from __future__ import annotations

from ..protocol import Write

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (berth-runtime's start-up)
if TYPE_CHECKING:
    from ..resources import Resources


def writes(r: Resources) -> list[Write]:
    if r.pids_limit is None:
        return []
    return [Write("pids", "pids.max", str(r.pids_limit) if r.pids_limit > 0 else "max")]
