"""The cgroup conformance suite (conformance.py) on fake cgroupfs trees: v1,
v2, and hybrid (v1 controllers plus a cgroup2 mount offering only hugetlb, as
these build machines). The same suite runs on the real kernel in
tests/integration/test_cgroup_real.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conformance import CgroupConformance, Tree
from .fakefs import FakeCgroupfs


@pytest.fixture(params=["v1", "v2", "hybrid"])
def tree(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tree]:
    fake = FakeCgroupfs(tmp_path / "cgroup", request.param)
    found = Tree(fake, fake.hierarchy(), "berth-test")
    try:
        yield found
    finally:
        found.stop()


class TestFakeCgroupfs(CgroupConformance):
    def test_the_fake_tree_is_detected_as_laid_out(self, tree: Tree) -> None:
        layout = tree.kernel.layout  # type: ignore[attr-defined]
        assert tree.hierarchy.mode == layout
        assert tree.hierarchy.driver == ("v2" if layout == "v2" else "v1")
        if layout != "v2":
            assert tree.hierarchy.v1["cpu"] == tree.hierarchy.v1["cpuacct"]
            assert "name=systemd" in tree.hierarchy.v1_mounts.values()
