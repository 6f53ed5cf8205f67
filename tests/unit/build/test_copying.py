"""COPY/ADD into a destination root (build/copying.py, copymeta.py, addarchive.py)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import http.server
import io
import lzma
import os
import stat
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.build import copying
from ansible_collections.berth.engine.plugins.module_utils.build.copymeta import parse_chmod
from ansible_collections.berth.engine.plugins.module_utils.build.sources import SourceRoot, select
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """tmp/ctx (the context), tmp/merged (the image root), tmp/outside (must stay untouched)."""
    for rel, text in {"ctx/a.txt": "a", "ctx/b.txt": "b", "ctx/dir/sub/x": "x", "ctx/dir/y": "y",
                      "merged/etc/passwd": "root:x:0:0::/root:/bin/sh\nbob:x:1000:1001::/home/bob:/bin/sh\n",
                      "merged/etc/group": "root:x:0:\nstaff:x:50:\n", "outside/canary": "c"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    os.chmod(tmp_path / "ctx/dir/y", 0o750)
    os.utime(tmp_path / "ctx/a.txt", (1000, 1000))
    return tmp_path


def copy(world: Path, patterns: list[str], dest: str, root: SourceRoot | None = None, **options: object) -> None:
    source = root or SourceRoot(world / "ctx")
    instruction = str(options.get("instruction", "COPY"))
    found = select(source, patterns, field_line="Dockerfile:5", instruction=instruction)
    copying.copy_into(world / "merged", found, dest, field_line="Dockerfile:5", **options)  # type: ignore[arg-type]


def listing(base: Path) -> set[str]:
    return {str(p.relative_to(base)) for p in base.rglob("*")}


def untouched(world: Path) -> None:
    assert listing(world / "outside") == {"canary"}
    assert (world / "outside/canary").read_text() == "c"


# -- destinations -------------------------------------------------------------
def test_file_to_a_file_path_and_into_directories(world: Path) -> None:
    m = world / "merged"
    copy(world, ["a.txt"], "/opt/renamed")
    assert (m / "opt/renamed").read_text() == "a"
    copy(world, ["a.txt"], "/new/dir/")
    assert (m / "new/dir/a.txt").read_text() == "a"
    copy(world, ["b.txt"], "/new/dir")  # an existing directory: inside it
    assert (m / "new/dir/b.txt").read_text() == "b"
    info = (m / "new").stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o755, 0, 0)
    assert (m / "opt/renamed").stat().st_mtime == 1000  # mtimes kept


def test_directory_copies_its_contents_and_keeps_modes(world: Path) -> None:
    m = world / "merged"
    copy(world, ["dir"], "/app")
    assert listing(m / "app") == {"sub", "sub/x", "y"}
    assert stat.S_IMODE((m / "app/y").stat().st_mode) == 0o750


def test_empty_wildcard_creates_nothing(world: Path) -> None:
    copy(world, ["*.none"], "/made/not/")
    assert not (world / "merged/made").exists()


def test_dest_is_relative_to_workdir(world: Path) -> None:
    copy(world, ["a.txt"], "rel/", workdir="/srv/app")
    copy(world, ["b.txt"], ".", workdir="/srv/app")
    assert (world / "merged/srv/app/rel/a.txt").exists()
    assert (world / "merged/srv/app/b.txt").exists()


def test_several_sources_need_a_slash(world: Path) -> None:
    with pytest.raises(InvalidInput, match="Dockerfile:5: COPY with more than one source"):
        copy(world, ["a.txt", "b.txt"], "/x")
    with pytest.raises(InvalidInput, match="more than one source"):
        copy(world, ["*.txt"], "/x")
    copy(world, ["*.txt"], "/x/")
    assert listing(world / "merged/x") == {"a.txt", "b.txt"}


def test_file_over_directory_and_directory_over_file_fail(world: Path) -> None:
    (world / "merged/data/a.txt").mkdir(parents=True)
    (world / "merged/file").write_text("f")
    with pytest.raises(InvalidInput, match="Dockerfile:5: COPY failed: cannot replace the directory"):
        copy(world, ["a.txt"], "/data/")
    copy(world, ["a.txt"], "/data/a.txt")  # an existing directory: the file goes inside
    assert (world / "merged/data/a.txt/a.txt").is_file()
    with pytest.raises(InvalidInput, match="not a directory"):
        copy(world, ["dir"], "/file")


def test_symlinks_and_hardlinks_inside_a_copy(world: Path) -> None:
    os.symlink("/etc/passwd", world / "ctx/dir/link")
    os.link(world / "ctx/dir/y", world / "ctx/dir/y2")
    copy(world, ["dir"], "/app/")
    m = world / "merged/app"
    assert os.readlink(m / "link") == "/etc/passwd"
    assert (m / "y").stat().st_ino == (m / "y2").stat().st_ino


def test_link_mode_on_an_empty_root(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx/f").write_text("f")
    (tmp_path / "merged").mkdir()
    found = select(SourceRoot(tmp_path / "ctx"), ["f"], field_line="D:1")
    copying.copy_into(tmp_path / "merged", found, "/a/b/c/", workdir="/w")
    assert (tmp_path / "merged/a/b/c/f").read_text() == "f"


# -- metadata -------------------------------------------------------------------
def test_chmod_octal_applies_to_files_and_created_parents(world: Path) -> None:
    copy(world, ["dir"], "/p/q/", chmod="640")
    m = world / "merged"
    assert stat.S_IMODE((m / "p/q/y").stat().st_mode) == 0o640
    assert stat.S_IMODE((m / "p/q/sub").stat().st_mode) == 0o640
    assert stat.S_IMODE((m / "p").stat().st_mode) == 0o640  # BuildKit's MkdirAll takes --chmod's mode


@pytest.mark.parametrize(("text", "before", "is_dir", "after"), [
    ("+x", 0o644, False, 0o755), ("u=rwX,go=rX", 0o600, False, 0o644), ("u=rwX,go=rX", 0o700, True, 0o755),
    ("g=u", 0o640, False, 0o660), ("o-r,g+w", 0o644, False, 0o660), ("a=r", 0o777, False, 0o444),
    ("u+s", 0o755, False, 0o4755), ("+t", 0o755, True, 0o1755), ("755", 0o600, False, 0o755),
])
def test_chmod_forms(text: str, before: int, is_dir: bool, after: int) -> None:
    mode = parse_chmod(text, "D:1")
    assert mode is not None and mode.apply(before, is_dir) == after


@pytest.mark.parametrize("text", ["8", "17777", "u=z", "rw", "u+r,", "x=r"])
def test_bad_chmod_names_the_line(text: str) -> None:
    with pytest.raises(InvalidInput, match="D:9: invalid --chmod"):
        parse_chmod(text, "D:9")


@ROOT_ONLY
@pytest.mark.parametrize(("spec", "ids"), [("1000", (1000, 1000)), ("bob", (1000, 1001)), ("bob:staff", (1000, 50)),
                                           ("7:staff", (7, 50)), ("root", (0, 0)), ("12:34", (12, 34))])
def test_chown_resolution(world: Path, spec: str, ids: tuple[int, int]) -> None:
    copy(world, ["dir"], "/c/d/", chown=spec)
    m = world / "merged"
    for rel in ("c", "c/d/y", "c/d/sub", "c/d/sub/x"):
        info = (m / rel).stat()
        assert (info.st_uid, info.st_gid) == ids, rel
    assert (m / "etc").stat().st_uid == 0


@ROOT_ONLY
def test_owner_is_root_unless_from_keeps_it(world: Path) -> None:
    os.chown(world / "ctx/a.txt", 1234, 1234)
    copy(world, ["a.txt"], "/ctx.txt")
    assert (world / "merged/ctx.txt").stat().st_uid == 0
    copy(world, ["a.txt"], "/from.txt", root=SourceRoot(world / "ctx", label="stage builder", keep_owner=True))
    assert (world / "merged/from.txt").stat().st_uid == 1234


def test_unknown_chown_names_fail(world: Path) -> None:
    with pytest.raises(InvalidInput, match="Dockerfile:5: --chown: unable to find user 'nobody'"):
        copy(world, ["a.txt"], "/x", chown="nobody")
    with pytest.raises(InvalidInput, match="unable to find group 'wheel'"):
        copy(world, ["a.txt"], "/x", chown="bob:wheel")


def test_chown_names_are_read_inside_the_image(world: Path) -> None:
    os.unlink(world / "merged/etc/passwd")
    os.symlink("/../../outside/passwd", world / "merged/etc/passwd")
    (world / "outside/passwd").write_text("evil:x:0:0::/:/bin/sh\n")
    with pytest.raises(InvalidInput, match="unable to find user 'evil'"):
        copy(world, ["a.txt"], "/x", chown="evil")


@ROOT_ONLY
def test_heredoc(world: Path) -> None:
    copying.write_heredoc(world / "merged", "EOF", "hello\n", "/etc/motd", chown="bob", chmod="600")
    copying.copy_into(world / "merged", [copying.heredoc_source("script.sh", "echo\n")], "/usr/local/bin/")
    motd = (world / "merged/etc/motd").stat()
    assert (world / "merged/etc/motd").read_text() == "hello\n"
    assert (stat.S_IMODE(motd.st_mode), motd.st_uid) == (0o600, 1000)
    assert stat.S_IMODE((world / "merged/usr/local/bin/script.sh").stat().st_mode) == 0o644


def test_exclude_inside_a_directory(world: Path) -> None:
    (world / "ctx/dir/sub/y").write_text("nested y")
    found = select(SourceRoot(world / "ctx"), ["dir"], field_line="D:1")
    copying.copy_into(world / "merged", found, "/app/", exclude=["sub/x", "y"])
    assert listing(world / "merged/app") == {"sub", "sub/y"}  # "y" is a top-level name, as in patternmatcher
    found = select(SourceRoot(world / "ctx"), ["dir"], field_line="D:1")
    copying.copy_into(world / "merged", found, "/all/", exclude=["**/y"])
    assert listing(world / "merged/all") == {"sub", "sub/x"}


def test_parents(world: Path) -> None:
    os.chmod(world / "ctx/dir/sub", 0o701)
    found = select(SourceRoot(world / "ctx"), ["dir/sub/x", "a.txt", "dir/./sub/*"], field_line="D:1",
                   parents=True)
    copying.copy_into(world / "merged", found, "/keep/", parents=True)
    assert {"keep/dir/sub/x", "keep/a.txt", "keep/sub/x"} <= listing(world / "merged")
    assert stat.S_IMODE((world / "merged/keep/dir/sub").stat().st_mode) == 0o701  # the source's directory


# -- hostile destinations ------------------------------------------------------------
@pytest.mark.parametrize("target", ["/", "../../..", "/../outside", "../outside"])
def test_image_symlink_in_dest_stays_inside(world: Path, target: str) -> None:
    os.symlink(target, world / "merged/app")
    copy(world, ["dir"], "/app/deep/")
    copy(world, ["a.txt"], "/app/canary")
    untouched(world)
    landed = world / "merged" / ("outside" if "outside" in target else "")
    assert (landed / "deep/y").read_text() == "y" and (landed / "canary").read_text() == "a"


def test_final_dest_symlink_to_host_file_is_rerooted(world: Path) -> None:
    os.symlink(str(world / "outside/canary"), world / "merged/target")
    copy(world, ["a.txt"], "/target")
    untouched(world)


def test_file_through_an_image_symlink_then_over_it(world: Path) -> None:
    os.symlink("/etc", world / "merged/cfg")
    copy(world, ["a.txt"], "/cfg")
    assert (world / "merged/etc/a.txt").read_text() == "a"
    assert os.path.islink(world / "merged/cfg")


# -- ADD archives ---------------------------------------------------------------------
def make_tar(entries: list[tuple[str, str, bytes | str]]) -> bytes:
    """(name, kind, payload): kind f (file), d (dir), l (symlink -> payload), h (hardlink -> payload), c (chardev)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.uid, info.gid = 0o640, 5000, 42, 43
            data = payload if isinstance(payload, bytes) else payload.encode()
            if kind == "f":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE, "c": tarfile.CHRTYPE}[kind]
            info.linkname = data.decode()
            tar.addfile(info)
    return out.getvalue()


SIMPLE = [("top", "d", ""), ("top/f.txt", "f", "content"), ("top/l", "l", "f.txt")]


@pytest.mark.parametrize("wrap", [lambda b: b, gzip.compress, bz2.compress, lzma.compress])
def test_add_extracts_local_archives_by_content(world: Path, wrap) -> None:  # type: ignore[no-untyped-def]
    (world / "ctx/pkg.bin").write_bytes(wrap(make_tar(SIMPLE)))
    copy(world, ["pkg.bin"], "/opt/", instruction="ADD")
    m = world / "merged/opt"
    assert (m / "top/f.txt").read_text() == "content"
    assert os.readlink(m / "top/l") == "f.txt"
    assert stat.S_IMODE((m / "top/f.txt").stat().st_mode) == 0o640
    assert (m / "top/f.txt").stat().st_mtime == 5000


def test_copy_does_not_extract_and_fake_archives_are_files(world: Path) -> None:
    (world / "ctx/real.tar").write_bytes(make_tar(SIMPLE))
    (world / "ctx/fake.tar.gz").write_bytes(b"")
    (world / "ctx/zeros.tar").write_bytes(b"\0" * 1024)
    copy(world, ["real.tar"], "/c/")
    copy(world, ["fake.tar.gz", "zeros.tar"], "/a/", instruction="ADD")
    assert (world / "merged/c/real.tar").is_file()
    assert (world / "merged/a/fake.tar.gz").is_file() and (world / "merged/a/zeros.tar").is_file()


@ROOT_ONLY
def test_add_archive_owner(world: Path) -> None:
    (world / "ctx/p.tar").write_bytes(make_tar(SIMPLE))
    copy(world, ["p.tar"], "/keep/", instruction="ADD")
    assert (world / "merged/keep/top/f.txt").stat().st_uid == 42
    copy(world, ["p.tar"], "/own/", instruction="ADD", chown="7:8")
    info = (world / "merged/own/top/f.txt").stat()
    assert (info.st_uid, info.st_gid) == (7, 8)


@pytest.mark.parametrize(("entries", "message"), [
    ([("../evil", "f", "x")], "points outside"),
    ([("a/../../evil", "f", "x")], "points outside"),
    ([("h", "h", "../../outside/canary")], "points outside"),
    ([("h", "h", "/missing")], "not in the destination"),
    ([(".wh.etc", "f", "")], "whiteout"),
    ([("up", "l", "../../../outside"), ("up/canary", "f", "x")], "leads to no directory"),
])
def test_hostile_archives_are_refused(world: Path, entries: list, message: str) -> None:  # type: ignore[type-arg]
    (world / "ctx/bad.tar").write_bytes(make_tar(entries))
    with pytest.raises(InvalidInput, match=f"Dockerfile:5: ADD bad.tar: archive entry .*{message}"):
        copy(world, ["bad.tar"], "/d/", instruction="ADD")
    untouched(world)
    assert not (world / "evil").exists() and not (world / "merged/evil").exists()


def test_archive_paths_and_symlinks_stay_in_the_destination(world: Path) -> None:
    entries = [("/abs.txt", "f", "abs"), ("esc", "l", "/"), ("esc/etc/passwd", "f", "owned"),
               ("up", "l", "../../.."), ("up/canary", "f", "owned"), ("dev", "c", ""),
               ("h", "h", "abs.txt")]
    (world / "ctx/e.tar").write_bytes(make_tar(entries))
    copy(world, ["e.tar"], "/d/", instruction="ADD")
    d = world / "merged/d"
    untouched(world)
    assert (world / "merged/etc/passwd").read_text().startswith("root:")
    assert (d / "abs.txt").read_text() == "abs" and (d / "etc/passwd").read_text() == "owned"
    assert (d / "canary").read_text() == "owned"
    assert not (d / "dev").exists()  # device nodes skipped
    assert (d / "h").stat().st_ino == (d / "abs.txt").stat().st_ino


def test_archive_into_an_image_symlinked_dest(world: Path) -> None:
    os.symlink("../../outside", world / "merged/opt")
    (world / "ctx/p.tar").write_bytes(make_tar(SIMPLE))
    copy(world, ["p.tar"], "/opt/x", instruction="ADD")
    untouched(world)
    assert (world / "merged/outside/x/top/f.txt").exists()


# -- ADD URLs -------------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    body = make_tar(SIMPLE)

    def do_GET(self) -> None:
        if self.path.startswith("/missing"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_add_url_downloads_without_extracting(world: Path, server: str) -> None:
    good = "sha256:" + hashlib.sha256(_Handler.body).hexdigest()
    copy(world, [f"{server}/files/pkg.tar"], "/dl/", instruction="ADD", checksum=good)
    path = world / "merged/dl/pkg.tar"
    assert path.read_bytes() == _Handler.body
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.stat().st_mtime == 1445412480
    copy(world, [f"{server}/files/pkg.tar"], "/named", instruction="ADD")
    assert (world / "merged/named").is_file()


def test_add_url_errors(world: Path, server: str) -> None:
    with pytest.raises(InvalidInput, match="checksum mismatch"):
        copy(world, [f"{server}/x"], "/x", instruction="ADD", checksum="sha256:" + "0" * 64)
    with pytest.raises(InvalidInput, match="is not sha256"):
        copy(world, [f"{server}/x"], "/x", instruction="ADD", checksum="md5:abc")
    with pytest.raises(InvalidInput, match="HTTP 404"):
        copy(world, [f"{server}/missing"], "/x", instruction="ADD")
    port = server.rsplit(":", 1)[1]
    closed = f"http://127.0.0.1:{int(port) + 1 if int(port) < 65535 else 1}/x"
    with pytest.raises(InvalidInput, match="Dockerfile:5: ADD of a URL needs network access; COPY the file"):
        copy(world, [closed], "/x", instruction="ADD", url_timeout=2)
    assert not (world / "merged/x").exists()


def test_hostile_paths_without_openat2(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.berth.engine.plugins.module_utils import saferoot

    monkeypatch.setattr(saferoot, "have_openat2", False)  # the per-component walk
    os.symlink("../../..", world / "merged/app")
    os.symlink("/../../outside", world / "ctx/escape")
    with pytest.raises(InvalidInput, match="not found"):
        copy(world, ["escape"], "/x")
    (world / "ctx/e.tar").write_bytes(make_tar([("esc", "l", "/"), ("esc/../../evil", "f", "x"),
                                                ("esc/etc/passwd", "f", "owned")]))
    with pytest.raises(InvalidInput, match="points outside"):
        copy(world, ["e.tar"], "/app/d/", instruction="ADD")
    (world / "ctx/ok.tar").write_bytes(make_tar([("esc", "l", "/"), ("esc/etc/passwd", "f", "owned")]))
    copy(world, ["ok.tar"], "/app/d/", instruction="ADD")
    assert (world / "merged/d/etc/passwd").read_text() == "owned"
    untouched(world)
    assert not (world / "evil").exists()
