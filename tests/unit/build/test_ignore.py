""".dockerignore with moby/patternmatcher semantics."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.build.ignore import Ignore, read_patterns
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

MATCH_CASES = [
    # (patterns, path, excluded)
    (["foo"], "foo", True),
    (["foo"], "foo/bar", True),            # a directory excludes what it holds
    (["foo"], "foobar", False),
    (["foo"], "x/foo", False),
    (["*.md"], "README.md", True),
    (["*.md"], "docs/a.md", False),         # * stays in one element
    (["**/*.md"], "docs/a.md", True),
    (["**/*.md"], "a.md", True),
    (["docs/**"], "docs/a/b", True),
    (["docs/**"], "docsx", False),
    (["**"], "anything/at/all", True),
    (["a/**/b"], "a/b", True),
    (["a/**/b"], "a/x/y/b", True),
    (["a/**/b"], "a/x/c", False),
    (["?.txt"], "a.txt", True),
    (["?.txt"], "ab.txt", False),
    (["[ab].txt"], "b.txt", True),
    (["[^ab].txt"], "b.txt", False),
    (["[a-c]*"], "cat", True),
    (["/abs"], "abs", True),               # leading "/" stripped
    (["./dot/../x"], "x", True),            # cleaned
    (["x/"], "x/y", True),
    (["a.b"], "axb", False),                # "." is literal
    (["a+(b)"], "a+(b)", True),
    (["\\*"], "*", True),
    (["\\*"], "x", False),
    (["*", "!keep"], "keep", False),
    (["*", "!keep"], "other", True),
    (["*", "!keep", "keep"], "keep", True),      # the last match wins
    (["dir", "!dir/keep"], "dir/keep", False),
    (["dir", "!dir/keep"], "dir/keep/deep", False),
    (["dir", "!dir/keep"], "dir/drop", True),
    (["!x", "x"], "x", True),
    (["**/node_modules"], "a/b/node_modules/c", True),
    ([], "anything", False),
]


@pytest.mark.parametrize(("patterns", "path", "excluded"), MATCH_CASES)
def test_excluded(patterns: list[str], path: str, excluded: bool) -> None:
    assert Ignore(read_patterns("\n".join(patterns))).excluded(path) is excluded


def test_context_root_never_excluded() -> None:
    ignore = Ignore(["**"])
    assert not ignore.excluded(".") and not ignore.excluded("")
    assert ignore.excluded("/a") and ignore.excluded("./a")


def test_read_patterns() -> None:
    text = "\ufeff# comment\n\n  *.log  \n ! keep.log\n/abs/path/\nsub/../other\n #not-a-comment\n!\n"
    assert read_patterns(text) == ["*.log", "!keep.log", "abs/path", "other", "#not-a-comment", "!"]


def test_bad_patterns() -> None:
    with pytest.raises(InvalidInput, match="illegal exclusion"):
        Ignore(["!"])
    for bad in ("[abc", "a\\"):
        with pytest.raises(InvalidInput) as info:
            Ignore([bad])
        assert info.value.field == "build.dockerignore"


@pytest.mark.parametrize(("patterns", "directory", "may"), [
    (["dir"], "dir", False),
    (["dir", "!dir/keep"], "dir", True),
    (["dir", "!other/keep"], "dir", False),
    (["dir", "!**/keep"], "dir", True),
    (["dir", "!d*/keep"], "dir", True),
    (["dir", "!dir/a/keep"], "dir/b", False),
    (["dir", "!dir/a/keep"], "dir/a", True),
    (["dir", "!dir"], "dir/sub", True),
])
def test_may_contain_included(patterns: list[str], directory: str, may: bool) -> None:
    assert Ignore(patterns).may_contain_included(directory) is may


def test_load_prefers_dockerfile_specific(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("general\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "prod.Dockerfile.dockerignore").write_text("specific\n")
    assert Ignore.load(tmp_path, "build/prod.Dockerfile").excluded("specific")
    assert not Ignore.load(tmp_path, "build/prod.Dockerfile").excluded("general")
    assert Ignore.load(tmp_path, "Dockerfile").excluded("general")
    assert Ignore.load(tmp_path, str(tmp_path / "other.Dockerfile")).excluded("general")


def test_load_without_files(tmp_path: Path) -> None:
    ignore = Ignore.load(tmp_path, "Dockerfile")
    assert not ignore and not ignore.excluded("x")


def test_random_patterns_never_crash() -> None:
    rng = random.Random(5)
    alphabet = "ab*?[]^!/.\\-+()"
    for _round in range(2000):
        patterns = ["".join(rng.choice(alphabet) for _round in range(rng.randint(1, 6))) for _round in range(3)]
        try:
            ignore = Ignore(read_patterns("\n".join(patterns)))
        except InvalidInput:
            continue
        for path in ("a", "a/b", "b/a/a", "ab.c"):
            ignore.excluded(path)
            ignore.may_contain_included(path)
