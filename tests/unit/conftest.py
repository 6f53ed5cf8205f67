from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils import saferoot
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """An engine on isolated roots under the test's tmp dir."""
    return Engine.open(tmp_path / "state", tmp_path / "run")


# Both ways saferoot resolves a path inside a root: openat2(RESOLVE_IN_ROOT), and the
# per-component walk older kernels get (the saferoot and container-copy tests run under each).
@pytest.fixture(params=["openat2", "walk"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "walk":
        monkeypatch.setattr(saferoot, "have_openat2", False)
    else:
        monkeypatch.setattr(saferoot, "have_openat2", None)
        if not saferoot._openat2_works():
            pytest.skip("kernel has no openat2")
    yield request.param
