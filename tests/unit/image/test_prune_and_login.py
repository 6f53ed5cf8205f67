"""The image half of prune (image/prune.py) and the login task
(image/login.py) as plans: planned over a read-only view, then applied."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible import login_plan as login
from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import validate
from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import LoginRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.login_plan import (
    RemoveCredentials,
    SaveCredentials,
    login_report,
    plan_login,
)
from ansible_collections.berth.engine.plugins.module_utils.ansible.prune_plan import (
    CollectGarbage,
    PruneImage,
    plan_image_prune,
)
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.image.records import ImageRecord
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore

from .test_store import _image


def _dangle(engine: Engine, name: str, layers: list[bytes]) -> ImageRecord:
    record = _image(engine, name, layers)
    ImageStore(engine).untag(name)
    return record


def test_prune_plans_dangling_images_and_their_unshared_blobs(engine: Engine) -> None:
    kept = _image(engine, "app:1", [b"base"])
    doomed = _dangle(engine, "old:1", [b"base", b"top"])
    assert plan_image_prune(engine.view(), dangling_only=True)[:1] == [PruneImage(doomed.id, len(b"top") + sum(
        engine.blobs.size(d) for d in (doomed.id, doomed.manifest_digest)))]
    steps = plan_image_prune(engine.view(), dangling_only=True)
    assert [type(s) for s in steps] == [PruneImage, CollectGarbage]
    assert [s.describe() for s in steps] == [f"remove image {doomed.id}", "remove unreferenced layers and blobs"]
    for step in plan_image_prune(engine, dangling_only=True):
        step.execute(engine)
    assert [r.id for r in ImageStore(engine).list()] == [kept.id]
    assert plan_image_prune(engine, dangling_only=True) == [], "nothing left: no change on the next run"
    assert [s.image_id for s in plan_image_prune(engine.view(), dangling_only=False)
            if isinstance(s, PruneImage)] == [kept.id]


def test_prune_keeps_images_containers_use_and_sweeps_leftovers(engine: Engine) -> None:
    used = _dangle(engine, "used:1", [b"u"])
    with engine.metadata("containers").transaction() as txn:
        txn.put("c" * 64, {"id": "c" * 64, "name": "web", "image_id": used.id, "config": {}})
    assert plan_image_prune(engine.view(), dangling_only=False) == []
    engine.blobs.put_bytes(b"left by a crash")
    assert plan_image_prune(engine.view(), dangling_only=True) == [CollectGarbage()]


def _login(tmp_path: Path, **task: Any) -> LoginRequest:
    return validate(LoginRequest, {"registry": "registry.example.com:5000", "config_path": str(tmp_path / "c.json"),
                                   **task})


def test_login_saves_once_and_logs_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pinged: list[str] = []
    monkeypatch.setattr(login.RegistryClient, "ping", lambda client: pinged.append(client.registry))
    task = {"username": "deploy", "password": "s3cret"}
    check = plan_login(_login(tmp_path, **task), may_contact=False)
    assert [type(s) for s in check.steps] == [SaveCredentials] and pinged == []
    assert check.actions() == ["log in to registry.example.com:5000 as deploy"]
    assert check.diff() == {"before": {"registry": "registry.example.com:5000", "logged_in": False, "username": None},
                            "after": {"registry": "registry.example.com:5000", "logged_in": True,
                                      "username": "deploy"}}
    assert "s3cret" not in repr(check) and not (tmp_path / "c.json").exists()
    applied = plan_login(_login(tmp_path, **task), may_contact=True)
    applied.execute(None)
    assert applied.actions() == check.actions() and pinged == ["registry.example.com:5000"]
    saved = json.loads((tmp_path / "c.json").read_text())["auths"]["registry.example.com:5000"]["auth"]
    assert base64.b64decode(saved).decode() == "deploy:s3cret"
    assert plan_login(_login(tmp_path, **task), may_contact=True).steps == []
    assert plan_login(_login(tmp_path, reauthorize=True, **task), may_contact=True).steps == []
    assert len(pinged) == 2, "reauthorize verifies while planning an apply, without a change"
    out = plan_login(_login(tmp_path, state="absent"), may_contact=False)
    assert out.steps == [RemoveCredentials("registry.example.com:5000", tmp_path / "c.json")]
    out.execute(None)
    assert plan_login(_login(tmp_path, state="absent"), may_contact=False).steps == []
    assert login_report(_login(tmp_path, state="absent"))["logged_in"] is False


def test_login_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="needs username and password"):
        plan_login(_login(tmp_path, username="u"), may_contact=False)
    with pytest.raises(InvalidInput, match="not a registry host") as err:
        plan_login(_login(tmp_path, registry="https://a/b/c", state="absent"), may_contact=False)
    assert err.value.field == "registry"
    assert login.normalise_registry("https://index.docker.io/v1/") == "docker.io"
