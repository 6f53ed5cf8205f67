"""Copy-up (volumes/copyup.py) from hostile layers: the source directory is
found inside the image root, the tree is copied fd to fd, links stay links,
FIFOs and devices are made again (never opened), whiteouts and opaque
directories are honoured, and the host beside the layers is untouched."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.layered import LayeredRoot, MergedDir
from ansible_collections.berth.engine.plugins.module_utils.saferoot import open_root
from ansible_collections.berth.engine.plugins.module_utils.volumes.copyup import copy_tree, is_empty
from tests.support.hostile import Canary

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="chown, mknod and trusted.* xattrs need root")


def copy(lowerdirs: list[Path], target: str, dest: Path) -> bool:
    dest.mkdir(exist_ok=True)
    with LayeredRoot(lowerdirs) as image:
        source = image.resolve(target)
        if not isinstance(source, MergedDir):
            if source is not None:
                source.close()
            return False
        with source:
            fd = open_root(dest)
            try:
                copy_tree(image, source, fd)
            finally:
                os.close(fd)
    return True


def tree(root: Path) -> dict[str, str]:
    """Every entry under root: 'dir', 'link:<target>', 'fifo', or the file's text."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = "link:" + os.readlink(path)
        elif path.is_dir():
            found[rel] = "dir"
        elif stat.S_ISFIFO(path.lstat().st_mode):
            found[rel] = "fifo"
        elif stat.S_ISCHR(path.lstat().st_mode):
            found[rel] = f"chr:{os.major(path.lstat().st_rdev)}:{os.minor(path.lstat().st_rdev)}"
        else:
            found[rel] = path.read_text()
    return found


def test_volume_x_etc_with_x_linked_to_root_copies_the_images_etc(tmp_path: Path) -> None:
    host = Canary.plant(tmp_path / "host")
    layer = tmp_path / "layer"
    (layer / "etc").mkdir(parents=True)
    (layer / "etc/hostname").write_text("image\n")
    (layer / "x").symlink_to("/")
    (layer / "etc/shadow").symlink_to(str(host.directory / "canary"))   # a link to a host file
    (layer / "etc/up").symlink_to("../../../../../../..")
    assert copy([layer], "/x/etc", tmp_path / "vol")
    assert tree(tmp_path / "vol") == {"hostname": "image\n", "shadow": f"link:{host.directory / 'canary'}",
                                      "up": "link:../../../../../../.."}
    assert host.intact()


def test_a_target_whose_link_leaves_the_image_copies_nothing(tmp_path: Path) -> None:
    host = Canary.plant(tmp_path / "host")
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "data").symlink_to(str(host.directory))
    (layer / "rel").symlink_to("../host")
    assert not copy([layer], "/data", tmp_path / "vol")
    assert not copy([layer], "/rel", tmp_path / "vol")
    fd = os.open(tmp_path / "vol", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert is_empty(fd)
    finally:
        os.close(fd)
    assert host.intact()


@root_only
def test_layers_merge_with_whiteouts_opaque_dirs_and_metadata(tmp_path: Path) -> None:
    top, bottom = tmp_path / "top", tmp_path / "bottom"
    for path in ("data/keep", "data/gone", "data/opq", "data/sub"):
        (bottom / path).mkdir(parents=True)
    (bottom / "data/keep/a").write_text("lower\n")
    (bottom / "data/gone/b").write_text("deleted\n")
    (bottom / "data/opq/hidden").write_text("hidden\n")
    (bottom / "data/sub/lower").write_text("merged\n")
    (top / "data/sub").mkdir(parents=True)
    (top / "data/sub/upper").write_text("merged too\n")
    os.mknod(top / "data/gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))          # whiteout
    (top / "data/opq").mkdir()
    os.setxattr(top / "data/opq", "trusted.overlay.opaque", b"y")
    (top / "data/opq/seen").write_text("seen\n")
    os.mkfifo(top / "data/pipe")                                                  # opening it would block
    os.mknod(top / "data/zero", stat.S_IFCHR | 0o640, os.makedev(1, 5))          # reading it never ends
    os.chown(top / "data/sub/upper", 1234, 4321)
    os.chmod(top / "data/sub/upper", 0o4750)
    os.setxattr(top / "data/sub/upper", "user.note", b"kept")
    os.chmod(top / "data/sub", 0o500)                                            # read-only, set last
    with open(top / "data/sparse", "wb") as sparse:
        sparse.seek(64 << 20)
        sparse.write(b"end")
    assert copy([top, bottom], "data", tmp_path / "vol")
    vol = tmp_path / "vol"
    listing = tree(vol)
    assert listing.pop("sparse").endswith("end")
    assert listing == {"keep": "dir", "keep/a": "lower\n", "opq": "dir", "opq/seen": "seen\n", "pipe": "fifo",
                       "sub": "dir", "sub/lower": "merged\n", "sub/upper": "merged too\n", "zero": "chr:1:5"}
    upper = (vol / "sub/upper").stat()
    assert (upper.st_uid, upper.st_gid, stat.S_IMODE(upper.st_mode)) == (1234, 4321, 0o4750)
    assert os.getxattr(vol / "sub/upper", "user.note") == b"kept"
    assert stat.S_IMODE((vol / "sub").stat().st_mode) == 0o500
    assert stat.S_IMODE((vol / "zero").lstat().st_mode) == 0o640
    assert (vol / "sparse").stat().st_blocks * 512 < 1 << 20                     # the hole stayed a hole
    assert "trusted.overlay.opaque" not in os.listxattr(vol / "opq")


def test_a_deep_tree_is_copied_without_recursion(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    fd = os.open(tmp_path, os.O_RDONLY)
    os.mkdir("layer", dir_fd=fd)
    current = os.open("layer", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    for _level in range(1200):   # deeper than Python's recursion limit
        os.mkdir("d", dir_fd=current)
        nxt = os.open("d", os.O_RDONLY, dir_fd=current)
        os.close(current)
        current = nxt
    os.close(current)
    try:
        assert copy([layer], "/", tmp_path / "vol")
        assert (tmp_path / "vol" / "/".join(["d"] * 1200)).is_dir()
    finally:  # pytest's own clean-up recurses: remove the trees with rm
        subprocess.run(["rm", "-rf", str(layer), str(tmp_path / "vol")], check=True)
