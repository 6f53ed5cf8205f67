"""docker cp's rules (containers/copying.py) between two directories standing
for the container's root and the host's: file vs directory destinations,
``/.``, trailing slashes, missing paths, symlinks that point out of the
container (followed with -L only inside it), owners, and tar streams."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils import saferoot
from ansible_collections.berth.engine.plugins.module_utils.containers import copyfs, copying
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, NotFound


class Roots:
    """A "container" root and a "host" root, each as a descriptor."""

    def __init__(self, base: Path) -> None:
        self.container, self.host = base / "container", base / "host"
        for root in (self.container, self.host):
            (root / "etc").mkdir(parents=True)
        (self.container / "etc" / "conf").write_text("container conf\n")
        (self.container / "etc" / "tree" / "sub").mkdir(parents=True)
        (self.container / "etc" / "tree" / "sub" / "leaf").write_text("leaf\n")
        (self.container / "etc" / "tree" / "top").write_text("top\n")
        (self.container / "out").symlink_to("/")                     # the container's / ...
        (self.container / "up").symlink_to("../../../../../../..")   # ... however it is spelt
        (self.container / "abs-passwd").symlink_to("/etc/conf")      # inside: /etc/conf of the container
        (base / "host-secret").write_text("host secret\n")
        self.fds = [saferoot.open_root(self.container), saferoot.open_root(self.host)]

    def copy_in(self, src: str, dest: str, **options: object) -> int:
        """host → container"""
        return copying.copy_tree(self.fds[1], src, "host", self.fds[0], dest, "container c",
                                 owner=options.get("owner", (0, 0)),  # type: ignore[arg-type]
                                 follow_link=bool(options.get("follow_link")))

    def copy_out(self, src: str, dest: str, follow_link: bool = False) -> int:
        return copying.copy_tree(self.fds[0], src, "container c", self.fds[1], dest, "host", owner=None,
                                 follow_link=follow_link)

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)


@pytest.fixture
def roots(tmp_path: Path, resolver: str) -> Iterator[Roots]:
    made = Roots(tmp_path)
    yield made
    made.close()


def test_file_onto_missing_existing_file_and_directory(roots: Roots) -> None:
    roots.copy_out("/etc/conf", "/etc/new-name")                 # missing: that name
    assert (roots.host / "etc" / "new-name").read_text() == "container conf\n"
    (roots.host / "etc" / "existing").write_text("old, longer content\n")
    roots.copy_out("/etc/conf", "/etc/existing")                 # a file: replaced
    assert (roots.host / "etc" / "existing").read_text() == "container conf\n"
    roots.copy_out("/etc/conf", "/etc")                          # a directory: into it, same name
    roots.copy_out("/etc/conf", "/etc/")
    assert (roots.host / "etc" / "conf").read_text() == "container conf\n"
    assert not [p for p in (roots.host / "etc").iterdir() if p.name.startswith(".berth-cp-")]


def test_directory_rules(roots: Roots) -> None:
    roots.copy_out("/etc/tree", "/copy")                         # missing: becomes it
    assert (roots.host / "copy" / "sub" / "leaf").read_text() == "leaf\n"
    roots.copy_out("/etc/tree", "/etc")                          # existing dir: inside, same name
    assert (roots.host / "etc" / "tree" / "top").read_text() == "top\n"
    (roots.host / "merge").mkdir()
    (roots.host / "merge" / "mine").write_text("kept\n")
    roots.copy_out("/etc/tree/.", "/merge")                      # "/.": the contents, merged
    assert sorted(p.name for p in (roots.host / "merge").iterdir()) == ["mine", "sub", "top"]
    (roots.host / "etc" / "afile").write_text("x")
    with pytest.raises(InvalidInput, match="cannot copy the directory"):
        roots.copy_out("/etc/tree", "/etc/afile")


def test_trailing_slashes_and_missing_paths(roots: Roots) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        roots.copy_out("/etc/conf", "/nowhere/")                 # a directory that must exist
    with pytest.raises(NotFound, match="parent directory"):
        roots.copy_out("/etc/conf", "/no/such/file")
    with pytest.raises(InvalidInput, match="not a directory"):
        roots.copy_out("/etc/conf/", "/x")                       # a file named as a directory
    with pytest.raises(NotFound, match=r"/etc/missing: no such file or directory in the container c"):
        roots.copy_out("/etc/missing", "/x")
    with pytest.raises(InvalidInput, match=r"'\.\.'"):
        roots.copy_out("/..", "/x")


def test_symlinks_never_leave_the_container(roots: Roots, tmp_path: Path) -> None:
    (roots.host / "payload").write_text("payload\n")
    # writing through links that point out: they land in the container's own root
    with pytest.raises(NotFound, match="parent directory"):   # no such directory inside the container
        roots.copy_in("/payload", f"/out{tmp_path}/host-secret")
    assert (tmp_path / "host-secret").read_text() == "host secret\n"
    roots.copy_in("/payload", "/up/etc/through-up")
    assert (roots.container / "etc" / "through-up").read_text() == "payload\n"
    # a link copied out is a link; -L follows it inside the container, never on the host
    roots.copy_out("/abs-passwd", "/link")
    assert os.readlink(roots.host / "link") == "/etc/conf"
    roots.copy_out("/abs-passwd", "/followed", follow_link=True)
    assert (roots.host / "followed").read_text() == "container conf\n"
    (roots.container / "to-host").symlink_to(str(tmp_path / "host-secret"))
    with pytest.raises(NotFound):
        roots.copy_out("/to-host", "/leak", follow_link=True)
    assert not (roots.host / "leak").exists()


def test_owners_and_modes(roots: Roots) -> None:
    source = roots.host / "script"
    source.write_text("#!/bin/sh\n")
    os.chown(source, 1000, 1000)
    os.chmod(source, 0o4750)   # after chown, which clears it
    roots.copy_in("/script", "/etc/default-owner")
    roots.copy_in("/script", "/etc/kept-owner", owner=None)
    made, kept = (roots.container / "etc" / "default-owner").stat(), (roots.container / "etc" / "kept-owner").stat()
    assert (made.st_uid, made.st_gid, made.st_mode & 0o7777) == (0, 0, 0o4750)
    assert (kept.st_uid, kept.st_gid) == (1000, 1000)


def test_overwriting_across_kinds_is_refused(roots: Roots) -> None:
    (roots.host / "etc" / "tree").write_text("a file where the directory goes\n")
    with pytest.raises(InvalidInput, match="non-directory"):
        roots.copy_out("/etc/tree", "/etc")
    (roots.host / "etc" / "conf").mkdir()
    with pytest.raises(InvalidInput, match="overwrite directory"):
        roots.copy_out("/etc/conf", "/etc")


def _tar(*members: tuple[str, bytes | None, str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            else:
                info.size, info.uid, info.gid = len(data or b""), 5, 6
                tar.addfile(info, io.BytesIO(data or b""))
    buffer.seek(0)
    return buffer


def test_tar_in_stays_in_the_destination(roots: Roots, tmp_path: Path) -> None:
    dest = os.open(roots.container / "etc", os.O_RDONLY | os.O_DIRECTORY)
    try:
        writer = copyfs.TreeWriter(dest, None, None)
        # a link to the host's directory, then a file "through" it: the file must not follow the link
        stream = _tar(("deep/a/b", b"nested, parents never listed", ""), ("esc", None, str(tmp_path)),
                      ("esc/host-secret", b"overwritten?", ""))
        with pytest.raises(OSError):
            writer.write_all(copyfs.read_tar(stream))
    finally:
        os.close(dest)
    assert (roots.container / "etc" / "deep" / "a" / "b").read_bytes() == b"nested, parents never listed"
    assert (tmp_path / "host-secret").read_text() == "host secret\n"
    with pytest.raises(InvalidInput, match="climbs out"):
        list(copyfs.read_tar(_tar(("../../x", b"", ""))))


def test_tar_out_names_and_sizes(roots: Roots) -> None:
    source = copying.resolve_source(roots.fds[0], "/etc/tree", "container c", False)
    buffer = io.BytesIO()
    try:
        count = copyfs.write_tar(copyfs.walk(source.parent_fd, source.name), buffer, source.copy_name)
    finally:
        os.close(source.parent_fd)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        assert tar.getnames() == ["tree", "tree/sub", "tree/sub/leaf", "tree/top"] and count == 4
        assert tar.extractfile("tree/sub/leaf").read() == b"leaf\n"   # type: ignore[union-attr]


def test_a_file_that_changes_size_keeps_the_tar_whole() -> None:
    grown = copyfs._Exactly(io.BytesIO(b"0123456789"), 4)
    assert grown.read() == b"0123"
    shrunk = copyfs._Exactly(io.BytesIO(b"01"), 4)
    assert shrunk.read(3) + shrunk.read() == b"01\0\0"


def test_many_directories_keep_few_descriptors_and_their_times(
        roots: Roots, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(copyfs, "MAX_OPEN_DIRS", 4)
    wide = roots.container / "wide"
    for index in range(12):
        (wide / f"d{index}" / "inner").mkdir(parents=True)
        (wide / f"d{index}" / "inner" / "f").write_text(str(index))
    os.utime(wide / "d3", (1_000_000, 1_000_000))
    before = len(os.listdir("/proc/self/fd"))
    assert roots.copy_out("/wide", "/wide") == 1 + 12 * 3
    assert len(os.listdir("/proc/self/fd")) == before
    assert (roots.host / "wide" / "d11" / "inner" / "f").read_text() == "11"
    assert (roots.host / "wide" / "d3").stat().st_mtime == 1_000_000
