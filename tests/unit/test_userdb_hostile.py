"""The layered resolver (layered.py) and user lookup (userdb.py) against
hostile layers: symlinks that point at the host (absolute, relative, through
other layers), loops, whiteouts and opaque directories, FIFOs, devices and
huge files. A Canary sits beside the layers, where an escaping link would
land; it must stay exactly as planted."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils import saferoot
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.layered import LayeredRoot, Leaf, MergedDir
from ansible_collections.berth.engine.plugins.module_utils.userdb import MAX_FILE_BYTES, read_layered, resolve_user
from tests.support.hostile import Canary

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted.* xattrs need root")
IMAGE_PASSWD = "root:x:0:0:root:/root:/bin/sh\nimg:x:100:101:img:/home/img:/bin/sh\n"
HOST_PASSWD = "root:x:0:0:root:/root:/bin/sh\nevil:x:4242:4242:host:/host:/bin/sh\n"


@pytest.fixture
def host(tmp_path: Path) -> Canary:
    """A host directory beside the layers, with a passwd an escape would read."""
    return Canary.plant(tmp_path / "host")


@pytest.fixture
def layers(tmp_path: Path) -> Callable[[int], list[Path]]:
    def make(count: int) -> list[Path]:
        made = [tmp_path / "layers" / f"l{i}" for i in range(count)]
        for layer in made:
            layer.mkdir(parents=True)
        return made  # top first, as Snapshots.lowerdirs gives them
    return make


def write(path: Path, text: str = IMAGE_PASSWD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def whiteout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def opaque(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.setxattr(path, "trusted.overlay.opaque", b"y")


# -- reading through symlinks ------------------------------------------------------------
def test_top_layer_wins_and_links_resolve_across_layers(layers: Callable[[int], list[Path]]) -> None:
    top, middle, bottom = layers(3)
    write(bottom / "etc/passwd", HOST_PASSWD)             # shadowed by the middle layer
    write(middle / "srv/users/passwd")
    link(top / "etc/passwd", "/data/pw")                  # absolute: re-rooted at the image root
    link(middle / "data", "srv/users")                    # a relative link in another layer
    link(bottom / "srv/users/pw", "passwd")               # ...whose last hop lives in the bottom layer
    assert read_layered([top, middle, bottom], "etc/passwd") == IMAGE_PASSWD


@pytest.mark.parametrize("escape", ["/HOST/passwd", "../../../../../../HOST/passwd", "../../HOST/passwd",
                                    "/etc/../../../HOST/passwd"])
def test_links_toward_the_host_stay_in_the_image(layers: Callable[[int], list[Path]], host: Canary,
                                                 escape: str) -> None:
    (top,) = layers(1)
    write(host.directory / "passwd", HOST_PASSWD)
    link(top / "etc/passwd", escape.replace("HOST", str(host.directory).lstrip("/")))
    assert read_layered([top], "etc/passwd") is None      # the image has no such file
    user = resolve_user("4242", [top])
    assert (user.uid, user.gid, user.home) == (4242, 0, "/")   # Docker: a bare uid needs no entry
    with pytest.raises(InvalidInput, match="unable to find user evil"):
        resolve_user("evil", [top])
    (host.directory / "passwd").unlink()
    assert host.intact()


def test_dotdot_stops_at_the_image_root(layers: Callable[[int], list[Path]]) -> None:
    (top,) = layers(1)
    write(top / "etc/real")
    link(top / "etc/passwd", "../../../../../../../etc/real")
    link(top / "etc/group", "../../..")                 # the root itself: a directory, not a file
    assert read_layered([top], "etc/passwd") == IMAGE_PASSWD
    assert read_layered([top], "etc/group") is None


def test_a_parent_directory_that_is_a_link_to_the_host(layers: Callable[[int], list[Path]], host: Canary) -> None:
    top, bottom = layers(2)
    write(host.directory / "etc/passwd", HOST_PASSWD)
    link(top / "etc", str(host.directory / "etc"))      # absolute: re-rooted, so absent in the image
    write(bottom / "etc/passwd")
    assert read_layered([top, bottom], "etc/passwd") is None
    (top / "etc").unlink()
    link(top / "x", "/")                                 # VOLUME /x/etc with /x -> /: the image's /etc
    with LayeredRoot([top, bottom]) as image, image.resolve("x/etc/passwd") as node:
        assert isinstance(node, Leaf) and node.info.st_size == len(IMAGE_PASSWD)
    (host.directory / "etc/passwd").unlink()
    (host.directory / "etc").rmdir()
    assert host.intact()


def test_loops_are_a_clear_error_naming_the_image(layers: Callable[[int], list[Path]]) -> None:
    top, bottom = layers(2)
    link(top / "etc/passwd", "/etc/loop")
    link(bottom / "etc/loop", "passwd")
    with pytest.raises(InvalidInput, match=r"/etc/passwd in image evil:1: more than 40 symbolic links"):
        read_layered([top, bottom], "etc/passwd", "evil:1")
    with pytest.raises(InvalidInput, match="image evil:1"):
        resolve_user("0", [top, bottom], image="evil:1")


def test_a_file_as_a_parent_reads_as_absent(layers: Callable[[int], list[Path]]) -> None:
    (top,) = layers(1)
    write(top / "etc", "not a directory\n")
    assert read_layered([top], "etc/passwd") is None
    assert read_layered([top], "etc/passwd/../passwd") is None


# -- odd files -------------------------------------------------------------------------
def test_a_fifo_is_absent_and_never_opened(layers: Callable[[int], list[Path]]) -> None:
    (top,) = layers(1)
    (top / "etc").mkdir()
    os.mkfifo(top / "etc/passwd")   # opening it for reading would block forever
    assert read_layered([top], "etc/passwd") is None
    assert resolve_user("1000:1000", [top]).uid == 1000


@root_only
def test_a_device_is_absent(layers: Callable[[int], list[Path]]) -> None:
    (top,) = layers(1)
    (top / "etc").mkdir()
    os.mknod(top / "etc/passwd", stat.S_IFCHR | 0o644, os.makedev(1, 5))   # /dev/zero: endless
    assert read_layered([top], "etc/passwd") is None


def test_a_huge_file_is_refused_naming_file_and_image(layers: Callable[[int], list[Path]]) -> None:
    (top,) = layers(1)
    (top / "etc").mkdir()
    with open(top / "etc/group", "wb") as sparse:
        sparse.truncate(MAX_FILE_BYTES + 1)   # sparse: costs no disk
    with pytest.raises(InvalidInput, match=r"/etc/group in image big:2 is larger than 1048576 bytes"):
        resolve_user("0", [top], image="big:2")
    write(top / "etc/group", "x" * MAX_FILE_BYTES)
    assert resolve_user("0", [top]).gid == 0   # exactly the bound is fine


def test_the_walk_without_openat2_reads_the_same(layers: Callable[[int], list[Path]],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saferoot, "have_openat2", False)
    top, bottom = layers(2)
    link(top / "etc", "/real/etc")
    write(bottom / "real/etc/passwd")
    assert resolve_user("img", [top, bottom]).uid == 100


def test_a_layer_dir_that_is_itself_a_link_is_refused(tmp_path: Path, host: Canary) -> None:
    (tmp_path / "layer").symlink_to(host.directory)
    with pytest.raises(OSError):
        read_layered([tmp_path / "layer"], "canary")
    assert host.intact()


# -- whiteouts and opaque directories -------------------------------------------------------
@root_only
def test_a_whiteout_deletes_the_file_below(layers: Callable[[int], list[Path]]) -> None:
    top, bottom = layers(2)
    write(bottom / "etc/passwd")
    whiteout(top / "etc/passwd")
    assert read_layered([top, bottom], "etc/passwd") is None
    with pytest.raises(InvalidInput, match="unable to find user img"):
        resolve_user("img", [top, bottom])


@root_only
def test_a_whiteout_of_a_parent_or_a_link_target(layers: Callable[[int], list[Path]]) -> None:
    top, middle, bottom = layers(3)
    write(bottom / "etc/passwd")
    write(bottom / "data/passwd")
    whiteout(middle / "etc")                            # the whole /etc deleted in the middle layer
    (top / "etc").mkdir()                               # ...and made again, empty, on top
    assert read_layered([top, middle, bottom], "etc/passwd") is None
    link(top / "etc/group", "/data/passwd")
    whiteout(middle / "data")
    assert read_layered([top, middle, bottom], "etc/group") is None


@root_only
def test_an_opaque_directory_hides_the_layers_below(layers: Callable[[int], list[Path]]) -> None:
    top, middle, bottom = layers(3)
    write(bottom / "etc/passwd", HOST_PASSWD)
    write(bottom / "etc/group", "lower:x:7:img\n")
    opaque(middle / "etc")
    write(middle / "etc/passwd")
    (top / "etc").mkdir()
    assert read_layered([top, middle, bottom], "etc/passwd") == IMAGE_PASSWD
    assert read_layered([top, middle, bottom], "etc/group") is None
    with LayeredRoot([top, middle, bottom]) as image, image.resolve("etc") as node:
        assert isinstance(node, MergedDir) and len(node.fds) == 2 and node.names() == ["passwd"]


def test_a_file_in_a_lower_layer_ends_the_merge(layers: Callable[[int], list[Path]]) -> None:
    top, middle, bottom = layers(3)
    (top / "etc").mkdir()
    write(middle / "etc", "a file, not a directory\n")
    write(bottom / "etc/passwd")
    assert read_layered([top, middle, bottom], "etc/passwd") is None


def test_descriptors_are_all_closed(layers: Callable[[int], list[Path]]) -> None:
    top, bottom = layers(2)
    write(bottom / "etc/passwd")
    link(top / "etc/group", "../etc/../etc/passwd")
    before = len(os.listdir("/proc/self/fd"))
    for _hop in range(20):
        resolve_user("img", [top, bottom])
        with pytest.raises(InvalidInput):
            resolve_user("nobody", [top, bottom])
    assert len(os.listdir("/proc/self/fd")) == before


def test_odd_ids_in_the_image_files_are_skipped_not_tracebacks(layers: Callable[[int], list[Path]]) -> None:
    (top,) = layers(1)
    write(top / "etc" / "passwd", "sup:x:²:0::/:/bin/sh\nbig:x:" + "9" * 5000 + ":0::/:/bin/sh\n"
          "wide:x:4294967296:0::/:/bin/sh\nok:x:7:8::/home/ok:/bin/sh\n")
    write(top / "etc" / "group", "g:x:²:ok\nh:x:9:ok\n")
    assert resolve_user("ok", [top]).uid == 7 and resolve_user("ok", [top]).additional_gids == [9]
    for name in ("sup", "big", "wide"):
        with pytest.raises(InvalidInput, match="unable to find user"):
            resolve_user(name, [top])
    with pytest.raises(InvalidInput, match="out of range"):
        resolve_user("4294967296", [top])
