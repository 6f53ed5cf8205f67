"""The v2 driver: one directory in the unified hierarchy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import InvalidState
from ..base import BaseManager, read_int
from ..protocol import Stats, Write
from . import cpu, cpuset, io, memory, pids

if TYPE_CHECKING:  # pydantic stays out of the runtime's fast path
    from ..resources import Resources

DELEGATED = ("cpu", "cpuset", "io", "memory", "pids")


class V2Manager(BaseManager):
    version = "v2"

    @property
    def root(self) -> Path:
        if self.hierarchy.unified is None:
            raise InvalidState("no cgroup2 filesystem is mounted", field="cgroups")
        return self.hierarchy.unified

    def dir_for(self, controller: str) -> Path:
        return self.root / self.path

    def dirs(self) -> list[Path]:
        return [self.root / self.path]

    def desired(self, resources: Resources) -> list[Write]:
        return [*memory.writes(resources), *cpu.writes(resources), *cpuset.writes(resources),
                *pids.writes(resources), *io.writes(resources, self.device)]

    def create(self, controllers: set[str] | None = None) -> None:
        """mkdir each level, enabling the controllers in every ancestor's
        subtree_control on the way (v2 delegates top-down)."""
        current = self.root
        for part in self.path.split("/"):
            _enable_controllers(current)
            current = current / part
            if not current.is_dir():
                current.mkdir()

    def freeze(self) -> None:
        (self.root / self.path / "cgroup.freeze").write_text("1")
        self._wait(lambda: read_int(self.root / self.path / "cgroup.events", "frozen") == 1, "freezing")

    def thaw(self) -> None:
        (self.root / self.path / "cgroup.freeze").write_text("0")

    def frozen(self) -> bool:
        return read_int(self.root / self.path / "cgroup.events", "frozen") == 1

    def stats(self) -> Stats:
        here = self.root / self.path
        usage_us = read_int(here / "cpu.stat", "usage_usec")
        return Stats(memory_usage=read_int(here / "memory.current"), memory_limit=read_int(here / "memory.max"),
                     cpu_usage_ns=usage_us * 1000 if usage_us is not None else None,
                     pids_current=read_int(here / "pids.current"),
                     oom_kills=read_int(here / "memory.events", "oom_kill"), frozen=self.frozen())


def _enable_controllers(directory: Path) -> None:
    try:
        available = set((directory / "cgroup.controllers").read_text().split())
        enabled = set((directory / "cgroup.subtree_control").read_text().split())
    except OSError:
        return
    for controller in DELEGATED:
        if controller in available and controller not in enabled:
            try:
                (directory / "cgroup.subtree_control").write_text(f"+{controller}")
            except OSError:
                continue  # e.g. a cgroup with processes of its own cannot delegate; limits then warn
