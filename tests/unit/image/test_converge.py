"""The image task's plan (image/converge.py): check mode plans over a
read-only view, never contacts a registry for a pull and never writes; an
apply plans again and executes the same steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible import image_plan as converge
from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import validate
from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImageRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.image_plan import (
    Archive,
    Delete,
    Pull,
    Push,
    Tag,
    Untag,
    image_report,
    plan_image,
)
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ReadOnlyViolation,
)
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore

from .test_store import _image


@dataclass
class FakeRegistry:
    """What the planner asks a registry: the digest a tag names (HEAD)."""

    manifests: dict[str, str] = field(default_factory=dict)   # "repository:reference" -> digest
    heads: list[str] = field(default_factory=list)

    def head_manifest(self, repository: str, reference: str, _accept: list[str]) -> str | None:
        self.heads.append(f"{repository}:{reference}")
        return self.manifests.get(f"{repository}:{reference}")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
    fake = FakeRegistry()
    monkeypatch.setattr(converge, "make_client", lambda _registry, _options: fake)
    return fake


@pytest.fixture
def no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the registry must not be contacted here")

    monkeypatch.setattr(converge, "make_client", refuse)


def _request(engine: Engine, **params: Any) -> ImageRequest:
    return validate(ImageRequest, {"engine": {"state_root": str(engine.layout.state_root),
                                              "run_root": str(engine.layout.run_root)}, **params})


def _files(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))


def _apply(engine: Engine, request: ImageRequest) -> list[str]:
    plan = plan_image(engine, request)
    plan.execute(engine)
    return plan.actions()


@pytest.mark.usefixtures("no_registry")
def test_check_mode_pull_of_a_missing_image_is_planned_without_writing(engine: Engine) -> None:
    before = _files(engine.layout.state_root)
    request = _request(engine, name="busybox:1.36", repository="127.0.0.1:5000/b", push=True,
                       archive_path="/nonexistent/b.tar")
    plan = plan_image(engine.view(), request)
    assert [type(s) for s in plan.steps] == [Pull, Tag, Push, Archive]
    assert plan.actions() == ["pulled: busybox:1.36", "tagged: 127.0.0.1:5000/b:1.36", "pushed: 127.0.0.1:5000/b:1.36",
                              "archived: /nonexistent/b.tar"]
    assert plan.diff() == {"before": {"exists": False},
                           "after": {"exists": True, "repo_tags": ["127.0.0.1:5000/b:1.36",
                                                                   "docker.io/library/busybox:1.36"]}}
    assert image_report(engine.view(), request, plan, False) == {"image": None}
    with pytest.raises(ReadOnlyViolation):
        plan.steps[0].execute(engine.view())   # a view cannot pull: check mode has nothing that could
    assert _files(engine.layout.state_root) == before


@pytest.mark.usefixtures("no_registry")
def test_a_present_image_with_pull_missing_has_no_steps(engine: Engine) -> None:
    _image(engine, "busybox:1.36", [b"base"])
    for view in (engine.view(), engine):
        plan = plan_image(view, _request(engine, name="busybox", tag="1.36"))
        assert not plan.changed and plan.actions() == [] and plan.diff()["before"] == plan.diff()["after"]


@pytest.mark.usefixtures("no_registry")
def test_pull_always_in_check_mode_says_it_cannot_know(engine: Engine) -> None:
    _image(engine, "busybox:1.36", [b"base"])
    plan = plan_image(engine.view(), _request(engine, name="busybox:1.36", pull="always"))
    assert not plan.changed and "cannot know" in plan.warnings[0]
    plan = plan_image(engine.view(), _request(engine, name="busybox:1.36", pull="always",
                                              pull_check_mode_behavior="always"))
    assert plan.actions() == ["pulled: busybox:1.36"]


def test_pull_always_in_an_apply_asks_the_registry_what_the_tag_names(
        engine: Engine, registry: FakeRegistry) -> None:
    record = _image(engine, "busybox:1.36", [b"base"])
    ImageStore(engine).save(record, None, digest_name="docker.io/library/busybox@sha256:" + "a" * 64)
    registry.manifests["library/busybox:1.36"] = "sha256:" + "a" * 64
    assert plan_image(engine, _request(engine, name="busybox:1.36", pull="always")).steps == []
    registry.manifests["library/busybox:1.36"] = "sha256:" + "b" * 64   # the tag moved
    assert plan_image(engine, _request(engine, name="busybox:1.36", pull="always")).actions() == [
        "pulled: busybox:1.36"]
    assert registry.heads == ["library/busybox:1.36"] * 2


@pytest.mark.usefixtures("no_registry")
def test_absent_untags_one_of_several_tags_and_deletes_the_last(engine: Engine) -> None:
    record = _image(engine, "app:1", [b"base"])
    ImageStore(engine).save(record, converge.parse_reference("app:2"))
    plan = plan_image(engine.view(), _request(engine, name="app:1", state="absent"))
    assert plan.steps == [Untag("docker.io/library/app:1")] and plan.actions() == ["untagged: docker.io/library/app:1"]
    assert plan.diff()["after"] == {"exists": True, "id": record.id, "repo_tags": ["docker.io/library/app:2"]}
    assert _apply(engine, _request(engine, name="app:1", state="absent")) == plan.actions()
    last = plan_image(engine.view(), _request(engine, name="app:2", state="absent"))
    assert last.steps == [Delete(record.id, False)] and last.diff()["after"] == {"exists": False}
    assert _apply(engine, _request(engine, name="app:2", state="absent")) == [f"deleted: {record.id}"]
    assert ImageStore(engine).list() == [] and plan_image(engine, _request(engine, name="app:2",
                                                                           state="absent")).steps == []


@pytest.mark.usefixtures("no_registry")
def test_removing_an_image_containers_use_needs_force_absent(engine: Engine) -> None:
    record = _image(engine, "app:1", [b"base"])
    with engine.metadata("containers").transaction() as txn:
        txn.put("c" * 64, {"id": "c" * 64, "name": "web", "image_id": record.id, "config": {}})
    for view in (engine.view(), engine):
        with pytest.raises(Conflict, match=r"used by container\(s\) web") as err:
            plan_image(view, _request(engine, name="app:1", state="absent"))
        assert "force_absent" in (err.value.hint or "")
    assert _apply(engine, _request(engine, name="app:1", state="absent", force_absent=True)) == [
        f"deleted: {record.id}"]


@pytest.mark.usefixtures("no_registry")
def test_retag_conflict_needs_force_tag(engine: Engine) -> None:
    _image(engine, "app:1", [b"one"])
    other = _image(engine, "other:1", [b"two"])
    with pytest.raises(Conflict, match="force_tag"):
        plan_image(engine.view(), _request(engine, name="app:1", source="local", repository="other:1"))
    forced = _request(engine, name="app:1", source="local", repository="other:1", force_tag=True)
    assert plan_image(engine.view(), forced).actions() == _apply(engine, forced) == ["tagged: other:1"]
    assert ImageStore(engine).resolve("other:1").id != other.id
    assert plan_image(engine, forced).steps == []


@pytest.mark.usefixtures("no_registry")
def test_local_source_requires_presence(engine: Engine) -> None:
    with pytest.raises(NotFound, match="source: pull, load or import"):
        plan_image(engine.view(), _request(engine, name="nothere:1", source="local"))


def test_push_is_skipped_when_the_registry_has_the_manifest(engine: Engine, registry: FakeRegistry) -> None:
    record = _image(engine, "app:1", [b"base"])
    request = _request(engine, name="app:1", source="local", repository="127.0.0.1:5000/team/app", push=True)
    assert plan_image(engine.view(), request).actions() == ["tagged: 127.0.0.1:5000/team/app:1",
                                                            "pushed: 127.0.0.1:5000/team/app:1"]
    registry.manifests["team/app:1"] = record.manifest_digest
    assert plan_image(engine.view(), request).actions() == ["tagged: 127.0.0.1:5000/team/app:1"]


def test_bad_option_values_name_the_option(engine: Engine) -> None:
    with pytest.raises(InvalidInput) as err:
        _request(engine, name="x", pull="sometimes")
    assert err.value.field == "pull"
    with pytest.raises(InvalidInput) as empty:
        _request(engine, name="x", tag="")
    assert empty.value.field == "tag"
    with pytest.raises(InvalidInput, match="must be lowercase"):
        plan_image(engine.view(), _request(engine, name="Busybox"))
    _image(engine, "app:1", [b"base"])
    with pytest.raises(InvalidInput, match="has a digest"):
        plan_image(engine.view(), _request(engine, name="app:1", source="local",
                                           repository="app@sha256:" + "a" * 64))
