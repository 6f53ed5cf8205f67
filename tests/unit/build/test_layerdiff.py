"""diff_upper on a fake overlay upper dir: whiteouts, opaque dirs, xattrs,
hardlinks, sockets, runtime stubs, order — and a round trip through the
engine's own layer applier back to overlay's form."""

from __future__ import annotations

import io
import os
import socket
import stat
import tarfile
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.build.layerdiff import diff_upper, is_empty
from ansible_collections.berth.engine.plugins.module_utils.image.compressor import LayerSink
from ansible_collections.berth.engine.plugins.module_utils.image.unpack import apply_layer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted xattrs need root")
STUBS = ("/proc", "/sys", "/dev", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname")


def _layer(upper: Path, exclude: tuple[str, ...] = ()) -> tuple[list[tarfile.TarInfo], bytes, int]:
    out = io.BytesIO()
    sink = LayerSink(out, "none")
    count = diff_upper(upper, sink, exclude=exclude)
    digests = sink.close()
    assert digests.diff_id == digests.digest
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        return tar.getmembers(), out.getvalue(), count


def _names(members: list[tarfile.TarInfo]) -> list[str]:
    return [m.name for m in members]


def _whiteout(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o000, 0)


@pytest.fixture
def upper(tmp_path: Path) -> Path:
    root = tmp_path / "upper"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "new.conf").write_text("new\n")
    _whiteout(root / "etc" / "motd")
    (root / "var" / "cache").mkdir(parents=True)
    os.setxattr(root / "var" / "cache", "trusted.overlay.opaque", b"y")
    (root / "var" / "cache" / "kept").write_text("k")
    (root / "f").write_text("hi\n")
    os.link(root / "f", root / "g")
    os.symlink("/etc/new.conf", root / "link")
    os.mkfifo(root / "fifo")
    return root


def test_whiteouts_opaque_dirs_links_in_sorted_order(upper: Path) -> None:
    members, _blob, count = _layer(upper)
    assert _names(members) == ["etc", "etc/.wh.motd", "etc/new.conf", "f", "fifo", "g", "link",
                               "var", "var/cache", "var/cache/.wh..wh..opq", "var/cache/kept"]
    assert count == len(members)
    by = {m.name: m for m in members}
    assert by["etc/.wh.motd"].isreg() and by["etc/.wh.motd"].size == 0
    assert by["var/cache/.wh..wh..opq"].isreg() and by["var/cache/.wh..wh..opq"].size == 0
    assert by["g"].islnk() and by["g"].linkname == "f"
    assert by["link"].issym() and by["link"].linkname == "/etc/new.conf"
    assert by["fifo"].isfifo()
    assert all(m.uname == "" and m.gname == "" for m in members)
    assert not any(k.startswith("SCHILY.xattr.trusted.overlay") for m in members for k in m.pax_headers)


def test_xattrs_kept_but_overlay_ones(upper: Path) -> None:
    os.setxattr(upper / "f", "user.note", b"hello")
    os.setxattr(upper / "f", "trusted.overlay.origin", b"\x00\x01")
    os.setxattr(upper / "f", "security.capability", b"\x01\x00\x00\x02\x00\x04\x00\x00" + b"\x00" * 12)
    by = {m.name: m for m in _layer(upper)[0]}
    headers = by["f"].pax_headers
    assert headers["SCHILY.xattr.user.note"] == "hello"
    assert "SCHILY.xattr.security.capability" in headers
    assert not any("trusted.overlay" in k for k in headers)


def test_devices_kept_sockets_skipped_mtimes_whole_seconds(upper: Path) -> None:
    os.mknod(upper / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(upper / "sock"))
    sock.close()
    os.utime(upper / "var", (1_600_000_000.7, 1_600_000_000.7))
    by = {m.name: m for m in _layer(upper)[0]}
    assert by["null"].ischr() and (by["null"].devmajor, by["null"].devminor) == (1, 3)
    assert "sock" not in by
    assert by["var"].mtime == 1_600_000_000


def test_runtime_stubs_excluded_only_while_empty(tmp_path: Path) -> None:
    root = tmp_path / "u"
    for name in ("proc", "sys", "dev"):
        (root / name).mkdir(parents=True)
    (root / "etc").mkdir()
    for name in ("hosts", "resolv.conf", "hostname"):
        (root / "etc" / name).touch()
    assert is_empty(root, (*STUBS, "/etc"))
    assert _layer(root, (*STUBS, "/etc"))[0] == []
    assert _names(_layer(root, STUBS)[0]) == ["etc"]           # /etc not a stub there: the dir stays
    (root / "etc" / "hosts").write_text("127.0.0.1 me\n")      # a step wrote real content: kept
    (root / "proc" / "x").touch()
    names = _names(_layer(root, STUBS)[0])
    assert names == ["etc", "etc/hosts", "proc", "proc/x"]
    assert not is_empty(root, STUBS)


def test_empty_upper_is_empty(tmp_path: Path) -> None:
    (tmp_path / "u").mkdir()
    assert is_empty(tmp_path / "u")
    assert _layer(tmp_path / "u")[2] == 0


def test_symlinked_dirs_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("no")
    root = tmp_path / "u"
    root.mkdir()
    os.symlink(outside, root / "escape")
    members = _layer(root)[0]
    assert _names(members) == ["escape"] and members[0].issym()


def test_deterministic(upper: Path) -> None:
    assert _layer(upper)[1] == _layer(upper)[1]


def test_round_trip_through_the_engines_applier(upper: Path, tmp_path: Path) -> None:
    _members, blob, _count = _layer(upper)
    dest = tmp_path / "applied"
    dest.mkdir()
    apply_layer(io.BytesIO(blob), dest)
    motd = os.lstat(dest / "etc" / "motd")
    assert stat.S_ISCHR(motd.st_mode) and motd.st_rdev == 0
    assert os.getxattr(dest / "var" / "cache", "trusted.overlay.opaque") == b"y"
    assert (dest / "var" / "cache" / "kept").read_text() == "k"
    assert os.stat(dest / "f").st_ino == os.stat(dest / "g").st_ino


def test_an_opaque_stub_dir_is_a_change(tmp_path: Path) -> None:
    root = tmp_path / "u"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hosts").touch()
    os.setxattr(root / "etc", "trusted.overlay.opaque", b"y")   # the container replaced /etc
    assert _names(_layer(root, (*STUBS, "/etc"))[0]) == ["etc", "etc/.wh..wh..opq"]
