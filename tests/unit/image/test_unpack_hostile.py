"""The layer applier against layers written by an attacker.

Every case runs twice: with the kernel's openat2(RESOLVE_IN_ROOT) and with
saferoot's per-component walk (what kernels before 5.6 get). Each one checks
a canary beside the snapshot directory (``victim/``, the ``../victim`` of
moby's breakout tests) afterwards: unchanged, and nothing planted next to it.
The cases follow moby's pkg/archive tests (TestUntarInvalidFilenames,
TestUntarInvalidHardlink, TestUntarInvalidSymlink, whiteout escapes) and
containerd's root-entry handling, written anew for berth's overlay-ready
snapshots.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import subprocess
import tarfile
import tracemalloc
import zlib
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils import saferoot
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.image.compression import open_decompressed
from ansible_collections.berth.engine.plugins.module_utils.image.tarlimits import MAX_HEADER_BYTES
from ansible_collections.berth.engine.plugins.module_utils.image.unpack import (
    MAX_PATH_DEPTH,
    UnsafeLayer,
    apply_layer,
)
from tests.support.hostile import Canary, Entry, tar_layer

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod, chown and trusted.* xattrs need root")
LAYER = "sha256:feedface"


@pytest.fixture(params=["openat2", "walk"], autouse=True)
def resolution(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "walk":
        monkeypatch.setattr(saferoot, "have_openat2", False)
    else:
        monkeypatch.setattr(saferoot, "have_openat2", None)
        if not saferoot._openat2_works():
            pytest.skip("this kernel has no openat2")
    return str(request.param)


@pytest.fixture
def victim(tmp_path: Path) -> Canary:
    return Canary.plant(tmp_path / "victim")


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    path = tmp_path / "dest"
    path.mkdir()
    return path


def unpack(dest: Path, data: bytes, **options: object) -> int:
    return apply_layer(io.BytesIO(data), dest, layer=LAYER, **options)  # type: ignore[arg-type]


def assert_safe(dest: Path, victim: Canary) -> None:
    assert victim.intact()
    assert stat.S_ISDIR(dest.lstat().st_mode)  # the snapshot dir was never replaced
    assert sorted(p.name for p in dest.parent.iterdir()) == ["dest", "victim"]


# -- entries naming the layer root -------------------------------------------------
ROOT_NAMES = [".", "./", "x/..", "/", ""]


@pytest.mark.parametrize("name", ROOT_NAMES)
@pytest.mark.parametrize("kind", ["symlink", "file", "fifo", "hardlink"])
def test_non_directory_naming_the_root_is_skipped(dest: Path, victim: Canary, name: str, kind: str) -> None:
    first = Entry("seed", data=b"seed")
    evil = Entry(name, kind=kind, link=str(victim.directory) if kind == "symlink" else "seed", data=b"owned")
    later = [Entry("canary", data=b"overwritten"), Entry(".wh.seed"), Entry("sub/file", data=b"inside")]
    unpack(dest, tar_layer([first, evil, *later]))
    assert_safe(dest, victim)
    assert (dest / "canary").read_bytes() == b"overwritten"
    assert (dest / "sub/file").read_bytes() == b"inside"


@needs_root
@pytest.mark.parametrize("name", ROOT_NAMES)
def test_directory_naming_the_root_sets_only_its_metadata(dest: Path, victim: Canary, name: str) -> None:
    unpack(dest, tar_layer([Entry("a", data=b"a"), Entry(name, kind="dir", mode=0o711, uid=7, gid=8)]))
    st = dest.lstat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o711 and (st.st_uid, st.st_gid) == (7, 8)
    assert (dest / "a").read_bytes() == b"a"  # merged, not replaced
    assert_safe(dest, victim)


# -- moby's TestUntarInvalidFilenames ------------------------------------------------
@pytest.mark.parametrize("name", ["../victim/dotdot", "/../victim/slash-dotdot", "a/../../victim/x"])
def test_names_outside_the_root_are_refused(dest: Path, victim: Canary, name: str) -> None:
    with pytest.raises(UnsafeLayer, match="outside the layer"):
        unpack(dest, tar_layer([Entry(name, data=b"x")]))
    assert_safe(dest, victim)


# -- moby's TestUntarInvalidHardlink -------------------------------------------------
HARDLINK_BREAKOUTS = {
    "dotdot": [Entry("dotdot", kind="hardlink", link="../victim/canary")],
    "slash-dotdot": [Entry("slash-dotdot", kind="hardlink", link="/../victim/canary")],
    "absolute": [Entry("abs", kind="hardlink", link="{victim}/canary")],
    "write victim/file": [Entry("loophole", kind="hardlink", link="../victim"), Entry("loophole/file")],
    "read via hardlink, symlink": [Entry("loophole", kind="hardlink", link="../victim"),
                                   Entry("symlink", kind="symlink", link="loophole/canary")],
    "read via hardlink, hardlink": [Entry("loophole", kind="hardlink", link="../victim"),
                                    Entry("hardlink", kind="hardlink", link="loophole/canary")],
    "remove victim dir": [Entry("loophole", kind="hardlink", link="../victim"), Entry("loophole")],
    "through a symlinked parent": [Entry("up", kind="symlink", link="{victim}"),
                                   Entry("h", kind="hardlink", link="up/canary")],
    "through a dotdot symlink": [Entry("up", kind="symlink", link="../victim"),
                                 Entry("h", kind="hardlink", link="up/canary")],
    "to a directory of the layer": [Entry("d", kind="dir"), Entry("h", kind="hardlink", link="d")],
    "to the root": [Entry("h", kind="hardlink", link="./")],
}


@pytest.mark.parametrize("case", sorted(HARDLINK_BREAKOUTS))
def test_hardlink_breakouts(dest: Path, victim: Canary, case: str) -> None:
    entries = [Entry(e.name, e.kind, e.data, e.link.format(victim=victim.directory)) for e in HARDLINK_BREAKOUTS[case]]
    with pytest.raises(InvalidInput):
        unpack(dest, tar_layer(entries))
    assert_safe(dest, victim)
    assert (victim.directory / "canary").stat().st_nlink == 1


def test_hardlink_to_a_symlink_links_the_symlink_itself(dest: Path, victim: Canary) -> None:
    """moby's TestUntarHardlinkToSymlink, with a symlink pointing out."""
    target = f"{victim.directory}/canary"
    unpack(dest, tar_layer([Entry("s", kind="symlink", link=target), Entry("h", kind="hardlink", link="s"),
                            Entry("h2", kind="hardlink", link="s")]))
    assert os.readlink(dest / "h") == target and (dest / "h").lstat().st_ino == (dest / "s").lstat().st_ino
    assert_safe(dest, victim)
    assert (victim.directory / "canary").stat().st_nlink == 1


# -- moby's TestUntarInvalidSymlink ---------------------------------------------------
SYMLINK_BREAKOUTS = {
    "dotdot": [Entry("dotdot", kind="symlink", link="../victim/canary")],
    "slash-dotdot": [Entry("slash-dotdot", kind="symlink", link="/../victim/canary")],
    "write victim/file": [Entry("loophole", kind="symlink", link="../victim"), Entry("loophole/file", data=b"x")],
    "write through an absolute link": [Entry("loophole", kind="symlink", link="{victim}"),
                                       Entry("loophole/canary", data=b"owned")],
    "read via symlink, symlink": [Entry("loophole", kind="symlink", link="../victim"),
                                  Entry("symlink", kind="symlink", link="loophole/canary")],
    "replace the victim file": [Entry("loophole", kind="symlink", link="{victim}/canary"),
                                Entry("loophole", data=b"owned")],
    "remove victim dir": [Entry("loophole", kind="symlink", link="../victim"), Entry("loophole", data=b"x")],
    "newdir in the path": [Entry("dir/loophole", kind="symlink", link="../../victim"),
                           Entry("dir/loophole/newdir/newfile", data=b"x")],
    "dir over a symlink": [Entry("loophole", kind="symlink", link="{victim}"),
                           Entry("loophole", kind="dir", mode=0o777)],
    "chained links": [Entry("a", kind="symlink", link="b/.."), Entry("b", kind="symlink", link="../../../.."),
                      Entry("a/victim/canary", data=b"owned")],
    "fifo through a link": [Entry("loophole", kind="symlink", link="{victim}"), Entry("loophole/pipe", kind="fifo")],
}


@pytest.mark.parametrize("case", sorted(SYMLINK_BREAKOUTS))
def test_symlink_breakouts(dest: Path, victim: Canary, case: str) -> None:
    entries = [Entry(e.name, e.kind, e.data, e.link.format(victim=victim.directory), e.mode)
               for e in SYMLINK_BREAKOUTS[case]]
    unpack(dest, tar_layer(entries))  # links are content: allowed, but only ever resolved inside
    assert_safe(dest, victim)
    assert stat.S_IMODE(victim.directory.stat().st_mode) != 0o777


def test_symlink_then_hardlink_through_it_is_refused(dest: Path, victim: Canary) -> None:
    entries = [Entry("loophole", kind="symlink", link="../victim"),
               Entry("hardlink", kind="hardlink", link="loophole/canary")]
    with pytest.raises(InvalidInput, match="not an earlier file"):
        unpack(dest, tar_layer(entries))
    assert_safe(dest, victim)


# -- whiteouts --------------------------------------------------------------------
@needs_root
@pytest.mark.parametrize("link", ["{victim}", "../victim", "/../../victim"])
def test_whiteouts_act_only_inside(dest: Path, victim: Canary, link: str) -> None:
    target = link.format(victim=victim.directory)
    entries = [Entry("x", kind="symlink", link=target), Entry("x/.wh.canary"), Entry("x/.wh..wh..opq"),
               Entry("y", kind="symlink", link=f"{target}/canary"), Entry(".wh.y")]
    unpack(dest, tar_layer(entries))
    assert_safe(dest, victim)
    assert "trusted.overlay.opaque" not in os.listxattr(victim.directory)
    assert stat.S_ISCHR((dest / "y").lstat().st_mode)  # the link was whited out, not its target


@needs_root
def test_whiteout_of_a_tree_with_links_out_removes_only_the_tree(dest: Path, victim: Canary) -> None:
    entries = [Entry("d/sub/deeper/file", data=b"x"), Entry("d/out", kind="symlink", link=str(victim.directory)),
               Entry("d/sub/up", kind="symlink", link="../../../victim"), Entry(".wh.d")]
    unpack(dest, tar_layer(entries))
    assert stat.S_ISCHR((dest / "d").lstat().st_mode)
    assert_safe(dest, victim)


@pytest.mark.parametrize("name", [".wh.", "a/.wh.", ".wh..", "a/.wh..."])
def test_malformed_whiteouts_are_refused(dest: Path, victim: Canary, name: str) -> None:
    with pytest.raises(UnsafeLayer, match="malformed whiteout"):
        unpack(dest, tar_layer([Entry(name)]))
    assert_safe(dest, victim)


def test_replacing_a_directory_never_follows_links_inside_it(dest: Path, victim: Canary) -> None:
    entries = [Entry("a/link", kind="symlink", link=str(victim.directory)),
               Entry("a/up", kind="symlink", link="../../victim/canary"), Entry("a", data=b"now a file")]
    unpack(dest, tar_layer(entries))
    assert (dest / "a").read_bytes() == b"now a file"
    assert_safe(dest, victim)


# -- limits -------------------------------------------------------------------------
def test_path_depth_limit(dest: Path, victim: Canary) -> None:
    unpack(dest, tar_layer([Entry("/".join(["d"] * MAX_PATH_DEPTH), data=b"deep")]))
    too_deep = "/".join(["d"] * (MAX_PATH_DEPTH + 1))
    with pytest.raises(UnsafeLayer, match=f"{MAX_PATH_DEPTH + 1} directories deep.*at most {MAX_PATH_DEPTH}") as err:
        unpack(dest, tar_layer([Entry(too_deep, data=b"x")]))
    assert LAYER in str(err.value)
    assert_safe(dest, victim)


def test_unpacked_size_budget(dest: Path, victim: Canary) -> None:
    big = tar_layer([Entry("small", data=b"s"), Entry("big", data=b"x" * 20_000)])
    unpack(dest, big)  # off by default
    with pytest.raises(InvalidInput, match=r"budget of 10000 bytes.*'big'"):
        unpack(dest, big, max_bytes=10_000)
    many = tar_layer([Entry(f"empty{i}") for i in range(100)])
    with pytest.raises(InvalidInput, match="budget"):
        unpack(dest, many, max_bytes=50 * 512)
    assert_safe(dest, victim)


def _zeros_gzip(size: int) -> bytes:
    """A gzip stream of ``size`` zero bytes, made without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _mib in range(size >> 20)]
    return b"".join(parts) + packer.flush()


def test_decompression_is_bounded_in_memory() -> None:
    bomb = _zeros_gzip(400 << 20)
    assert len(bomb) < 1 << 20  # ~400 KB of gzip
    tracemalloc.start()
    try:
        reader = open_decompressed(io.BytesIO(bomb), "application/vnd.oci.image.layer.v1.tar+gzip")
        total = 0
        while chunk := reader.read(1 << 16):
            total += len(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 400 << 20
    assert peak < 16 << 20, f"peak {peak} bytes while inflating"


def _raw_header(name: str, kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(format=tarfile.USTAR_FORMAT)


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.XGLTYPE])
def test_huge_headers_are_refused_before_they_are_read(dest: Path, victim: Canary, kind: bytes) -> None:
    size = 400 << 20
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = packer.compress(_raw_header("././@header", kind, size))
    body += b"".join(packer.compress(bytes(1 << 20)) for _mib in range(size >> 20)) + packer.flush()
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput, match=f"header of {size} bytes.*at most {MAX_HEADER_BYTES}"):
            apply_layer(open_decompressed(io.BytesIO(body)), dest, layer=LAYER)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20
    assert_safe(dest, victim)


def _sparse_map_layer(lines: bytes, name: str = "sparse") -> bytes:
    """A PAX sparse 1.0 member whose map (the first lines of its data) is ``lines``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": name,
                            "GNU.sparse.realsize": "1000000"}
        data = lines + bytes(-len(lines) % 512) + b"x" * 512
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(("lines", "message"), [
    (b"99999999\n", "sparse map of 99999999 segments"),
    (b"1" * 600, "not a number"),
    (b"1\nabc\n4\n", "not a number"),
])
def test_hostile_sparse_maps_are_refused(dest: Path, victim: Canary, lines: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        unpack(dest, _sparse_map_layer(lines))
    assert_safe(dest, victim)


def test_sparse_map_beyond_the_file_is_refused(dest: Path, victim: Canary) -> None:
    with pytest.raises(InvalidInput, match=r"'sparse'.*sparse map"):
        unpack(dest, _sparse_map_layer(b"2\n0\n512\n100\n512\n"))  # overlapping runs
    assert_safe(dest, victim)


@pytest.mark.parametrize("tar_format", ["posix", "gnu"])
def test_sparse_members_are_written_sparse(tmp_path: Path, dest: Path, victim: Canary, tar_format: str) -> None:
    source = tmp_path / "src"
    source.mkdir()
    big = source / "big"
    with big.open("wb") as handle:
        handle.truncate(64 << 20)
        handle.seek(5_000_000)
        handle.write(b"hello")
        handle.seek((64 << 20) - 3)
        handle.write(b"end")
    archive = tmp_path / "sparse.tar"
    subprocess.run(["tar", f"--format={tar_format}", "--sparse", "-cf", archive, "-C", source, "big"], check=True)
    unpack(dest, archive.read_bytes())
    out = dest / "big"
    assert out.stat().st_size == 64 << 20
    assert out.stat().st_blocks * 512 < 1 << 20  # holes stayed holes
    with out.open("rb") as handle:
        handle.seek(5_000_000)
        assert handle.read(5) == b"hello"
        handle.seek((64 << 20) - 3)
        assert handle.read() == b"end"
        handle.seek(1_000_000)
        assert handle.read(4096) == bytes(4096)
    big.unlink()
    source.rmdir()
    archive.unlink()
    assert_safe(dest, victim)


# -- bad entries become InvalidInput naming layer and entry -----------------------------
def _pax_entry(name: str, **headers: str) -> bytes:
    return tar_layer([Entry(name, data=b"x", pax=headers)])


BAD_ENTRIES = {
    "name component too long": (tar_layer([Entry("a/" + "n" * 300, data=b"x")]), "n" * 20),
    "NUL in the name": (_pax_entry("ok", path="evil\0name"), "evil"),
    "xattr value too large": (_pax_entry("f", **{"SCHILY.xattr.user.big": "v" * 70_000}), "'f'"),
    "xattr name too long": (_pax_entry("f", **{"SCHILY.xattr.user." + "k" * 300: "v"}), "'f'"),
    "invalid capability xattr": (_pax_entry("f", **{"SCHILY.xattr.security.capability": "garbage"}), "'f'"),
    "negative uid": (_pax_entry("f", uid="-5"), "'f'"),
    "mtime not a number": (_pax_entry("f", mtime="nan"), "'f'"),
    "symlink with an empty target": (tar_layer([Entry("s", kind="symlink", link="")]), "'s'"),
    "symlink target too long": (tar_layer([Entry("s", kind="symlink", link="t" * 5000)]), "'s'"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_bad_entries_are_invalid_input(dest: Path, victim: Canary, case: str) -> None:
    data, names = BAD_ENTRIES[case]
    with pytest.raises(InvalidInput) as err:
        unpack(dest, data)
    assert LAYER in str(err.value) and names in str(err.value)
    assert_safe(dest, victim)


def _typed_layer(kind: bytes, **attrs: object) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("odd")
        info.type = kind
        for key, value in attrs.items():
            setattr(info, key, value)
        tar.addfile(info)
    return buffer.getvalue()


@needs_root
def test_unknown_types_and_bad_devices_are_invalid_input(dest: Path, victim: Canary) -> None:
    with pytest.raises(InvalidInput, match=r"'odd'.*unknown tar entry type"):
        unpack(dest, _typed_layer(b"Z"))
    with pytest.raises(InvalidInput, match="'odd'"):
        unpack(dest, _typed_layer(tarfile.BLKTYPE, devmajor=0o7777777, devminor=0o7777777))
    assert_safe(dest, victim)


def test_a_layer_that_is_not_tar_or_gzip_is_invalid_input(dest: Path) -> None:
    whole = gzip.compress(tar_layer([Entry("f", data=os.urandom(50_000))]))
    broken = whole[: len(whole) // 2]
    with pytest.raises(InvalidInput):
        apply_layer(open_decompressed(io.BytesIO(broken)), dest, layer=LAYER)


def test_chained_pax_headers_do_not_recurse_out(dest: Path) -> None:
    one = tarfile.TarInfo("x")
    one.type = tarfile.XHDTYPE
    record = b"11 a=bcdef\n"
    one.size = len(record)
    block = one.tobuf(format=tarfile.USTAR_FORMAT) + record + bytes(512 - len(record))
    data = block * 5000 + tar_layer([Entry("f", data=b"x")])
    with pytest.raises(InvalidInput, match="not a valid tar"):
        unpack(dest, data)
