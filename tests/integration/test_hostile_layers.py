"""Hostile images from a registry: crafted layer tars on top of busybox, pushed
with skopeo to the test registry, pulled through the engine and through the
`image` module, one run as a container. After each: the host canary is as it
was, nothing was planted beside it, no half-made snapshot is left, and the
engine still answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import RegistryOptions
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.image.pull import Puller
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.service import make_client
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.image.unpack import MAX_PATH_DEPTH
from tests.support.hostile import Canary, Entry, hostile_layout, tar_layer
from tests.support.images import push
from tests.support.networks import drop_networks
from tests.support.playbook import run_playbook, write_playbook
from tests.support.runtime import REPO, mounts_under

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="integration tests need root")


def _cases(host: Path) -> dict[str, tuple[list[Entry], str | None]]:
    """name -> (entries of the hostile layer, None if the pull succeeds harmlessly
    or a fragment of the InvalidInput it must fail with)."""
    return {
        "root-symlink": ([Entry(".", kind="symlink", link=str(host)), Entry("planted", data=b"owned"),
                          Entry(".wh.canary"), Entry("canary", data=b"overwritten")], None),
        "root-file": ([Entry("x/..", data=b"root as a file"), Entry("planted", data=b"owned")], None),
        "symlink-parent": ([Entry("loophole", kind="symlink", link=str(host)),
                            Entry("loophole/planted", data=b"owned"), Entry("loophole/.wh.canary"),
                            Entry("loophole/.wh..wh..opq"),
                            Entry("dotdot", kind="symlink", link="../../../../../../../.." + str(host)),
                            Entry("dotdot/planted2", data=b"owned")], None),
        "hardlink-out": ([Entry("h", kind="hardlink", link=f"{host}/canary")], "not an earlier file"),
        "hardlink-via-symlink": ([Entry("up", kind="symlink", link=str(host)),
                                  Entry("h", kind="hardlink", link="up/canary")], "not an earlier file"),
        "dotdot-name": ([Entry("../../../../../../" + str(host).lstrip("/") + "/planted", data=b"x")],
                        "outside the layer"),
        "too-deep": ([Entry("/".join(["d"] * (MAX_PATH_DEPTH + 1)), data=b"x")], "directories deep"),
        "huge-xattr": ([Entry("f", data=b"x", pax={"SCHILY.xattr.user.big": "v" * 70_000})], "xattr"),
    }


@pytest.fixture
def host(tmp_path: Path) -> Canary:
    return Canary.plant(tmp_path / "host")


def _pushed(tmp_path: Path, registry: Any, busybox_image: Any, case: str, entries: list[Entry]) -> str:
    image = hostile_layout(tmp_path / "layouts", [tar_layer(entries)], base=busybox_image, tag=case)
    push(image, registry, f"evil/{case}", "1")
    return f"{registry.host}/evil/{case}:1"


def _pull(root: Path, name: str) -> None:
    engine = Engine.open(root / "state", root / "run")
    ref = parse_reference(name)
    Puller(ImageStore(engine), make_client(ref.registry, RegistryOptions())).pull(ref)


def _assert_host_and_store_fine(host: Canary, root: Path) -> None:
    assert host.intact()
    engine = Engine.open(root / "state", root / "run")  # opens (and recovers) without error
    assert list(engine.snapshots.active_dir.glob("*")) == []
    for info in engine.snapshots.list():
        assert not info.fs.is_symlink() and info.fs.is_dir()
    ImageStore(engine).list()  # still answers


def test_hostile_layers_through_the_engine(tmp_path: Path, registry: Any, busybox_image: Any, host: Canary) -> None:
    for case, (entries, error) in _cases(host.directory).items():
        name = _pushed(tmp_path, registry, busybox_image, case, entries)
        root = tmp_path / f"engine-{case}"
        if error is None:
            _pull(root, name)
            store = ImageStore(Engine.open(root / "state", root / "run"))
            assert store.complete(store.resolve(name)), case
        else:
            with pytest.raises(InvalidInput, match=error):
                _pull(root, name)
        _assert_host_and_store_fine(host, root)


def _defaults(root: Path) -> dict[str, Any]:
    return {"group/berth.engine.all": {"state_root": str(root / "state"), "run_root": str(root / "run")}}


@pytest.mark.parametrize("case", ["root-symlink", "hardlink-out", "too-deep"])
def test_hostile_layers_through_the_image_module(tmp_path: Path, registry: Any, busybox_image: Any, host: Canary,
                                                 case: str) -> None:
    entries, error = _cases(host.directory)[case]
    name = _pushed(tmp_path, registry, busybox_image, case, entries)
    root = tmp_path / "module"
    play = write_playbook(tmp_path, [{"berth.engine.image": {"name": name}}], module_defaults=_defaults(root))
    result = run_playbook(play)
    assert "Traceback" not in result.output, result.output[-3000:]
    if error is None:
        assert result.failed == 0 and result.changed == 1, result.output[-3000:]
    else:
        assert result.failed == 1 and error in result.output, result.output[-3000:]
    _assert_host_and_store_fine(host, root)


def _berth(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    prefix = [sys.executable, str(REPO / "bin" / "berth"), "--state-root", str(root / "state"),
              "--run-root", str(root / "run")]
    return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120, check=False)


def test_a_hostile_image_runs_contained(tmp_path: Path, registry: Any, busybox_image: Any, host: Canary) -> None:
    entries, _error = _cases(host.directory)["symlink-parent"]
    name = _pushed(tmp_path, registry, busybox_image, "run-me", entries)
    root = tmp_path / "run-engine"
    _pull(root, name)
    try:
        result = _berth(root, "run", "--name", "evil", name, "sh", "-c",
                        f"cat /loophole/planted {host.directory}/planted; ls /; echo done")
        assert result.returncode == 0 and "done" in result.stdout, result.stderr
        assert "owned" in result.stdout  # the planted file is inside the container, where it belongs
    finally:
        _berth(root, "rm", "-f", "evil")
        drop_networks(Engine.open(root / "state", root / "run"))
    listed = _berth(root, "ps", "-a", "--json")
    assert listed.returncode == 0 and "evil" not in json.loads(listed.stdout or "{}")
    _assert_host_and_store_fine(host, root)
    assert not mounts_under(tmp_path)
