"""`berth cp` on the real kernel: into and out of a running busybox container
(through its mount namespace: a volume is seen) and a stopped one (through
its layers), tar streams on stdin/stdout, Docker's owner rules, symlinks that
point out of the container, and `berth exec`'s exit codes."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import BerthCli
from tests.support.cli_root import cli_with_rootfs
from tests.support.runtime import make_rootfs, mounts_under, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/cpbox:1"


@pytest.fixture
def berth(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BerthCli]:
    rootfs = make_rootfs(tmp_path_factory.mktemp("box"), ("ln",))
    (rootfs / "etc" / "image-file").write_text("from the image\n")
    (rootfs / "escape").symlink_to("/")   # a link to the container's / (the host's, if followed wrongly)
    with cli_with_rootfs(tmp_path, rootfs, IMAGE) as tool:
        yield tool


def _running(berth: BerthCli, name: str, *extra: str) -> None:
    berth("run", "-d", "--name", name, *extra, IMAGE, "sleep", "600")


def _cat(berth: BerthCli, name: str, path: str) -> str:
    return berth("exec", name, "cat", path).stdout


def test_file_in_and_out_of_a_running_container(berth: BerthCli, tmp_path: Path) -> None:
    _running(berth, "live", "-v", "data:/data")
    source = tmp_path / "hello.txt"
    source.write_text("hello\n")
    os.chown(source, 1234, 1234)
    os.chmod(source, 0o640)
    berth("cp", str(source), "live:/tmp/")                 # into a directory: keeps its name
    berth("cp", str(source), "live:/data/renamed.txt")     # onto a missing path in a volume: that name
    assert _cat(berth, "live", "/tmp/hello.txt") == "hello\n"
    assert _cat(berth, "live", "/data/renamed.txt") == "hello\n"
    listing = berth("exec", "live", "stat", "-c", "%u:%g %a", "/tmp/hello.txt").stdout.split()
    assert listing == ["0:0", "640"]                       # root's, as docker cp makes them
    berth("cp", "-a", str(source), "live:/tmp/kept.txt")
    assert berth("exec", "live", "stat", "-c", "%u:%g", "/tmp/kept.txt").stdout.strip() == "1234:1234"
    berth("exec", "live", "sh", "-c", "mkdir -p /srv/tree/sub && echo deep > /srv/tree/sub/f")
    out = tmp_path / "out"
    out.mkdir()
    berth("cp", "live:/srv/tree", str(out))
    assert (out / "tree" / "sub" / "f").read_text() == "deep\n"
    berth("cp", "live:/srv/tree/.", str(out / "merged"))   # missing: becomes the directory
    assert (out / "merged" / "sub" / "f").read_text() == "deep\n"


def test_stopped_and_created_containers_are_copied_through_their_layers(berth: BerthCli, tmp_path: Path) -> None:
    berth("run", "--name", "done", IMAGE, "sh", "-c", "echo written > /root/note")
    berth("create", "--name", "fresh", IMAGE, "cat", "/etc/from-host")
    out = tmp_path / "note"
    berth("cp", "done:/root/note", str(out))
    assert out.read_text() == "written\n"
    berth("cp", "fresh:/etc/image-file", str(tmp_path / "image-file"))
    assert (tmp_path / "image-file").read_text() == "from the image\n"
    source = tmp_path / "from-host"
    source.write_text("copied while created\n")
    berth("cp", str(source), "fresh:/etc/from-host")
    result = berth("start", "fresh")
    assert wait_for(lambda: berth.inspect("fresh")["state"]["status"] == "exited", timeout=20), result
    assert berth("logs", "fresh").stdout == "copied while created\n"
    assert not mounts_under(tmp_path)


def test_tar_streams_on_stdin_and_stdout(berth: BerthCli, tmp_path: Path) -> None:
    _running(berth, "streams")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        data = b"from a tar\n"
        info = tarfile.TarInfo("dir/file")
        info.size, info.uid, info.gid, info.mode = len(data), 7, 8, 0o600
        tar.addfile(info, io.BytesIO(data))
    subprocess.run([*berth.prefix, "cp", "-a", "-", "streams:/tmp"], input=archive.getvalue(), check=True,
                   capture_output=True, timeout=60)
    assert _cat(berth, "streams", "/tmp/dir/file") == "from a tar\n"
    assert berth("exec", "streams", "stat", "-c", "%u:%g %a", "/tmp/dir/file").stdout.split() == ["7:8", "600"]
    out = subprocess.run([*berth.prefix, "cp", "streams:/tmp/dir", "-"], check=True, capture_output=True,
                         timeout=60).stdout
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        names = tar.getnames()
        content = tar.extractfile("dir/file").read()   # type: ignore[union-attr]
    assert names == ["dir", "dir/file"] and content == b"from a tar\n"
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("../../outside"), io.BytesIO(b""))
    refused = subprocess.run([*berth.prefix, "cp", "-", "streams:/tmp"], input=evil.getvalue(),
                             capture_output=True, timeout=60, check=False)
    assert refused.returncode != 0 and b"climbs out" in refused.stderr


def test_symlinks_resolve_inside_the_container(berth: BerthCli, tmp_path: Path) -> None:
    _running(berth, "links")
    marker = tmp_path / "host-only"
    marker.write_text("host\n")
    source = tmp_path / "payload"
    source.write_text("inside\n")
    # /escape -> / : a destination through it lands in the container's root, never the host's
    berth("cp", str(source), f"links:/escape{tmp_path}/host-only", check=False)
    assert marker.read_text() == "host\n"
    berth("cp", str(source), "links:/escape/tmp/through-link")
    assert _cat(berth, "links", "/tmp/through-link") == "inside\n"
    berth("exec", "links", "ln", "-s", "/etc/image-file", "/tmp/alias")
    berth("cp", "links:/tmp/alias", str(tmp_path / "alias"))           # the link itself
    assert os.readlink(tmp_path / "alias") == "/etc/image-file"
    berth("cp", "-L", "links:/tmp/alias", str(tmp_path / "followed"))  # what it names, in the container
    assert (tmp_path / "followed").read_text() == "from the image\n"
    berth("exec", "links", "ln", "-s", "/etc/shadow-of-host", "/tmp/dangling")
    missing = berth("cp", "-L", "links:/tmp/dangling", str(tmp_path / "x"), check=False)
    assert missing.returncode != 0 and "no such file" in missing.stderr and "links" in missing.stderr


def test_errors_name_the_path_and_the_container(berth: BerthCli, tmp_path: Path) -> None:
    _running(berth, "errs")
    missing = berth("cp", "errs:/no/such", str(tmp_path / "x"), check=False)
    assert missing.returncode == 1 and "/no/such" in missing.stderr and "errs" in missing.stderr
    file = tmp_path / "f"
    file.write_text("x")
    no_parent = berth("cp", str(file), "errs:/no/such/file", check=False)
    assert no_parent.returncode == 1 and "parent directory" in no_parent.stderr
    not_dir = berth("cp", str(file), "errs:/etc/image-file/", check=False)
    assert not_dir.returncode == 1 and "not a directory" in not_dir.stderr
    dir_onto_file = berth("cp", str(tmp_path), "errs:/etc/image-file", check=False)
    assert dir_onto_file.returncode == 1 and "cannot copy the directory" in dir_onto_file.stderr
    both = berth("cp", "errs:/etc", "errs:/tmp", check=False)
    assert both.returncode == 1 and "between containers" in both.stderr
    nobody = berth("cp", "ghost:/etc", str(tmp_path), check=False)
    assert nobody.returncode == 1 and "ghost" in nobody.stderr


def test_exec_exit_codes_and_stdin(berth: BerthCli) -> None:
    _running(berth, "codes")
    assert berth("exec", "codes", "no-such-command", check=False).returncode == 127
    assert berth("exec", "codes", "/etc/image-file", check=False).returncode == 126   # not executable
    assert berth("exec", "codes", "sh", "-c", "exit 3", check=False).returncode == 3
    piped = subprocess.run([*berth.prefix, "exec", "-i", "codes", "cat"], input="through stdin\n", text=True,
                           capture_output=True, timeout=60, check=False)
    assert (piped.returncode, piped.stdout) == (0, "through stdin\n")
