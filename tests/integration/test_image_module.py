"""The image module against a real registry, with images made by umoci/skopeo."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.images import push
from tests.support.playbook import (
    assert_converges,
    assert_failed_cleanly,
    record_task,
    recorded,
    recording_play,
    run_playbook,
    write_playbook,
)
from tests.support.registry import start_registry

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="integration tests need root")


def _defaults(tmp_path: Path) -> dict[str, Any]:
    return {"group/berth.engine.all": {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run")}}


def _skopeo_digest(ref: str) -> str:
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{ref}"],
                         capture_output=True, check=True).stdout
    import hashlib

    return "sha256:" + hashlib.sha256(out).hexdigest()


def test_pull_converges_and_matches_the_registry(tmp_path: Path, registry: Any, busybox_image: Any) -> None:
    digest = push(busybox_image, registry, "test/busybox", "1.0")
    name = f"{registry.host}/test/busybox:1.0"
    play = write_playbook(tmp_path, [
        {"name": "pull", "berth.engine.image": {"name": name}, "register": "pulled"},
    ], module_defaults=_defaults(tmp_path))
    assert_converges(play)

    store = ImageStore(Engine.open(tmp_path / "state", tmp_path / "run"))
    record = store.resolve(name)
    assert record.manifest_digest == digest == _skopeo_digest(name)
    assert f"{registry.host}/test/busybox@{digest}" in record.repo_digests
    assert store.complete(record)
    # the unpacked layer really holds busybox
    fs = Path(store.engine.snapshots.info(record.top_chain_id).fs)
    assert (fs / "bin" / "busybox").stat().st_size > 100_000
    assert os.readlink(fs / "bin" / "sh") in ("busybox", "/bin/busybox")


def test_pull_always_follows_a_moved_tag(tmp_path: Path, registry: Any, busybox_image: Any,
                                         multilayer_image: Any) -> None:
    push(busybox_image, registry, "test/moving", "v")
    name = f"{registry.host}/test/moving:v"
    play = write_playbook(tmp_path, [{"berth.engine.image": {"name": name, "pull": "always"},
                                      "register": "img"}], module_defaults=_defaults(tmp_path))
    first = run_playbook(play)
    assert first.failed == 0 and first.changed == 1, first.output[-3000:]
    again = run_playbook(play)
    assert again.changed == 0, again.output[-3000:]
    check = run_playbook(play, check=True)
    assert check.changed == 0 and "cannot know" in check.output
    push(multilayer_image, registry, "test/moving", "v")
    moved = run_playbook(play)
    assert moved.failed == 0 and moved.changed == 1, moved.output[-3000:]
    store = ImageStore(Engine.open(tmp_path / "state", tmp_path / "run"))
    assert store.resolve(name).id == multilayer_image.config_digest
    assert len(store.dangling()) == 1  # the old image lost its tag, like docker


def test_push_round_trip_keeps_the_digest(tmp_path: Path, registry: Any, multilayer_image: Any) -> None:
    push(multilayer_image, registry, "src/multi", "1")
    src = f"{registry.host}/src/multi:1"
    dst = f"{registry.host}/dst/multi:1"
    # one task: a first check run plans the pull, the tag and the push the apply then makes
    play = write_playbook(tmp_path, [
        {"berth.engine.image": {"name": src, "repository": dst, "push": True}},
    ], module_defaults=_defaults(tmp_path))
    assert_converges(play)
    store = ImageStore(Engine.open(tmp_path / "state", tmp_path / "run"))
    assert _skopeo_digest(dst) == store.resolve(src).manifest_digest == _skopeo_digest(src)
    # pulling the pushed copy into a fresh store gives the same image ID
    fresh = tmp_path / "fresh"
    play2 = write_playbook(tmp_path, [{"berth.engine.image": {"name": dst}}], name="fresh.yml",
                           module_defaults={"group/berth.engine.all": {"state_root": str(fresh / "s"),
                                                                       "run_root": str(fresh / "r")}})
    assert run_playbook(play2).failed == 0
    assert ImageStore(Engine.open(fresh / "s", fresh / "r")).resolve(dst).id == multilayer_image.config_digest


def test_shared_base_layers_are_stored_once(tmp_path: Path, registry: Any, busybox_image: Any,
                                            multilayer_image: Any) -> None:
    push(busybox_image, registry, "share/a", "1")
    push(multilayer_image, registry, "share/b", "1")
    play = write_playbook(tmp_path, [
        {"berth.engine.image": {"name": f"{registry.host}/share/a:1"}},
        {"berth.engine.image": {"name": f"{registry.host}/share/b:1"}},
        {"berth.engine.image_info": {"disk_usage": True}, "register": "df"}, record_task(["df"]),
    ], module_defaults=_defaults(tmp_path))
    assert run_playbook(play).failed == 0
    usage = recorded(tmp_path)[0]["usage"]
    a, b = (ImageStore(Engine.open(tmp_path / "state", tmp_path / "run")).resolve(f"{registry.host}/share/{n}:1")
            for n in "ab")
    shared = set(a.chain_ids) & set(b.chain_ids)
    assert usage["images"] == 2
    assert usage["shared_layers"] == len(shared)
    assert usage["layers"] == len(set(a.chain_ids) | set(b.chain_ids))
    if shared:
        assert usage["shared_bytes"] > 0
    # du agrees: b alone already holds a's only layer, so adding a costs just its manifest and config
    only_b = tmp_path / "only-b"
    play_b = write_playbook(tmp_path, [{"berth.engine.image": {"name": f"{registry.host}/share/b:1"}}],
                            name="b.yml", module_defaults={"group/berth.engine.all": {
                                "state_root": str(only_b / "state"), "run_root": str(only_b / "run")}})
    assert run_playbook(play_b).failed == 0
    both, alone = _du(tmp_path / "state"), _du(only_b / "state")
    assert 0 <= both - alone < 64 * 1024, (both, alone)


def _du(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def test_absent_untags_then_removes_and_collects_layers(tmp_path: Path, registry: Any, busybox_image: Any) -> None:
    push(busybox_image, registry, "rm/me", "1")
    name = f"{registry.host}/rm/me:1"
    pull = write_playbook(tmp_path, [
        {"berth.engine.image": {"name": name}},
        {"berth.engine.image": {"name": name, "source": "local", "repository": f"{registry.host}/rm/me:2"}},
    ], name="pull.yml", module_defaults=_defaults(tmp_path))
    assert run_playbook(pull).failed == 0
    # one play per removal: in one play, a check run's second task would still see the first tag. Untagging
    # converges through check and apply runs in test_plans_check_vs_apply.py; here the last tag's removal does.
    untag = write_playbook(tmp_path, [{"berth.engine.image": {"name": f"{registry.host}/rm/me:1", "state": "absent"}}],
                           name="rm1.yml", module_defaults=_defaults(tmp_path))
    untagged = run_playbook(untag)
    assert untagged.changed == 1 and untagged.berth_tasks()[0]["actions"][0].startswith("untagged: "), \
        untagged.output[-3000:]
    remove = write_playbook(tmp_path, [{"berth.engine.image": {"name": f"{registry.host}/rm/me:2", "state": "absent"}}],
                            name="rm2.yml", module_defaults=_defaults(tmp_path))
    assert assert_converges(remove)[1].berth_tasks()[0]["actions"][0].startswith("deleted: ")
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    assert ImageStore(engine).list() == []
    assert engine.snapshots.list() == [] and engine.blobs.list() == []


def test_bad_tasks_fail_with_their_message_and_leave_the_store_as_it_was(
        tmp_path: Path, registry: Any, busybox_image: Any) -> None:
    """A missing tag, a corrupt layer blob and an archive that is no tar, in one play (errors ignored): each
    fails with its message and no traceback, and nothing is stored (bad names and paths: unit tests)."""
    # Corrupt the layer blob inside a registry of its own: blobs are shared by every repository in it.
    own = start_registry(tmp_path / "own-registry")
    not_tar = tmp_path / "bad.tar"
    not_tar.write_bytes(b"not a tar archive at all" * 100)
    try:
        push(busybox_image, own, "bad/blob", "1")
        layer_hex = busybox_image.layer_digests[0].split(":", 1)[1]
        blob = next(Path(own.storage).rglob(f"blobs/sha256/{layer_hex[:2]}/{layer_hex}/data"))
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
        play = recording_play(tmp_path, [
            {"berth.engine.image": {"name": f"{registry.host}/nope/nothing:1"}, "ignore_errors": True},
            {"berth.engine.image": {"name": f"{own.host}/bad/blob:1"}, "ignore_errors": True},
            {"berth.engine.image": {"name": "bad/archive:1", "source": "load", "load_path": str(not_tar)},
             "ignore_errors": True},
        ], _defaults(tmp_path), "bad.yml")
        result = run_playbook(play)
    finally:
        own.stop()
    assert result.returncode == 0, result.output[-3000:]
    missing, corrupt, archive = recorded(tmp_path)
    assert_failed_cleanly(missing, "nope/nothing")
    assert missing["error"]["kind"] == "not_found"
    assert_failed_cleanly(corrupt)
    assert "digest" in corrupt["msg"] or "corrupt" in corrupt["msg"], corrupt
    assert_failed_cleanly(archive, "load_path", "not a tar archive")
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    assert ImageStore(engine).list() == []
    assert engine.snapshots.list() == [] and engine.blobs.list() == []
    assert not any(engine.layout.ingest.iterdir())
    assert not any((engine.layout.snapshots / "active").iterdir())
