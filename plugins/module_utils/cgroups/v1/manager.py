"""The v1 driver: one directory per controller hierarchy (hybrid hosts too)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..base import BaseManager, read_int
from ..protocol import Stats, Write
from . import blkio, cpu, cpuset, memory, pids

if TYPE_CHECKING:  # pydantic stays out of the runtime's fast path
    from ..resources import Resources

# cpuacct carries CPU usage; freezer is needed for pause even without limits.
MANAGED = ("memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "freezer")


class V1Manager(BaseManager):
    version = "v1"

    def dir_for(self, controller: str) -> Path:
        return self.hierarchy.v1[controller] / self.path

    def dirs(self) -> list[Path]:
        return sorted({self.dir_for(c) for c in MANAGED if c in self.hierarchy.v1})

    def desired(self, resources: Resources) -> list[Write]:
        return [*memory.writes(resources), *cpu.writes(resources), *cpuset.writes(resources),
                *pids.writes(resources), *blkio.writes(resources, self.device)]

    def create(self, controllers: set[str] | None = None) -> None:
        for controller in MANAGED:
            if controller not in self.hierarchy.v1:
                continue
            root = self.hierarchy.v1[controller]
            current = root
            for part in self.path.split("/"):
                parent, current = current, current / part
                if not current.is_dir():
                    current.mkdir()
                if controller == "cpuset":
                    _inherit_cpuset(parent, current)

    def freeze(self) -> None:
        state = self.dir_for("freezer") / "freezer.state"
        state.write_text("FROZEN")
        self._wait(lambda: state.read_text().strip() == "FROZEN", "freezing")

    def thaw(self) -> None:
        (self.dir_for("freezer") / "freezer.state").write_text("THAWED")

    def frozen(self) -> bool:
        try:
            return (self.dir_for("freezer") / "freezer.state").read_text().strip() == "FROZEN"
        except OSError:
            return False

    def stats(self) -> Stats:
        mem = self.dir_for("memory") if "memory" in self.hierarchy.v1 else None
        limit = read_int(mem / "memory.limit_in_bytes") if mem else None
        return Stats(
            memory_usage=read_int(mem / "memory.usage_in_bytes") if mem else None,
            memory_limit=None if limit is None or limit >= 1 << 62 else limit,
            cpu_usage_ns=read_int(self.dir_for("cpuacct") / "cpuacct.usage") if "cpuacct" in self.hierarchy.v1
            else None,
            pids_current=read_int(self.dir_for("pids") / "pids.current") if "pids" in self.hierarchy.v1 else None,
            oom_kills=read_int(mem / "memory.oom_control", "oom_kill") if mem else None,
            frozen=self.frozen())


def _inherit_cpuset(parent: Path, child: Path) -> None:
    """A new v1 cpuset starts empty and refuses tasks: copy the parent's sets."""
    for name in ("cpuset.cpus", "cpuset.mems"):
        if not (child / name).read_text().strip():
            (child / name).write_text((parent / name).read_text().strip())
