"""A compose network's driver as the engine's network: bridge, or overlay
with its settings from x-berth.overlay (typed as the network module's
overlay option); other drivers and bad settings name their compose path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose import steps as st
from ansible_collections.berth.engine.plugins.module_utils.compose.model import Project
from ansible_collections.berth.engine.plugins.module_utils.compose.plan import UpOptions, plan_project
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.network.service import Desired

IMAGE_ID = "sha256:" + "ab" * 32
OVERLAY = {"local_address": "192.0.2.1", "peers": ["192.0.2.1", "192.0.2.2"], "port": 4789, "vni": 42}


def _network_step(engine: Engine, tmp_path: Path, network: dict[str, Any]) -> st.CreateNetwork:
    project = Project(name="shop", working_dir=str(tmp_path), config_files=[],
                      services={"app": {"image": "busybox", "networks": {"net": {}}}}, networks={"net": network})
    plan = plan_project(engine.view(), project, UpOptions(pull="never"))
    return next(s for s in plan.steps if isinstance(s, st.CreateNetwork))


def _overlay(**changes: Any) -> dict[str, Any]:
    return {"driver": "overlay", "ipam": {"config": [{"subnet": "10.240.0.0/16"}]},
            "x-berth": {"overlay": {**OVERLAY, **changes}}}


def test_an_overlay_network_becomes_the_engines_overlay(engine: Engine, tmp_path: Path) -> None:
    step = _network_step(engine, tmp_path, _overlay())
    assert (step.name, step.driver, step.overlay) == ("shop_net", "overlay", OVERLAY)
    assert step.describe() == "created network: shop_net (overlay)"
    desired = Desired.of(st._Wishes(step))   # what the network service makes of it
    assert (desired.driver, desired.overlay) == ("overlay", OVERLAY)
    assert desired.options["ipam_config"] == [{"subnet": "10.240.0.0/16"}]
    bridge = _network_step(engine, tmp_path, {"driver": "bridge"})
    assert (bridge.driver, bridge.overlay) == ("bridge", None)
    assert Desired.of(st._Wishes(bridge)).driver == "bridge"


@pytest.mark.parametrize(("network", "field"), [
    ({"driver": "macvlan"}, "networks.net.driver"),
    ({"driver": "bridge", "x-berth": {"overlay": OVERLAY}}, "networks.net.x-berth.overlay"),
    ({"driver": "overlay", "ipam": {"config": [{"subnet": "10.240.0.0/16"}]}}, "networks.net.x-berth.overlay"),
    ({**_overlay(), "ipam": {}}, "networks.net.ipam.config"),
    ({**_overlay(), "ipam": {"config": [{"subnet": "10.240.0.0/16", "gateway": "10.240.0.1"}]}},
     "networks.net.ipam.config"),
    (_overlay(peers="192.0.2.2"), "networks.net.x-berth.overlay.peers"),
    (_overlay(vxlan_port=4789), "networks.net.x-berth.overlay.vxlan_port"),
    (_overlay(local_address=""), "networks.net.x-berth.overlay.local_address"),
])
def test_bad_drivers_and_settings_name_their_path(engine: Engine, tmp_path: Path, network: dict[str, Any],
                                                  field: str) -> None:
    with pytest.raises(InvalidInput) as bad:
        _network_step(engine, tmp_path, network)
    assert bad.value.field == field and bad.value.hint, bad.value
