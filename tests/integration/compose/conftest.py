"""A state root of the test's own with busybox:latest loaded, and a project
directory; at teardown every container, network and volume of the root goes
and the monitor must exit (the session's leak check does the rest)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose.model import Project
from ansible_collections.berth.engine.plugins.module_utils.compose.plan import UpOptions, plan_project
from ansible_collections.berth.engine.plugins.module_utils.containers.service import ContainerService
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.archive import load_archive
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.support.leaks import ContainerWatch
from tests.support.networks import drop_networks
from tests.support.runtime import mounts_under, wait_for


@dataclass
class Roots:
    state: Path
    run: Path
    project_dir: Path

    def engine(self) -> Engine:
        return Engine.open(self.state, self.run)

    def project(self, services: dict[str, Any], name: str = "shop", **extra: Any) -> Project:
        return Project(name=name, working_dir=str(self.project_dir),
                       config_files=[str(self.project_dir / "compose.yaml")], services=services, **extra)

    def up(self, project: Project, **options: Any) -> Any:
        """Plan over a view, then plan again and execute on the writable engine (as a task does)."""
        engine = self.engine()
        checked = plan_project(engine.view(), project, UpOptions(**options))
        plan = plan_project(engine, project, UpOptions(**options))
        assert plan.actions() == checked.actions()
        plan.execute(engine)
        return plan

    def check(self, project: Project, **options: Any) -> Any:
        return plan_project(self.engine().view(), project, UpOptions(**options))

    def containers(self) -> ContainerService:
        return ContainerService(self.engine())


@pytest.fixture
def roots(tmp_path: Path, busybox_image: Any) -> Iterator[Roots]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    found = Roots(tmp_path / "state", tmp_path / "run", tmp_path / "project")
    found.project_dir.mkdir()
    engine = found.engine()
    made = ContainerWatch(engine.layout.containers)
    load_archive(ImageStore(engine), busybox_image.layout, parse_reference("busybox:latest"))
    try:
        yield found
    finally:
        engine = found.engine()
        service = ContainerService(engine)
        for record in service.store.records():
            service.remove(record.id, force=True, volumes=True)
        volumes = VolumeService(engine)
        for volume in volumes.list():
            volumes.remove(volume["name"])
        drop_networks(engine)
        assert wait_for(lambda: not (found.run / "monitor.pid").exists() or _dead(found.run / "monitor.pid"),
                        timeout=15), "the monitor did not exit"
        leftovers = made.cgroups_left()
        made.close()
        assert not leftovers, leftovers
        assert not mounts_under(tmp_path)


def _dead(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return True
    return not Path(f"/proc/{pid}").exists()
