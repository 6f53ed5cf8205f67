"""Planning of the image task: check mode never contacts a registry or writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image import service
from ansible_collections.berth.engine.plugins.module_utils.image.models import ImageRequest
from ansible_collections.berth.engine.plugins.module_utils.image.service import ImageService
from ansible_collections.berth.engine.plugins.module_utils.module_glue import validate

from .test_store import _image


@pytest.fixture(autouse=True)
def no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("check mode must not contact a registry")

    monkeypatch.setattr(service, "make_client", refuse)


def _request(engine: Engine, **params: Any) -> ImageRequest:
    return validate(ImageRequest, {"engine": {"state_root": str(engine.layout.state_root),
                                              "run_root": str(engine.layout.run_root)},
                                   "registry": {}, **params})


def _snapshot_of_store(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_check_mode_pull_of_missing_image_predicts_change_without_writing(engine: Engine) -> None:
    before = _snapshot_of_store(engine.layout.state_root)
    out = ImageService(engine, _request(engine, name="busybox:1.36"), check_mode=True).run()
    assert out.changed and out.actions == ["pulled: busybox:1.36"]
    assert out.result()["diff"] == {"before": {"exists": False}, "after": {"exists": False}}
    assert _snapshot_of_store(engine.layout.state_root) == before


def test_present_image_with_pull_missing_is_unchanged(engine: Engine) -> None:
    _image(engine, "busybox:1.36", [b"base"])
    for check in (True, False):
        out = ImageService(engine, _request(engine, name="busybox", tag="1.36"), check_mode=check).run()
        assert not out.changed and out.actions == []


def test_pull_always_in_check_mode_says_it_cannot_know(engine: Engine) -> None:
    _image(engine, "busybox:1.36", [b"base"])
    out = ImageService(engine, _request(engine, name="busybox:1.36", pull="always"), check_mode=True).run()
    assert not out.changed
    assert "cannot know" in out.warnings[0]
    out = ImageService(engine, _request(engine, name="busybox:1.36", pull="always",
                                        pull_check_mode_behavior="always"), check_mode=True).run()
    assert out.changed


def test_check_mode_absent_predicts_untag_vs_delete(engine: Engine) -> None:
    record = _image(engine, "app:1", [b"base"])
    out = ImageService(engine, _request(engine, name="app:1", state="absent"), check_mode=True).run()
    assert out.actions == [f"deleted: {record.id}"]
    assert out.result()["diff"]["after"] == {"exists": False}
    assert ImageService(engine, _request(engine, name="app:1"), check_mode=True).run().changed is False


def test_retag_conflict_needs_force_tag(engine: Engine) -> None:
    _image(engine, "app:1", [b"one"])
    _image(engine, "other:1", [b"two"])
    from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict

    with pytest.raises(Conflict, match="force_tag"):
        ImageService(engine, _request(engine, name="app:1", source="local", repository="other:1"),
                     check_mode=True).run()
    out = ImageService(engine, _request(engine, name="app:1", source="local", repository="other:1",
                                        force_tag=True), check_mode=False).run()
    assert out.actions == ["tagged: other:1"]


def test_local_source_requires_presence(engine: Engine) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.errors import NotFound

    with pytest.raises(NotFound, match="source: pull, load or import"):
        ImageService(engine, _request(engine, name="nothere:1", source="local"), check_mode=True).run()


def test_bad_option_values_name_the_option(engine: Engine) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        _request(engine, name="x", pull="sometimes")
    assert err.value.field == "pull"
    with pytest.raises(InvalidInput, match="must be lowercase"):
        ImageService(engine, _request(engine, name="Busybox"), check_mode=True)
