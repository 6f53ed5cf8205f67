"""Volumes and mounts on the real kernel, through the `berth` CLI: data that
outlives containers, copy-up, read-only, tmpfs limits, binds, propagation,
anonymous volumes, in-use refusal, prune, bad input — and nothing left mounted."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.integration.test_containers import Berth
from tests.support.networks import drop_networks
from tests.support.runtime import make_rootfs, mounts_under, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/vol:1"


@pytest.fixture
def berth(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Berth]:
    tool = Berth(tmp_path)
    rootfs = make_rootfs(tmp_path_factory.mktemp("box"))
    seed = rootfs / "opt" / "seed"
    seed.mkdir(parents=True)
    (seed / "hello.txt").write_text("from the image\n")
    os.chown(seed / "hello.txt", 1234, 1234)
    seed.chmod(0o750)
    engine = Engine.open(tool.state, tool.run)
    import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sh"], volumes=["/cache"]), parse_reference(IMAGE))
    tool.engine = engine  # type: ignore[attr-defined]
    yield tool
    for name in json.loads(tool("ps", "-a", "--json").stdout or "{}"):
        tool("rm", "-f", name, check=False)
    assert wait_for(lambda: tool.monitor_pid() is None, timeout=10), "the monitor did not exit"
    drop_networks(engine)
    for record in VolumeService(engine).list():
        VolumeService(engine).remove(record["name"])
    assert not mounts_under(tmp_path)


def sh(berth: Berth, script: str, *volumes: str, name: str = "c", check: bool = True,
       extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    args = ["run", "--name", name, *extra]
    for item in volumes:
        args += ["--mount", item[2:]] if item.startswith("M:") else ["-v", item]
    result = berth(*args, IMAGE, "sh", "-c", script, check=False)
    berth("rm", "-f", name, check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def volumes(berth: Berth) -> dict[str, dict]:
    return {r["name"]: r for r in VolumeService(berth.engine).list()}  # type: ignore[attr-defined]


def test_data_outlives_containers_and_read_only_is_enforced(berth: Berth) -> None:
    sh(berth, "echo kept > /data/file", "data:/data", name="writer")
    assert sh(berth, "cat /data/file", "data:/data:ro", name="reader").stdout == "kept\n"
    denied = sh(berth, "echo x > /data/other", "data:/data:ro", name="reader", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    berth("create", "--name", "holder", "-v", "data:/data", IMAGE, "true")
    assert VolumeService(berth.engine).users("data") == ["holder"]  # type: ignore[attr-defined]
    assert sh(berth, "cat /data/file", "data:/data", name="again").stdout == "kept\n"  # a new container
    assert volumes(berth)["data"]["anonymous"] is False


def test_copy_up_fills_an_empty_volume_unless_no_copy(berth: Berth) -> None:
    out = sh(berth, "cat /opt/seed/hello.txt; stat -c '%u %a' /opt/seed /opt/seed/hello.txt", "seeded:/opt/seed")
    assert out.stdout.splitlines() == ["from the image", "0 750", "1234 644"]
    assert sh(berth, "ls -A /opt/seed", "M:type=volume,source=bare,target=/opt/seed,volume-nocopy").stdout == ""
    # a volume with content is never overwritten by a later copy-up
    sh(berth, "echo mine > /opt/seed/hello.txt", "seeded:/opt/seed")
    assert sh(berth, "cat /opt/seed/hello.txt", "seeded:/opt/seed").stdout == "mine\n"


def test_image_volume_is_anonymous_and_goes_only_when_asked(berth: Berth) -> None:
    berth("run", "--name", "a", IMAGE, "sh", "-c", "echo x > /cache/f")
    record = berth.inspect("a")
    cache = next(m for m in record["config"]["mounts"] if m["target"] == "/cache")
    assert cache["anonymous"] and len(cache["source"]) == 64
    upper = berth.state / "containers" / record["id"] / "bundle" / "upper"
    assert not (upper / "cache" / "f").exists(), "VOLUME keeps writes out of the container's layer"
    assert (VolumeService(berth.engine).mountpoint(cache["source"]) / "f").exists()  # type: ignore[attr-defined]
    berth("rm", "a")
    assert cache["source"] in volumes(berth), "rm without -v keeps the anonymous volume"
    berth("run", "--name", "b", IMAGE, "true")
    other = next(m for m in berth.inspect("b")["config"]["mounts"] if m["target"] == "/cache")["source"]
    berth("rm", "-v", "b")
    assert other not in volumes(berth) and cache["source"] in volumes(berth)
    berth("run", "--rm", "--name", "c", IMAGE, "true")
    assert set(volumes(berth)) == {cache["source"]}, "run --rm takes its anonymous volumes along"
    pruned, freed = VolumeService(berth.engine).prune(all_volumes=False)  # type: ignore
    assert pruned == [cache["source"]] and freed > 0 and not volumes(berth)


def test_tmpfs_mount_size_is_enforced(berth: Berth) -> None:
    out = sh(berth, "dd if=/dev/zero of=/scratch/f bs=1024 count=2048 2>&1; stat -c %a /scratch; df -k /scratch",
             "M:type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1770", check=False)
    assert "No space left on device" in out.stdout
    assert out.stdout.splitlines()[-3] == "1770"
    assert out.stdout.splitlines()[-1].split()[1] == "1024"


def test_bind_file_dir_and_missing_source(berth: Berth, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("hi\n")
    conf = tmp_path / "app.conf"
    conf.write_text("key=1\n")
    out = sh(berth, "cat /www/index.html /etc/app.conf; echo new > /www/added",
             f"{site}:/www", f"M:type=bind,source={conf},target=/etc/app.conf,readonly")
    assert out.stdout == "hi\nkey=1\n" and (site / "added").read_text() == "new\n"
    denied = sh(berth, "echo 2 > /etc/app.conf", f"M:type=bind,source={conf},target=/etc/app.conf,readonly",
                check=False)
    assert denied.returncode != 0 and conf.read_text() == "key=1\n"
    missing = berth("run", "--name", "m", "--mount", f"type=bind,source={tmp_path}/nope,target=/x", IMAGE, "true",
                    check=False)
    assert missing.returncode == 125 and "bind source" in missing.stderr and "does not exist" in missing.stderr
    assert berth("inspect", "m", check=False).returncode == 1, "nothing half-created"
    sh(berth, "true", f"{tmp_path}/made:/made")
    assert (tmp_path / "made").is_dir(), "the short syntax creates a missing host dir, like docker run -v"


def test_rshared_propagation_of_a_host_mount_made_after_start(berth: Berth, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(shared), str(shared)], check=True)
    try:
        subprocess.run(["mount", "--make-rshared", str(shared)], check=True)
        berth("run", "-d", "--name", "p", "-v", f"{shared}:/mnt:rshared", IMAGE, "sleep", "60")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "late", str(shared / "sub")], check=True)
        (shared / "sub" / "marker").write_text("late\n")
        out = berth("exec", "p", "cat", "/mnt/sub/marker")
        assert out.stdout == "late\n"
        berth("rm", "-f", "p")
    finally:
        subprocess.run(["umount", "-R", str(shared)], check=False)
    private = tmp_path / "private"
    private.mkdir()
    refused = berth("run", "--name", "q", "-v", f"{private}:/mnt:rshared", IMAGE, "true", check=False)
    assert refused.returncode == 125 and "make-rshared" in refused.stderr


def test_in_use_refusal_and_driver_option_volumes(berth: Berth) -> None:
    service = VolumeService(berth.engine)  # type: ignore[attr-defined]
    service.create("fast", options={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    berth("create", "--name", "user", "-v", "fast:/fast", IMAGE, "sh", "-c", "df -k /fast")
    assert os.path.ismount(service.mountpoint("fast"))
    with pytest.raises(Exception, match="in use by user"):
        service.remove("fast")
    berth("start", "user")
    assert wait_for(lambda: berth.inspect("user")["state"]["status"] == "exited", timeout=10)
    assert berth("logs", "user").stdout.splitlines()[-1].split()[1] == "1024"
    berth("rm", "user")
    assert service.remove("fast") and not os.path.ismount(service.mountpoint("fast"))
    assert not service.mountpoint("fast").parent.exists()


@pytest.mark.parametrize("args, words", [
    (["-v", "bad name:/x"], "not a valid volume name"),
    (["-v", "vol:/x", "--mount", "type=tmpfs,target=/x"], "/x is mounted twice"),
    (["-v", "vol:/x:rw,bogus"], "unknown option 'bogus'"),
    (["--mount", "type=volume,source=vol,target=/x,size=1"], "unknown key 'size'"),
    (["-v", "vol:x"], "must be absolute"),
])
def test_bad_input_creates_nothing(berth: Berth, args: list[str], words: str) -> None:
    result = berth("run", "--name", "bad", *args, IMAGE, "true", check=False)
    assert result.returncode == 125 and words in result.stderr, result.stderr
    assert berth("inspect", "bad", check=False).returncode == 1
    assert not volumes(berth)


def test_volume_verbs(berth: Berth) -> None:
    berth("volume", "create", "v1", "-l", "app=x", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m")
    assert [(r["Name"], r["Driver"]) for r in json.loads(berth("volume", "ls", "--json").stdout)] == [("v1", "local")]
    [facts] = json.loads(berth("volume", "inspect", "v1").stdout)
    assert facts["Labels"] == {"app": "x"} and facts["Options"]["type"] == "tmpfs"
    assert VolumeService(berth.engine).users("v1") == []  # type: ignore[attr-defined]
    bad = berth("volume", "create", "v2", "-o", "size=1m", check=False)
    assert bad.returncode == 1 and "unknown driver options ['size']" in bad.stderr
    berth("volume", "rm", "v1")
    assert berth("volume", "rm", "v1", check=False).returncode == 1
    assert json.loads(berth("volume", "prune", "-a", "-f", "--json").stdout)["deleted"] == []
