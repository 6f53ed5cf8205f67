"""saferoot resolves inside a root on both paths: openat2 and the by-hand walk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils import saferoot


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """A root whose links all try to leave it, and a host file beside it."""
    (tmp_path / "host-secret").write_text("host")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("image")
    (root / "abs").symlink_to("/")              # absolute: means the image root
    (root / "up").symlink_to("../../..")         # relative: stops at the root
    (root / "secret").symlink_to("/host-secret")  # re-rooted: the image has none
    (root / "loop").symlink_to("loop")
    (root / "rel").symlink_to("etc/passwd")
    return root


def _read(root: Path, rel: str) -> bytes | None:
    fd = saferoot.open_root(root)
    try:
        return saferoot.read_in_root(fd, rel, 1 << 10)
    finally:
        os.close(fd)


@pytest.mark.parametrize("rel", ["etc/passwd", "/etc/passwd", "abs/etc/passwd", "up/etc/passwd",
                                 "../../etc/passwd", "abs/abs/up/etc/passwd", "rel", "up/rel"])
def test_every_route_to_etc_passwd_stays_in_the_image(image: Path, resolver: str, rel: str) -> None:
    assert _read(image, rel) == b"image"


def test_a_link_to_a_host_file_finds_nothing(image: Path, resolver: str) -> None:
    assert _read(image, "secret") is None


def test_a_symlink_loop_is_eloop(image: Path, resolver: str) -> None:
    fd = saferoot.open_root(image)
    with pytest.raises(OSError) as err:
        saferoot.open_in_root(fd, "loop")
    os.close(fd)
    assert err.value.errno == 40


def test_not_following_the_last_link_opens_the_link(image: Path, resolver: str) -> None:
    fd = saferoot.open_root(image)
    link = saferoot.open_in_root(fd, "abs", os.O_PATH, follow_last=False)
    assert os.stat(saferoot.fd_path(link), follow_symlinks=False).st_mode & 0o170000 == 0o120000
    os.close(link)
    os.close(fd)


def test_make_dirs_creates_inside_through_links(image: Path, resolver: str) -> None:
    fd = saferoot.open_root(image)
    made = saferoot.make_dirs(fd, "abs/up/var/lib/data")
    os.close(made)
    os.close(fd)
    assert (image / "var" / "lib" / "data").is_dir()
    assert not (image.parent / "var").exists()


@pytest.mark.parametrize("rel", ["x/../..", "x/../../y", "x/y/../../.."])
def test_make_dirs_dotdot_past_missing_dirs_stays_in_the_root(image: Path, resolver: str, rel: str) -> None:
    fd = saferoot.open_root(image)
    made = saferoot.make_dirs(fd, rel)
    where = os.readlink(saferoot.fd_path(made))
    os.close(made)
    os.close(fd)
    assert where == str(image) or where.startswith(f"{image}/"), where


def test_read_is_bounded(image: Path, resolver: str) -> None:
    (image / "big").write_bytes(b"x" * 2048)
    with pytest.raises(ValueError, match="larger than 1024"):
        _read(image, "big")


def test_the_root_itself_may_not_be_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OSError):
        saferoot.open_root(tmp_path / "link")
