"""The engine turns an image plus a container's wishes into an OCI bundle whose
root is an overlay of the image's snapshots; runc and berth-runtime both run it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.containers.bundle import (
    BundleRequest,
    plan_bundle,
    write_bundle,
)
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, NotFound
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.peers import needs_peer
from tests.support.runtime import berth, container_leaks, make_rootfs, mounts_under, runc

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/probe:1"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    base = tmp_path_factory.mktemp("bundle-engine")
    rootfs = make_rootfs(base / "src")
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
                                           "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\napp:x:1000:\naudio:x:29:app\nstaff:x:50:app\n")
    (rootfs / "home" / "app").mkdir(parents=True)
    os.chown(rootfs / "home" / "app", 1000, 1000)
    engine = Engine.open(base / "state", base / "run")
    config = ImportConfig(cmd=["sh", "-c", "id"], env={"FROM_IMAGE": "yes"}, working_dir="/home/app", user="app")
    import_rootfs(ImageStore(engine), rootfs, config, parse_reference(IMAGE))
    return engine


def _run(tool: str, directory: Path, cid: str) -> tuple[int, str]:
    runner = berth if tool == "berth" else runc
    result = runner(directory.parent / f"{tool}-root", "run", "--bundle", str(directory), cid)
    assert not container_leaks(cid, directory.parent / f"{tool}-root")
    return result.returncode, result.stdout + result.stderr


def test_image_defaults_and_user_resolution(engine: Engine, tmp_path: Path) -> None:
    config = plan_bundle(engine, "berth-b1", BundleRequest(image=IMAGE), tmp_path / "b")
    process = config["process"]
    assert process["args"] == ["sh", "-c", "id"]
    assert process["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [29, 50]}
    assert process["cwd"] == "/home/app"
    assert "FROM_IMAGE=yes" in process["env"] and "HOME=/home/app" in process["env"]
    assert process["capabilities"]["effective"] == []          # non-root: no effective caps, like Docker
    assert config["mounts"][0]["destination"] == "/" and config["mounts"][0]["type"] == "overlay"
    assert config["hostname"] == "berth-b1"
    assert not (tmp_path / "b").exists(), "planning writes nothing"


def test_entrypoint_and_command_follow_docker(engine: Engine, tmp_path: Path) -> None:
    def args(**kw: object) -> list[str]:
        return plan_bundle(engine, "x", BundleRequest(image=IMAGE, **kw), tmp_path)["process"]["args"]

    assert args(command=["echo", "hi"]) == ["echo", "hi"]
    assert args(entrypoint=["/bin/echo"]) == ["/bin/echo"], "a new entrypoint drops the image's CMD"
    assert args(entrypoint=["/bin/echo"], command=["a"]) == ["/bin/echo", "a"]


@pytest.mark.parametrize(("request_args", "field"), [
    ({"user": "nosuchuser"}, "user"),
    ({"user": "app:nosuchgroup"}, "user"),
    ({"working_dir": "relative/dir"}, "working_dir"),
    ({"command": [], "entrypoint": []}, "command"),
    ({"cap_add": ["NOT_A_CAP"]}, "cap_add"),
])
def test_bad_requests_name_the_field(engine: Engine, tmp_path: Path, request_args: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        write_bundle(engine, "berth-bad", BundleRequest(image=IMAGE, **request_args), tmp_path / "b")
    assert caught.value.field == field and caught.value.hint
    assert not (tmp_path / "b").exists(), "nothing half-made"


def test_missing_image(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        plan_bundle(engine, "x", BundleRequest(image="local/absent:1"), tmp_path)


@needs_peer("runc")
def test_berth_and_runc_run_the_engines_bundle_alike(engine: Engine, tmp_path: Path) -> None:
    script = "id; pwd; echo $FROM_IMAGE $EXTRA; echo written > /home/app/new; cat /home/app/new; hostname"
    outputs = {}
    for tool in ("runc", "berth"):
        directory = tmp_path / tool / "bundle"
        request = BundleRequest(image=IMAGE, command=["sh", "-c", script], env={"EXTRA": "given"}, hostname="web")
        write_bundle(engine, f"berth-bundle-{tool}", request, directory)
        code, outputs[tool] = _run(tool, directory, f"berth-bundle-{tool}")
        assert code == 0, outputs[tool]
        assert (directory / "upper" / "home" / "app" / "new").read_text() == "written\n", "writes go to upper"
        assert not mounts_under(tmp_path)
    assert outputs["berth"] == outputs["runc"]
    assert outputs["berth"].splitlines() == ["uid=1000(app) gid=1000(app) groups=29(audio),50(staff)",
                                             "/home/app", "yes given", "written", "web"]


def test_read_only_root(engine: Engine, tmp_path: Path) -> None:
    directory = tmp_path / "bundle"
    request = BundleRequest(image=IMAGE, user="root", read_only=True,
                            command=["sh", "-c", "touch /x 2>&1 || echo refused"])
    write_bundle(engine, "berth-bundle-ro", request, directory)
    code, output = _run("berth", directory, "berth-bundle-ro")
    assert code == 0 and "Read-only file system" in output and "refused" in output
