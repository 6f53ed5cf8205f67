"""The v1 driver: limits in each controller's own hierarchy (hybrid hosts too)."""

from __future__ import annotations

from ..base import BaseManager, read_int
from ..protocol import Stats
from . import blkio, cpu, cpuset, memory, pids

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..protocol import Write
    from ..resources import Resources


class V1Manager(BaseManager):
    version = "v1"

    def desired(self, resources: Resources) -> list[Write]:
        return [*memory.writes(resources), *cpu.writes(resources), *cpuset.writes(resources),
                *pids.writes(resources), *blkio.writes(resources, self.device)]

    def stats(self) -> Stats:
        def number(controller: str, file: str, key: str | None = None) -> int | None:
            directory = self.dir_for(controller) if controller in self.hierarchy.v1 else None
            return read_int(self.kernel, f"{directory}/{file}", key) if directory else None

        limit = number("memory", "memory.limit_in_bytes")
        return Stats(memory_usage=number("memory", "memory.usage_in_bytes"),
                     memory_limit=None if limit is None or limit >= 1 << 62 else limit,
                     cpu_usage_ns=number("cpuacct", "cpuacct.usage"), pids_current=number("pids", "pids.current"),
                     oom_kills=number("memory", "memory.oom_control", "oom_kill"), frozen=self.frozen())
