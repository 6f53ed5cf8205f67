"""The v2 driver: limits in the cgroup's one directory of the unified hierarchy."""

from __future__ import annotations

from ..base import BaseManager, read_int
from ..protocol import Stats
from . import cpu, cpuset, io, memory, pids

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..protocol import Write
    from ..resources import Resources


class V2Manager(BaseManager):
    version = "v2"

    def desired(self, resources: Resources) -> list[Write]:
        return [*memory.writes(resources), *cpu.writes(resources), *cpuset.writes(resources),
                *pids.writes(resources), *io.writes(resources, self.device)]

    def stats(self) -> Stats:
        here = f"{self.hierarchy.unified}/{self.path}"
        usage_us = read_int(self.kernel, f"{here}/cpu.stat", "usage_usec")
        return Stats(memory_usage=read_int(self.kernel, f"{here}/memory.current"),
                     memory_limit=read_int(self.kernel, f"{here}/memory.max"),
                     cpu_usage_ns=usage_us * 1000 if usage_us is not None else None,
                     pids_current=read_int(self.kernel, f"{here}/pids.current"),
                     oom_kills=read_int(self.kernel, f"{here}/memory.events", "oom_kill"), frozen=self.frozen())
