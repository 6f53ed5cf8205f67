"""community.docker's ``image_comparison`` and ``command_handling`` (and ``comparisons: {image: ignore}``,
which the first is for) in the container plan, over a read-only view of a real state root with records
written straight into the store (as test_converge_plan.py does): only the decision is tested."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.container_plan import ContainerTask, plan_container
from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.containers import options
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.plan import Plan
from tests.support.runtime import passwd_only_rootfs

OLD, NEW = "local/app:1", "local/app:2"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """Two images of one app: the new one changes ENV MODE and CMD."""
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    rootfs = passwd_only_rootfs(tmp_path)
    for ref, mode, cmd in ((OLD, "old", ["sleep", "300"]), (NEW, "new", ["sleep", "600"])):
        import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=cmd, env={"MODE": mode}), parse_reference(ref))
    return engine


def image_id(engine: Engine, ref: str) -> str:
    record = ImageStore(engine).find(ref)
    assert record is not None
    return record.id


def add(engine: Engine, stated: dict[str, Any], *, image: str = OLD, image_id_: str | None = None) -> None:
    """A running container ``web`` as create() records it, made from ``image``."""
    spec = options.build_spec(image, stated)
    store = ContainerStore(engine)
    with store.meta.transaction() as txn:
        store.add(txn, "web", {"image": image, "image_id": image_id_ or image_id(engine, image),
                               "spec": spec.to_dict(), "stated": sorted(stated), "config": {},
                               "state": {"status": "running", "paused": False, "pid": os.getpid()}})


def planned(engine: Engine, **task: Any) -> Plan:
    return plan_container(engine.view(), ContainerTask.from_params({"name": "web", "image": NEW, **task}))


# -- comparisons: {image: ignore} ----------------------------------------------------------------------
def test_a_new_image_recreates_unless_the_image_is_ignored(engine: Engine) -> None:
    add(engine, {})
    assert planned(engine).actions() == ["recreate", "start"]
    kept = planned(engine, comparisons={"image": "ignore"})
    assert kept.actions() == []
    assert kept.after["image_id"] == image_id(engine, OLD)   # the diff shows the image it keeps


def test_the_image_compares_strict_or_ignore_only(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="for image") as raised:
        planned(engine, comparisons={"image": "allow_more_present"})
    assert raised.value.field == "comparisons"


# -- image_comparison ----------------------------------------------------------------------------------
def test_desired_image_compares_against_the_tasks_image_defaults(engine: Engine) -> None:
    # the container (no env stated) runs MODE=old from its image; the task states MODE=old and ignores
    # the image: against the new image's defaults the container's MODE reads as "new", which differs
    add(engine, {})
    kept_on_old = {"comparisons": {"image": "ignore"}, "env": {"MODE": "old"}}
    desired = planned(engine, **kept_on_old)
    assert desired.actions() == ["recreate", "start"]
    assert desired.differences == [{"option": "env", "before": {"MODE": "new"}, "after": {"MODE": "old"},
                                    "update": "recreate"}]
    assert planned(engine, **kept_on_old, image_comparison="desired-image").actions() == desired.actions()


def test_current_image_compares_against_the_containers_own_image(engine: Engine) -> None:
    add(engine, {})
    current = planned(engine, comparisons={"image": "ignore"}, env={"MODE": "old"}, image_comparison="current-image")
    assert current.actions() == [] and current.differences == []
    # and a command stated as the old image's CMD is no drift either
    assert planned(engine, comparisons={"image": "ignore"}, command=["sleep", "300"],
                   image_comparison="current-image").actions() == []
    assert planned(engine, comparisons={"image": "ignore"}, command=["sleep", "300"]).actions() == ["recreate",
                                                                                                    "start"]


def test_current_image_falls_back_to_the_tasks_when_the_containers_image_is_gone(engine: Engine) -> None:
    add(engine, {}, image_id_="sha256:" + "0" * 64)
    gone = planned(engine, comparisons={"image": "ignore"}, env={"MODE": "new"}, image_comparison="current-image")
    assert gone.differences == []   # compared with the new image's MODE=new, as desired-image would


def test_a_new_container_uses_the_tasks_image_whatever_the_comparison(engine: Engine) -> None:
    assert planned(engine, image_comparison="current-image").actions() == ["create", "start"]


# -- command_handling ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "handled"), [
    ({"command": ["/app/serve", "--port 8080"]}, {"command": ["/app/serve", "--port", "8080"]}),
    ({"command": "/app/serve --port '80 80'"}, {"command": ["/app/serve", "--port", "80 80"]}),
    ({"command": [], "entrypoint": []}, {}),
    ({"command": "  "}, {}),
    ({"entrypoint": ["/bin/sh -c"], "env": {"A": "1"}}, {"entrypoint": ["/bin/sh", "-c"], "env": {"A": "1"}}),
])
def test_compatibility_joins_then_splits_and_drops_empty_values(given: dict[str, Any],
                                                                handled: dict[str, Any]) -> None:
    assert options.handle_commands(given, "compatibility") == handled


def test_correct_keeps_what_is_given() -> None:
    given = {"command": ["/app/serve", "--port 8080"], "entrypoint": []}
    assert options.handle_commands(given, "correct") is given
    assert options.handle_commands(given, None) is given


def test_bad_handling_and_unsplittable_entrypoint_name_their_option() -> None:
    with pytest.raises(InvalidInput) as bad:
        options.handle_commands({}, "sometimes")
    assert bad.value.field == "command_handling" and "correct or compatibility" in str(bad.value)
    with pytest.raises(InvalidInput) as unbalanced:
        options.handle_commands({"entrypoint": ["sh", "-c 'echo"]}, "compatibility")
    assert unbalanced.value.field == "entrypoint" and "give entrypoint as a list" in str(unbalanced.value)


def test_compatibility_reads_a_legacy_list_as_the_container_it_made(engine: Engine) -> None:
    add(engine, {"command": ["/app/serve", "--port", "8080"]}, image=NEW)
    legacy = {"command": ["/app/serve", "--port 8080"]}
    assert planned(engine, **legacy, command_handling="compatibility").actions() == []
    assert planned(engine, **legacy).actions() == ["recreate", "start"]   # correct: one argument "--port 8080"


def test_an_empty_command_overrides_the_image_unless_compatibility(engine: Engine) -> None:
    add(engine, {}, image=NEW)   # runs the image's CMD, sleep 600
    assert planned(engine, command=[], command_handling="compatibility").actions() == []
    correct = planned(engine, command=[])
    assert correct.actions() == ["recreate", "start"]
    assert correct.differences[0]["option"] == "command" and correct.differences[0]["after"] == []
