"""`docker commit` of real containers (busybox fixture): the new image runs
and sees the container's changes; a running container is paused for the
commit and resumed; changes are Docker's; a refused change stores nothing."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.build import commit as commit_module
from ansible_collections.berth.engine.plugins.module_utils.build.commit import apply_changes, commit_container
from ansible_collections.berth.engine.plugins.module_utils.containers.service import ContainerService
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, NotFound
from ansible_collections.berth.engine.plugins.module_utils.image.archive import load_archive, save_archive
from ansible_collections.berth.engine.plugins.module_utils.image.assemble import image_config
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.cli import BerthCli
from tests.support.cli_root import cli_root
from tests.support.images import OciImage
from tests.support.peers import needs_peer
from tests.support.runtime import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/busybox"   # tagged as the fixture layout names it


class Box(BerthCli):
    engine: Engine
    image: str


@pytest.fixture
def box(tmp_path: Path, busybox_image: OciImage) -> Iterator[Box]:
    tool = Box(tmp_path)
    with cli_root(tool, tmp_path) as engine:
        tool.engine = engine
        load_archive(ImageStore(engine), busybox_image.layout, parse_reference(f"{IMAGE}:{busybox_image.tag}"))
        tool.image = f"{IMAGE}:{busybox_image.tag}"
        yield tool


def _store_contents(engine: Engine) -> tuple[Any, ...]:
    tmp = sorted(p.name for p in engine.layout.tmp.iterdir()) if engine.layout.tmp.exists() else []
    return (engine.blobs.list(), sorted(s.chain_id for s in engine.snapshots.list()),
            sorted(r.id for r in ImageStore(engine).list()), tmp)


def test_commit_of_a_stopped_container_runs_with_its_changes(box: Box) -> None:
    box("run", "--network", "none", "--name", "c", box.image, "sh", "-c", "echo hi > /f; rm /etc/motd")
    record = commit_container(box.engine, "c", changes=['CMD ["cat", "/f"]', "ENV DEBUG=1 WHERE=$PATH"],
                              message="debug", author="ops", pause=True, tag=parse_reference("local/debug:1"))
    assert record.source == "commit" and record.repo_tags == ["docker.io/local/debug:1"]
    doc = image_config(ImageStore(box.engine), record)
    assert doc["config"]["Cmd"] == ["cat", "/f"]
    env = dict(item.split("=", 1) for item in doc["config"]["Env"])
    assert env["DEBUG"] == "1" and env["WHERE"] == env.get("PATH", "")
    assert doc["author"] == "ops"
    last = doc["history"][-1]
    assert (last["created_by"], last["author"], last["comment"]) == ("sh -c echo hi > /f; rm /etc/motd", "ops", "debug")
    assert "empty_layer" not in last and len(doc["rootfs"]["diff_ids"]) == len(record.layers)
    assert box("run", "--rm", "--network", "none", "local/debug:1").stdout == "hi\n"
    seen = box("run", "--rm", "--network", "none", "local/debug:1", "sh", "-c",
               "ls /etc/motd 2>/dev/null || echo gone").stdout
    assert seen == "gone\n"
    top = box.engine.snapshots.lowerdirs(record.top_chain_id)[0]
    assert sorted(os.listdir(top)) == ["etc", "f"]          # no /proc, /dev, /etc/hosts stubs
    assert sorted(os.listdir(top / "etc")) == ["motd"]      # the whiteout, as overlay wants it


def test_running_container_is_paused_then_resumed(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    box("run", "-d", "--network", "none", "--name", "r", box.image, "sh", "-c", "echo run > /r; exec sleep 300")
    assert wait_for(lambda: box.inspect("r")["state"]["status"] == "running", timeout=10)
    written = box.state / "containers" / box.inspect("r")["id"] / "bundle" / "upper" / "r"
    assert wait_for(written.exists, timeout=10)
    calls: list[tuple[bool, bool]] = []
    real = ContainerService.pause

    def spy(self: ContainerService, ref: str, paused: bool) -> dict[str, Any]:
        result = real(self, ref, paused)
        calls.append((paused, bool(result["state"]["paused"])))
        return result

    monkeypatch.setattr(ContainerService, "pause", spy)
    record = commit_container(box.engine, "r", pause=True, tag=None)
    assert calls == [(True, True), (False, False)]
    assert record.repo_tags == [] and box.inspect("r")["state"]["status"] == "running"
    assert box("run", "--rm", "--network", "none", record.id, "cat", "/r").stdout == "run\n"
    calls.clear()
    commit_container(box.engine, "r", pause=False, tag=None)
    assert calls == []


def test_resumed_also_when_the_layer_fails(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    box("run", "-d", "--network", "none", "--name", "r", box.image, "sleep", "300")
    assert wait_for(lambda: box.inspect("r")["state"]["status"] == "running", timeout=10)
    before = _store_contents(box.engine)

    def broken(*_args: object, **_kw: object) -> int:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(commit_module, "diff_upper", broken)
    with pytest.raises(OSError):
        commit_container(box.engine, "r", pause=True, tag=parse_reference("local/x:1"))
    state = box.inspect("r")["state"]
    assert state["status"] == "running" and not state["paused"]
    assert _store_contents(box.engine) == before


def test_unchanged_container_commits_an_empty_layer_entry(box: Box) -> None:
    box("run", "--network", "none", "--name", "same", box.image, "true")
    parent = ImageStore(box.engine).resolve(box.image)
    record = commit_container(box.engine, "same", tag=None)
    assert [x.digest for x in record.layers] == [x.digest for x in parent.layers]
    assert image_config(ImageStore(box.engine), record)["history"][-1]["empty_layer"] is True


def test_refused_change_and_unknown_container_store_nothing(box: Box) -> None:
    box("run", "--network", "none", "--name", "c", box.image, "sh", "-c", "echo hi > /f")
    before = _store_contents(box.engine)
    for change in ("RUN echo no", "COPY a /b", "FROM busybox"):
        with pytest.raises(InvalidInput, match="is not a valid change command") as info:
            commit_container(box.engine, "c", changes=["ENV A=1", change], tag=parse_reference("local/no:1"))
        assert info.value.field == "commit.changes" and "STOPSIGNAL" in (info.value.hint or "")
    with pytest.raises(InvalidInput) as bad:
        commit_container(box.engine, "c", changes=['EXPOSE notaport'], tag=None)
    assert bad.value.field == "commit.changes"
    with pytest.raises(NotFound) as missing:
        commit_container(box.engine, "nope", tag=None)
    assert missing.value.field == "commit.container"
    assert _store_contents(box.engine) == before


def test_changes_follow_docker() -> None:
    doc: dict[str, Any] = {"config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "WorkingDir": "/app"},
                           "rootfs": {"diff_ids": []}, "history": []}
    apply_changes(doc, ['ENTRYPOINT ["/bin/run"]', "WORKDIR sub", "EXPOSE 80 53/udp", "LABEL a=b",
                        "VOLUME /data", "USER 1000:1000", "STOPSIGNAL SIGINT", "ONBUILD RUN echo hi",
                        "HEALTHCHECK --interval=5s CMD true"])
    config = doc["config"]
    assert config["Entrypoint"] == ["/bin/run"] and not config.get("Cmd")   # ENTRYPOINT resets the CMD
    assert config["WorkingDir"] == "/app/sub"
    assert set(config["ExposedPorts"]) == {"80/tcp", "53/udp"}
    assert config["Labels"] == {"a": "b"} and config["Volumes"] == {"/data": {}}
    assert (config["User"], config["StopSignal"]) == ("1000:1000", "SIGINT")
    assert config["OnBuild"] == ["RUN echo hi"]
    assert config["Healthcheck"]["Interval"] == 5_000_000_000
    both: dict[str, Any] = {"config": {"Cmd": ["sh"]}, "history": []}
    apply_changes(both, ['CMD ["a"]', 'ENTRYPOINT ["b"]'])
    assert both["config"]["Cmd"] == ["a"] and both["config"]["Entrypoint"] == ["b"]


@needs_peer("umoci")
def test_committed_image_unpacks_with_umoci(box: Box, tmp_path: Path) -> None:
    """A peer reads the layer: Go's gzip, the .wh. whiteouts, the config."""
    box("run", "--network", "none", "--name", "c", box.image, "sh", "-c", "echo hi > /f; rm /etc/motd")
    record = commit_container(box.engine, "c", changes=["ENV A=1"], tag=parse_reference("local/peer:1"))
    archive = tmp_path / "peer.tar"
    save_archive(ImageStore(box.engine), record, archive, "oci", parse_reference("local/peer:1"))
    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(layout, filter="tar")
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:1", str(bundle)], check=True, capture_output=True)
    rootfs = bundle / "rootfs"
    assert (rootfs / "f").read_text() == "hi\n"
    assert not (rootfs / "etc" / "motd").exists() and (rootfs / "etc" / "passwd").exists()
    assert "A=1" in json.loads((bundle / "config.json").read_text())["process"]["env"]
