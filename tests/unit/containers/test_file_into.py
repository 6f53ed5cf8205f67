"""containers/file_into.py and rootfs_mount.py on a directory standing in for a container's root: what a
path holds, symlinks resolved inside the root (never on the host), the atomic write with owner and mode,
and the detached overlay (real kernel: it must leave no mount behind)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.containers.file_into import (
    MAX_DIFF_BYTES,
    Source,
    inspect,
    normalise,
    real_path,
    write,
)
from ansible_collections.berth.engine.plugins.module_utils.containers.rootfs_mount import (
    detached_overlay,
    overlay_options,
)
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.saferoot import open_root

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="chown and mounts need root")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    container = tmp_path / "root"
    (container / "etc").mkdir(parents=True)
    (container / "data").mkdir()
    return container


@pytest.fixture
def root_fd(root: Path) -> Iterator[int]:
    fd = open_root(root)
    yield fd
    os.close(fd)


def test_normalise_folds_and_refuses() -> None:
    assert normalise("/etc//app/../app.conf") == "/etc/app.conf"
    assert normalise("/../../etc/x") == "/etc/x"
    for bad in ("etc/x", "/", "/.."):
        with pytest.raises(InvalidInput) as err:
            normalise(bad)
        assert err.value.field == "container_path"


def test_inspect_kinds(root: Path, root_fd: int) -> None:
    (root / "etc/app.conf").write_text("key = 1\n")
    (root / "etc/app.conf").chmod(0o640)
    (root / "data/bin").write_bytes(b"\x00\x01")
    (root / "data/big").write_bytes(b"a" * (MAX_DIFF_BYTES + 1))
    (root / "data/link").symlink_to("/etc/app.conf")
    os.mkfifo(root / "data/fifo")
    assert inspect(root_fd, "/etc/missing").kind == "absent"
    conf = inspect(root_fd, "/etc/app.conf", want_text=True)
    assert (conf.kind, conf.mode, conf.size, conf.text) == ("file", 0o640, 8, "key = 1\n")
    assert conf.digest == hashlib.sha256(b"key = 1\n").hexdigest()
    assert inspect(root_fd, "/data/bin", want_text=True).binary
    big = inspect(root_fd, "/data/big", want_text=True)
    assert big.larger and big.text is None and big.size == MAX_DIFF_BYTES + 1
    assert inspect(root_fd, "/data/link").target == "/etc/app.conf"   # not followed
    assert inspect(root_fd, "/data").kind == "directory"
    assert inspect(root_fd, "/data/fifo").kind == "other"   # never opened (it would block)


def test_missing_parent_names_the_option(root_fd: int) -> None:
    with pytest.raises(InvalidInput) as err:
        inspect(root_fd, "/no/such/file")
    assert err.value.field == "container_path" and "/no/such does not exist" in err.value.message


def test_links_resolve_inside_the_root(tmp_path: Path, root: Path, root_fd: int) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "canary").write_text("host\n")
    (root / "data/abs").symlink_to(host)                        # an absolute host path
    (root / "data/climb").symlink_to("../../../../../../data")  # climbs past the root: stops there
    (root / "data/file").symlink_to(host / "canary")
    assert real_path(root_fd, "/data/climb/x") == "/data/x"
    assert real_path(root_fd, "/data/file") == str(host / "canary")   # the same path, inside the root
    with pytest.raises(InvalidInput):   # that directory does not exist in the root
        write(root_fd, "/data/abs/canary", Source(content=b"evil"), mode=0o644, uid=0, gid=0)
    with pytest.raises(InvalidInput):
        write(root_fd, real_path(root_fd, "/data/file"), Source(content=b"evil"), mode=0o644, uid=0, gid=0)
    write(root_fd, "/data/file", Source(content=b"replaced"), mode=0o644, uid=os.getuid(), gid=os.getgid())
    assert (root / "data/file").read_bytes() == b"replaced" and not (root / "data/file").is_symlink()
    assert (host / "canary").read_text() == "host\n" and [p.name for p in host.iterdir()] == ["canary"]


def test_a_link_loop_is_an_error(root: Path, root_fd: int) -> None:
    (root / "data/a").symlink_to("b")
    (root / "data/b").symlink_to("a")
    with pytest.raises(InvalidInput) as err:
        real_path(root_fd, "/data/a")
    assert err.value.field == "container_path" and "loop" in err.value.message


@root_only
def test_write_is_atomic_with_owner_and_mode(root: Path, root_fd: int) -> None:
    (root / "etc/app.conf").write_text("old\n")
    write(root_fd, "/etc/app.conf", Source(content=b"new\n"), mode=0o4755, uid=1000, gid=1001)
    info = (root / "etc/app.conf").stat()
    assert (root / "etc/app.conf").read_text() == "new\n"
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o4755, 1000, 1001)   # setuid kept
    assert sorted(os.listdir(root / "etc")) == ["app.conf"]   # no temp file left


@root_only
def test_write_from_a_local_file_and_a_symlink(tmp_path: Path, root: Path, root_fd: int) -> None:
    local = tmp_path / "local.txt"
    local.write_bytes(b"x" * 200_000)
    write(root_fd, "/data/copy", Source(path=str(local)), mode=0o600, uid=0, gid=0)
    assert (root / "data/copy").read_bytes() == local.read_bytes()
    write(root_fd, "/data/ln", Source(target="copy"), mode=0o777, uid=7, gid=8)
    assert os.readlink(root / "data/ln") == "copy" and (root / "data/ln").lstat().st_uid == 7


def test_a_directory_is_never_replaced(root_fd: int) -> None:
    with pytest.raises(InvalidInput) as err:
        write(root_fd, "/data", Source(content=b"x"), mode=0o644, uid=0, gid=0)
    assert "is a directory" in err.value.message


def _mounts() -> str:
    return Path("/proc/self/mountinfo").read_text()


@root_only
@pytest.mark.parametrize("writable", [False, True])
def test_detached_overlay_leaves_no_mount(tmp_path: Path, writable: bool) -> None:
    # paths past fsconfig's 256-byte value limit, joined or not
    deep = tmp_path / ("d" * 120) / ("e" * 120)
    layer, upper, work = deep / "layer", deep / "upper", deep / "work"
    for directory in (layer, upper, work):
        directory.mkdir(parents=True)
    (layer / "from-image").write_text("image\n")
    before = _mounts()
    with detached_overlay(overlay_options([layer], upper, work, writable=writable), writable=writable,
                          label="container t") as fd:
        assert before == _mounts()   # attached nowhere
        assert inspect(fd, "/from-image", want_text=True).text == "image\n"
        if writable:
            write(fd, "/new", Source(content=b"written\n"), mode=0o644, uid=0, gid=0)
        else:
            with pytest.raises(OSError):
                write(fd, "/new", Source(content=b"refused"), mode=0o644, uid=0, gid=0)
    assert before == _mounts()
    assert (upper / "new").exists() == writable and not (layer / "new").exists()
