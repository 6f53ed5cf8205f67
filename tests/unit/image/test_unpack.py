"""Layer unpacking: overlay translation, metadata, and that nothing escapes."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.image.compression import (
    HashingReader,
    open_decompressed,
    sniff,
)
from ansible_collections.berth.engine.plugins.module_utils.image.unpack import (
    UnsafeLayer,
    apply_layer,
    clean_name,
)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod and trusted.* xattrs need root")


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **attrs: object) -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 1_000_000_000
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def layer(*entries: tuple) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def unpack(dest: Path, data: bytes) -> int:
    dest.mkdir(exist_ok=True)
    return apply_layer(io.BytesIO(data), dest, layer="test")


def test_files_dirs_links_and_metadata(tmp_path: Path) -> None:
    data = layer(
        entry("etc", tarfile.DIRTYPE, mtime=111),
        entry("etc/passwd", data=b"root\n", uid=1000, gid=1001, mode=0o600, mtime=222),
        entry("bin/su", data=b"x", mode=0o4755),
        entry("etc/passwd-", tarfile.LNKTYPE, linkname="etc/passwd"),
        entry("etc/link", tarfile.SYMTYPE, linkname="/etc/passwd"),
        entry("empty", tarfile.DIRTYPE, mode=0o1777),
    )
    unpack(tmp_path / "l", data)
    root = tmp_path / "l"
    passwd = (root / "etc/passwd").stat()
    assert (root / "etc/passwd").read_bytes() == b"root\n"
    assert (passwd.st_uid, passwd.st_gid, stat.S_IMODE(passwd.st_mode), passwd.st_mtime) == (1000, 1001, 0o600, 222)
    assert stat.S_IMODE((root / "bin/su").stat().st_mode) == 0o4755
    assert (root / "etc/passwd-").stat().st_ino == passwd.st_ino
    assert os.readlink(root / "etc/link") == "/etc/passwd"
    assert stat.S_IMODE((root / "empty").stat().st_mode) == 0o1777
    assert (root / "etc").stat().st_mtime == 111  # directory times survive their children
    assert stat.S_IMODE((root / "bin").stat().st_mode) == 0o755  # implied parents get Docker's default


@needs_root
def test_whiteouts_become_overlay_markers(tmp_path: Path) -> None:
    data = layer(entry("etc/.wh.shadow"), entry("var/cache/.wh..wh..opq"))
    unpack(tmp_path / "l", data)
    shadow = (tmp_path / "l/etc/shadow").lstat()
    assert stat.S_ISCHR(shadow.st_mode) and shadow.st_rdev == os.makedev(0, 0)
    assert os.getxattr(tmp_path / "l/var/cache", "trusted.overlay.opaque") == b"y"
    assert not (tmp_path / "l/var/cache/.wh..wh..opq").exists()


@needs_root
def test_layer_cannot_forge_overlay_xattrs_but_keeps_others(tmp_path: Path) -> None:
    info, data = entry("dir", tarfile.DIRTYPE)
    info.pax_headers = {"SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.user.note": "hi"}
    file_info, file_data = entry("dir/file", data=b"x")
    file_info.pax_headers = {"SCHILY.xattr.user.file": "yes", "SCHILY.xattr.trusted.overlay.redirect": "/etc"}
    unpack(tmp_path / "l", layer((info, data), (file_info, file_data)))
    assert os.getxattr(tmp_path / "l/dir/file", "user.file") == b"yes"
    assert "trusted.overlay.redirect" not in os.listxattr(tmp_path / "l/dir/file")
    assert "trusted.overlay.opaque" not in os.listxattr(tmp_path / "l/dir")
    assert os.getxattr(tmp_path / "l/dir", "user.note") == b"hi"


def test_absolute_and_dotdot_names_stay_inside(tmp_path: Path) -> None:
    unpack(tmp_path / "l", layer(entry("/abs/file", data=b"a"), entry("./a/../b", data=b"b")))
    assert (tmp_path / "l/abs/file").read_bytes() == b"a"
    assert (tmp_path / "l/b").read_bytes() == b"b"
    with pytest.raises(UnsafeLayer, match="outside the layer"):
        unpack(tmp_path / "m", layer(entry("../escape", data=b"x")))
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize("target", ["/", "..", "../..", "/../../..", str(Path("/tmp").resolve())])
def test_symlinked_parent_is_resolved_inside_the_layer(tmp_path: Path, target: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = layer(entry("evil", tarfile.SYMTYPE, linkname=target), entry("evil/pwned", data=b"x"))
    unpack(tmp_path / "l", data)
    assert not (outside / "pwned").exists()
    assert not Path("/pwned").exists() and not Path("/tmp/pwned").exists()
    assert any(p.name == "pwned" for p in (tmp_path / "l").rglob("pwned"))


def test_file_replaces_a_planted_symlink_instead_of_writing_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"safe")
    data = layer(entry("x", tarfile.SYMTYPE, linkname=str(victim)), entry("x", data=b"owned"))
    unpack(tmp_path / "l", data)
    assert victim.read_bytes() == b"safe"
    assert (tmp_path / "l/x").read_bytes() == b"owned" and not (tmp_path / "l/x").is_symlink()


def test_hardlinks_cannot_point_outside(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"s")
    with pytest.raises(InvalidInput, match="not an earlier file"):
        unpack(tmp_path / "l", layer(entry("h", tarfile.LNKTYPE, linkname=str(secret))))
    with pytest.raises(UnsafeLayer):
        unpack(tmp_path / "m", layer(entry("h", tarfile.LNKTYPE, linkname="../secret")))
    data = layer(entry("up", tarfile.SYMTYPE, linkname=str(tmp_path)),
                 entry("h", tarfile.LNKTYPE, linkname="up/secret"))
    with pytest.raises(InvalidInput):
        unpack(tmp_path / "n", data)
    assert secret.stat().st_nlink == 1


@needs_root
def test_device_policy(tmp_path: Path) -> None:
    dev = entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
    unpack(tmp_path / "l", layer(dev))
    assert (tmp_path / "l/dev/null").lstat().st_rdev == os.makedev(1, 3)
    (tmp_path / "m").mkdir()
    apply_layer(io.BytesIO(layer(dev)), tmp_path / "m", devices="skip")
    assert not (tmp_path / "m/dev/null").exists()
    with pytest.raises(UnsafeLayer, match="device node"):
        apply_layer(io.BytesIO(layer(dev)), tmp_path / "m", devices="reject")


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    data = layer(entry("a", tarfile.DIRTYPE), entry("a/x", data=b"1"), entry("a", data=b"file now"))
    unpack(tmp_path / "l", data)
    assert (tmp_path / "l/a").read_bytes() == b"file now"


def test_corrupt_tar_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a valid tar"):
        unpack(tmp_path / "l", layer(entry("f", data=b"x" * 2000))[:700])


def test_clean_name_and_resolution() -> None:
    assert clean_name("./a//b/./c", "l") == "a/b/c"
    assert clean_name("/", "l") == ""
    with pytest.raises(UnsafeLayer):
        clean_name("a/../../b", "l")


def test_symlink_loop_is_an_error(tmp_path: Path) -> None:
    data = layer(entry("a", tarfile.SYMTYPE, linkname="b"), entry("b", tarfile.SYMTYPE, linkname="a"),
                 entry("a/x", data=b"x"))
    with pytest.raises(InvalidInput, match="'a/x'"):
        unpack(tmp_path / "l", data)


# -- compression ----------------------------------------------------------------
def test_gzip_multi_member_and_digest() -> None:
    plain = b"hello " * 100_000
    data = gzip.compress(plain[:1000]) + gzip.compress(plain[1000:])
    reader = HashingReader(open_decompressed(io.BytesIO(data), "application/vnd.oci.image.layer.v1.tar+gzip"))
    out = b""
    while chunk := reader.read(65536):
        out += chunk
    assert out == plain
    assert reader.digest == "sha256:" + hashlib.sha256(plain).hexdigest()


def test_zstd_and_plain_are_sniffed() -> None:
    zstandard = pytest.importorskip("zstandard")
    plain = b"layer bytes" * 1000
    packed = zstandard.ZstdCompressor().compress(plain)
    assert sniff(packed) == "zstd" and sniff(plain) == "tar"
    assert open_decompressed(io.BytesIO(packed)).read(1 << 20) == plain
    # a gzip layer labelled as plain tar still decompresses: magic wins
    assert open_decompressed(io.BytesIO(gzip.compress(plain)), "application/vnd.oci.image.layer.v1.tar").read(
        1 << 20) == plain


def test_truncated_or_corrupt_gzip_is_invalid_input() -> None:
    data = gzip.compress(os.urandom(200_000))
    with pytest.raises(InvalidInput, match="truncated"):
        reader = open_decompressed(io.BytesIO(data[: len(data) // 2]))
        while reader.read(65536):
            pass
    broken = data[:20] + bytes(b ^ 0xFF for b in data[20:400]) + data[400:]
    with pytest.raises(InvalidInput, match="corrupt"):
        reader = open_decompressed(io.BytesIO(broken))
        while reader.read(65536):
            pass
