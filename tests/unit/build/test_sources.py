"""COPY/ADD source selection and content digests (build/sources.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.build import sources
from ansible_collections.berth.engine.plugins.module_utils.build.sources import (
    SourceRoot,
    content_digest,
    match,
    select,
)
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput


class FakeIgnore:
    """A stand-in for build/ignore.Ignore: exact paths and their subtrees."""

    def __init__(self, excluded: set[str], keep: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.paths, self.keep = excluded, keep

    def excluded(self, rel: str) -> bool:
        if rel in self.keep:
            return False
        return any(rel == p or rel.startswith(p + "/") for p in self.paths)

    def may_contain_included(self, rel_dir: str) -> bool:
        return any(k.startswith(rel_dir + "/") for k in self.keep)


def tree(base: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return base


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    return tree(tmp_path / "ctx", {"a.txt": "a", "b.txt": "b", "c.md": "c", "src/x/one.txt": "1",
                                   "src/y/two.txt": "2", "src/top.txt": "t", "arr[0].txt": "arr"})


def rels(found: list[sources.Selected]) -> list[str]:
    return [item.rel for item in found]


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("*.txt", "a.txt", True), ("*.txt", "a/b.txt", False), ("?.txt", "ab.txt", False),
    ("[a-c].txt", "b.txt", True), ("[^a-c].txt", "b.txt", False), ("[^a-c].txt", "d.txt", True),
    ("\\*", "*", True), ("\\*", "a", False), ("arr[[]0].txt", "arr[0].txt", True), ("a*b", "axxb", True),
])
def test_go_filepath_match(pattern: str, name: str, expected: bool) -> None:
    assert match(pattern, name) is expected


@pytest.mark.parametrize("pattern", ["[", "[]", "a\\", "[a-", "[-a]"])
def test_bad_patterns_are_refused(pattern: str, ctx: Path) -> None:
    with pytest.raises(sources.BadPattern):
        match(pattern, "x")
    if pattern == "a\\":
        return  # no wildcard in it: a literal name (BuildKit's containsWildcards)
    with pytest.raises(InvalidInput, match=r"Dockerfile:2: COPY source .* is not a valid pattern"):
        select(SourceRoot(ctx), [pattern], field_line="Dockerfile:2")


def test_parent_navigation_is_removed_as_buildkit_does(ctx: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("host")
    root = SourceRoot(ctx)
    found = select(root, ["../a.txt", "/b.txt", "./src/../c.md"], field_line="D:1")
    assert rels(found) == ["a.txt", "b.txt", "c.md"]
    with pytest.raises(InvalidInput) as err:
        select(root, ["../secret"], field_line="Dockerfile:7")
    assert err.value.message == 'Dockerfile:7: COPY failed: "../secret" not found in build context'
    assert err.value.field == "build.dockerfile" and err.value.hint


def test_missing_source_names_the_label(ctx: Path) -> None:
    with pytest.raises(InvalidInput, match='D:3: COPY failed: "/nope" not found in stage builder'):
        select(SourceRoot(ctx, label="stage builder"), ["/nope"], field_line="D:3")


def test_wildcards_match_per_component_and_in_order(ctx: Path) -> None:
    root = SourceRoot(ctx)
    assert rels(select(root, ["*.txt"], field_line="D:1")) == ["a.txt", "arr[0].txt", "b.txt"]
    assert rels(select(root, ["src/*/*.txt"], field_line="D:1")) == ["src/x/one.txt", "src/y/two.txt"]
    assert rels(select(root, ["s*"], field_line="D:1")) == ["src"]  # a matching directory is taken whole
    assert rels(select(root, ["arr[[]0].txt"], field_line="D:1")) == ["arr[0].txt"]


def test_wildcard_matching_nothing_selects_nothing(ctx: Path) -> None:
    # BuildKit copies with AllowEmptyWildcard: no match is not an error
    assert select(SourceRoot(ctx), ["*.none", "nothere/*"], field_line="D:1") == []


def test_directory_and_root_sources(ctx: Path) -> None:
    found = select(SourceRoot(ctx), ["src/", "."], field_line="D:1")
    assert [(i.rel, i.is_dir) for i in found] == [("src", True), ("", True)]


def test_dockerignore_hides_paths(ctx: Path) -> None:
    root = SourceRoot(ctx, FakeIgnore({"a.txt", "src/x"}))
    with pytest.raises(InvalidInput, match="not found"):
        select(root, ["a.txt"], field_line="D:1")
    with pytest.raises(InvalidInput, match="not found"):
        select(root, ["src/x/one.txt"], field_line="D:1")
    assert rels(select(root, ["*.txt"], field_line="D:1")) == ["arr[0].txt", "b.txt"]
    assert rels(select(root, ["src/*"], field_line="D:1")) == ["src/top.txt", "src/y"]


def test_dockerignore_exception_reopens_a_directory(ctx: Path) -> None:
    root = SourceRoot(ctx, FakeIgnore({"src"}, keep={"src/x/one.txt"}))
    assert rels(select(root, ["src/x/one.txt"], field_line="D:1")) == ["src/x/one.txt"]
    with pytest.raises(InvalidInput):
        select(root, ["src/top.txt"], field_line="D:1")


def test_source_symlink_is_followed_inside_the_root(ctx: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("host")
    os.symlink("/a.txt", ctx / "abs")
    os.symlink("src", ctx / "dirlink")
    os.symlink("../../outside.txt", ctx / "escape")
    os.symlink("/etc", ctx / "hostetc")
    found = select(SourceRoot(ctx), ["abs", "dirlink"], field_line="D:1")
    assert [(i.name, i.is_dir) for i in found] == [("abs", False), ("dirlink", True)]
    for name in ("escape", "hostetc"):  # resolve inside the context, where there is nothing
        with pytest.raises(InvalidInput, match="not found"):
            select(SourceRoot(ctx), [name], field_line="D:1")


def test_with_the_real_dockerignore(ctx: Path) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.build.ignore import Ignore

    tree(ctx, {"logs/a.log": "1", "logs/keep.log": "k", "src/x/debug.log": "d", ".dockerignore": ""})
    root = SourceRoot(ctx, Ignore(["**/*.log", "!logs/keep.log", "src/y"]))
    assert rels(select(root, ["logs/*"], field_line="D:1")) == ["logs/keep.log"]
    with pytest.raises(InvalidInput, match="not found"):
        select(root, ["src/y/two.txt"], field_line="D:1")
    before = digest(root, ".")
    (ctx / "src/x/debug.log").write_text("changed")
    (ctx / "src/y/two.txt").write_text("changed")
    assert digest(root, ".") == before
    (ctx / "logs/keep.log").write_text("changed")
    assert digest(root, ".") != before


def test_symlink_to_an_ignored_file_is_not_followed(ctx: Path) -> None:
    os.symlink("a.txt", ctx / "la")
    with pytest.raises(InvalidInput, match="not found"):
        select(SourceRoot(ctx, FakeIgnore({"a.txt"})), ["la"], field_line="D:1")


def test_urls_and_git(ctx: Path) -> None:
    root = SourceRoot(ctx)
    (item,) = select(root, ["https://example.com/dl/tool.tgz?x=1"], field_line="D:1", instruction="ADD")
    assert (item.kind, item.name) == ("url", "tool.tgz")
    for url, name in (("http://example.com", "__unnamed__"), ("http://h/a/..", "__unnamed__"),
                      ("http://h/my%20file.txt", "my file.txt")):
        assert select(root, [url], field_line="D:1", instruction="ADD")[0].name == name
    with pytest.raises(InvalidInput, match=r"D:1: COPY source .* is a URL"):
        select(root, ["https://example.com/x"], field_line="D:1")
    for git in ("git@github.com:a/b.git", "https://github.com/a/b.git#main"):
        with pytest.raises(InvalidInput, match="git repository"):
            select(root, [git], field_line="D:1", instruction="ADD")


def test_parents_keep_the_path(ctx: Path) -> None:
    found = select(SourceRoot(ctx), ["src/x/one.txt", "src/./y/*.txt"], field_line="D:1", parents=True)
    assert [i.parents for i in found] == ["src/x/one.txt", "y/two.txt"]
    with pytest.raises(InvalidInput, match="--parents with"):
        select(SourceRoot(ctx), ["src/**/*.txt"], field_line="D:1", parents=True)


def test_exclude_drops_matches(ctx: Path) -> None:
    assert rels(select(SourceRoot(ctx), ["*"], field_line="D:1", exclude=["*.txt"])) == ["c.md", "src"]


def digest(root: SourceRoot, *patterns: str) -> str:
    return content_digest(root, select(root, list(patterns), field_line="D:1"))


def test_digest_ignores_mtime_but_not_content_mode_names_links(ctx: Path) -> None:
    root = SourceRoot(ctx)
    first = digest(root, "src", "a.txt")
    assert digest(root, "src", "a.txt") == first
    os.utime(ctx / "src/x/one.txt", (1, 1))
    assert digest(root, "src", "a.txt") == first
    (ctx / "src/x/one.txt").write_text("changed")
    second = digest(root, "src", "a.txt")
    assert second != first
    os.chmod(ctx / "src/x/one.txt", 0o755)
    third = digest(root, "src", "a.txt")
    assert third != second
    os.rename(ctx / "src/x/one.txt", ctx / "src/x/uno.txt")
    assert digest(root, "src", "a.txt") != third
    os.symlink("a", ctx / "src/l")
    with_link = digest(root, "src")
    os.unlink(ctx / "src/l")
    os.symlink("b", ctx / "src/l")
    assert digest(root, "src") != with_link


def test_digest_skips_ignored_files(ctx: Path) -> None:
    root = SourceRoot(ctx, FakeIgnore({"src/x"}))
    before = digest(root, "src")
    (ctx / "src/x/one.txt").write_text("ignored change")
    (ctx / "src/x/new").write_text("new")
    assert digest(root, "src") == before
    (ctx / "src/top.txt").write_text("seen")
    assert digest(root, "src") != before


def test_digest_counts_owner_only_for_from_sources(ctx: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    context, stage = SourceRoot(ctx), SourceRoot(ctx, keep_owner=True)
    before = (digest(context, "a.txt"), digest(stage, "a.txt"))
    os.chown(ctx / "a.txt", 1000, 1000)
    assert digest(context, "a.txt") == before[0]
    assert digest(stage, "a.txt") != before[1]


def test_digest_of_many_files(tmp_path: Path) -> None:
    ctx = tree(tmp_path / "ctx", {f"d{i % 10}/f{i}.txt": str(i) * 50 for i in range(500)})
    root = SourceRoot(ctx)
    value = digest(root, ".")
    assert value.startswith("sha256:") and value == digest(root, ".")
    os.link(ctx / "d0/f0.txt", ctx / "d0/hard")
    assert digest(root, ".") != value
