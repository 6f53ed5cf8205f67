"""v1 cpuset: cpus and memory nodes."""

from __future__ import annotations

from ..protocol import Write

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (berth-runtime's start-up)
if TYPE_CHECKING:
    from ..resources import Resources


def writes(r: Resources) -> list[Write]:
    out: list[Write] = []
    if r.cpuset_cpus is not None:
        out.append(Write("cpuset", "cpuset.cpus", r.cpuset_cpus, "cpuset"))
    if r.cpuset_mems is not None:
        out.append(Write("cpuset", "cpuset.mems", r.cpuset_mems, "cpuset"))
    return out
