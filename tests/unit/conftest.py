from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """An engine on isolated roots under the test's tmp dir."""
    return Engine.open(tmp_path / "state", tmp_path / "run")
