"""A `berth` CLI on a state root of a test's own with one image in it, and the
teardown every CLI test shares: remove what the test made (read from the store,
not from `ps`, whose output tests check), wait for the monitor to exit, then
assert nothing is left — networks, container cgroups, mounts under the root."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.cli import BerthCli
from tests.support.leaks import ContainerWatch
from tests.support.networks import drop_networks
from tests.support.runtime import mounts_under, wait_for


@contextmanager
def cli_root(tool: BerthCli, base: Path) -> Iterator[Engine]:
    """The engine of ``tool``'s roots; on exit, everything the test made is removed and checked gone."""
    engine = Engine.open(tool.state, tool.run)
    made = ContainerWatch(engine.layout.containers)
    try:
        yield engine
    finally:
        _clean_up(tool, engine, made, base)


def _clean_up(tool: BerthCli, engine: Engine, made: ContainerWatch, base: Path) -> None:
    for record in ContainerStore(engine).list():
        tool("rm", "-f", "-v", record["id"], check=False)
    assert wait_for(lambda: tool.monitor_pid() is None, timeout=10), "the monitor did not exit"
    drop_networks(engine)
    leftovers = made.cgroups_left()
    made.close()
    assert not leftovers, f"container cgroups left behind: {leftovers}"
    assert not mounts_under(base)


@contextmanager
def cli_with_rootfs(base: Path, rootfs: Path, image: str, config: ImportConfig | None = None) -> Iterator[BerthCli]:
    """A CLI whose store holds ``rootfs`` imported as ``image`` (``sh`` its command by default)."""
    tool = BerthCli(base)
    with cli_root(tool, base) as engine:
        import_rootfs(ImageStore(engine), rootfs, config or ImportConfig(cmd=["sh"]), parse_reference(image))
        yield tool
