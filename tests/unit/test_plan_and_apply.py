"""module_glue's two halves of every converging module: parameters validated
into the module's model (groups of flat options filled), and one task run
as a plan — check mode over a read-only view that cannot write, apply under
the domain's lock over the writable engine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import plan_and_apply, validate_params
from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImageRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.models import PruneRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.volume_models import VolumeRequest
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, ReadOnlyViolation
from ansible_collections.berth.engine.plugins.module_utils.plan import Plan, Step


def test_validate_params_fills_groups_and_leaves_unset_options_to_the_model(tmp_path: Path) -> None:
    params = {"state_root": str(tmp_path / "s"), "run_root": str(tmp_path / "r"), "name": "busybox", "tag": "1",
              "platform": None, "validate_certs": False, "ca_cert": None, "username": None, "password": "pw",
              "config_path": "/c.json", "insecure_registries": ["r:5000"], "import_config": {"cmd": None}}
    request = validate_params(ImageRequest, params)
    assert request.engine.state_root == tmp_path / "s" and request.registry.validate_certs is False
    assert request.registry.insecure_registries == ["r:5000"] and request.platform is None
    assert "pw" not in repr(request), "a secret never reaches a repr"
    prune = validate_params(PruneRequest, {"state_root": "/s", "run_root": "/r", "images": True,
                                           "images_filters": {"dangling_only": False}, "volumes": False,
                                           "volumes_filters": {"all": False}})
    assert prune.images and not prune.images_filters.dangling_only
    with pytest.raises(InvalidInput) as err:
        validate_params(VolumeRequest, {"state_root": "relative", "run_root": "/r", "name": "data"})
    assert err.value.field == "engine.state_root"


@dataclass(frozen=True)
class Touch(Step):
    """A step that writes a record (what every real step does, one way or another)."""

    key: str

    def describe(self) -> str:
        return f"touch {self.key}"

    def execute(self, context: Engine) -> None:
        with context.metadata("volumes").transaction() as txn:
            txn.put(self.key, {"name": self.key})


@dataclass
class Recorder:
    engines: list[Engine]
    locked: list[bool]

    def plan(self, engine: Engine, request: VolumeRequest) -> Plan:
        self.engines.append(engine)
        plan = Plan(before={"exists": False}, after={"exists": True})
        if engine.metadata("volumes").find(request.name) is None:
            plan.add(Touch(request.name))
        return plan

    @contextlib.contextmanager
    def lock(self, _engine: Engine) -> Iterator[None]:
        self.locked.append(True)
        yield

    def report(self, _engine: Engine, _request: VolumeRequest, plan: Plan, applied: bool) -> dict[str, Any]:
        return {"applied": applied, "steps": len(plan.steps)}


def test_check_mode_plans_over_a_view_and_an_apply_replans_under_the_lock(tmp_path: Path) -> None:
    request = VolumeRequest(engine={"state_root": tmp_path / "s", "run_root": tmp_path / "r"}, name="data")
    recorder = Recorder([], [])
    task = {"plan": recorder.plan, "lock": recorder.lock, "report": recorder.report}
    checked = plan_and_apply(request, check_mode=True, **task)
    assert checked == {"changed": True, "actions": ["touch data"], "applied": False, "steps": 1,
                       "diff": {"before": {"exists": False}, "after": {"exists": True}}}
    assert recorder.engines[0].read_only and recorder.locked == [] and not (tmp_path / "s").exists()
    with pytest.raises(ReadOnlyViolation):
        Touch("data").execute(recorder.engines[0])   # all check mode has is the view: it cannot write
    applied = plan_and_apply(request, check_mode=False, **task)
    assert applied["actions"] == checked["actions"] and applied["applied"] and recorder.locked == [True]
    assert not recorder.engines[1].read_only
    again = plan_and_apply(request, check_mode=False, **task)
    assert again["changed"] is False and again["actions"] == [] and again["diff"]["after"] == {"exists": False}
