"""The Dockerfile parser: directives, continuations, comments, heredocs, JSON form, flags."""

from __future__ import annotations

import random

import pytest

from ansible_collections.berth.engine.plugins.module_utils.build.dockerfile import (
    DockerfileError,
    Heredoc,
    heredoc_word,
    parse,
)
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput


def one(text: str):
    nodes = parse(text).nodes
    assert len(nodes) == 1, nodes
    return nodes[0]


def test_simple_file_lines_and_keywords() -> None:
    df = parse("from busybox\n\nrun echo hi\n  Cmd [\"sh\"]\n")
    assert [(n.keyword, n.line, n.end_line) for n in df.nodes] == [("FROM", 1, 1), ("RUN", 3, 3), ("CMD", 4, 4)]
    assert df.nodes[1].args == ("echo hi",) and not df.nodes[1].json_form
    assert df.nodes[2].args == ("sh",) and df.nodes[2].json_form
    assert df.escape == "\\" and df.directives == {} and df.warnings == ()


DIRECTIVE_CASES = [
    ("# syntax=docker/dockerfile:1\nFROM a\n", {"syntax": "docker/dockerfile:1"}, "\\"),
    ("# escape=`\nFROM a\n", {"escape": "`"}, "`"),
    ("#ESCAPE = `\nFROM a\n", {"escape": "`"}, "`"),
    ("# check=skip=all\n# syntax=x\nFROM a\n", {"check": "skip=all", "syntax": "x"}, "\\"),
    ("  # escape=`\nFROM a\n", {"escape": "`"}, "`"),
    # a blank line, a plain comment or an unknown directive ends the directives
    ("\n# escape=`\nFROM a\n", {}, "\\"),
    ("# hello\n# escape=`\nFROM a\n", {}, "\\"),
    ("# foo=bar\n# escape=`\nFROM a\n", {}, "\\"),
    ("FROM a\n# escape=`\n", {}, "\\"),
]


@pytest.mark.parametrize(("text", "directives", "escape"), DIRECTIVE_CASES)
def test_directives(text: str, directives: dict[str, str], escape: str) -> None:
    df = parse(text)
    assert df.directives == directives
    assert df.escape == escape


@pytest.mark.parametrize(("text", "fragment"), [
    ("# escape=x\nFROM a\n", "invalid escape token"),
    ("# escape=\\\n# escape=`\nFROM a\n", "only one escape parser directive"),
    ("", "file with no instructions"),
    ("# just a comment\n\n", "file with no instructions"),
    ("FROM a\nRUN <<EOF\nno end\n", "unterminated heredoc"),
    ("FROM a\nCMD [\"a\", 1]\n", "arrays must be comprised of strings only"),
])
def test_parse_errors(text: str, fragment: str) -> None:
    with pytest.raises(DockerfileError) as info:
        parse(text, "ctx/Dockerfile.dev")
    err = info.value
    assert fragment in err.message
    assert err.message.startswith("ctx/Dockerfile.dev:")
    assert err.field == "build.dockerfile" and err.hint
    assert isinstance(err, InvalidInput)


def test_error_line_number() -> None:
    with pytest.raises(DockerfileError) as info:
        parse("FROM a\n\nCMD [1]\n")
    assert info.value.message.startswith("Dockerfile:3: ")


CONTINUATION_CASES = [
    ("RUN echo a \\\n  b\n", "echo a   b", 1, 2),
    ("RUN echo a \\   \n  b\n", "echo a   b", 1, 2),          # blanks after the escape
    ("RUN echo a\\\n# comment\n  b\n", "echo a  b", 1, 3),       # comment inside
    ("RUN echo a\\\n\n b\n", "echo a b", 1, 3),                  # empty continuation line
    ("RUN a\\\n b\\\n c\n", "a b c", 1, 3),
    ("RUN a \\\\\n", "a \\\\", 1, 1),                            # escaped escape: no continuation
    ("RUN a\\", "a", 1, 1),                                       # continuation at EOF
]


@pytest.mark.parametrize(("text", "args", "line", "end"), CONTINUATION_CASES)
def test_continuations(text: str, args: str, line: int, end: int) -> None:
    node = one(text)
    assert node.args == (args,)
    assert (node.line, node.end_line) == (line, end)
    assert node.original == "RUN " + args


def test_empty_continuation_warns() -> None:
    df = parse("FROM a\nRUN echo a\\\n\n b\n")
    assert len(df.warnings) == 1 and "empty continuation line" in df.warnings[0]


def test_backtick_escape_continuation() -> None:
    df = parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  /s\n")
    assert df.nodes[1].args == ("dir c:\\   /s",)


def test_crlf_and_bom() -> None:
    df = parse("\ufeffFROM a\r\nRUN echo \\\r\n b\r\n")
    assert df.nodes[0].args == ("a",)
    assert df.nodes[1].args == ("echo  b",)


FLAG_CASES = [
    ("COPY --from=build --chown=1:2 a b", ("--from=build", "--chown=1:2"), ("a b",)),
    ("COPY --link a b", ("--link",), ("a b",)),
    ('RUN --mount="type=cache,target=/x" echo', ("--mount=type=cache,target=/x",), ("echo",)),
    ("RUN -- --not-a-flag", (), ("--not-a-flag",)),
    ("RUN -x", (), ("-x",)),
    ("COPY --chown=a\\ b x y", ("--chown=a b",), ("x y",)),
    ("HEALTHCHECK --interval=5s CMD true", ("--interval=5s",), ("CMD true",)),
]


@pytest.mark.parametrize(("text", "flags", "args"), FLAG_CASES)
def test_flags(text: str, flags: tuple[str, ...], args: tuple[str, ...]) -> None:
    node = one(text)
    assert node.flags == flags
    assert node.args == args


JSON_CASES = [
    ('CMD ["a", "b c"]', ("a", "b c"), True),
    ("CMD [ ]", (), True),
    ("CMD ['a']", ("['a']",), False),                 # not JSON: shell form
    ('CMD ["a"', ('["a"',), False),
    ('CMD ["a" "b"]', ('["a" "b"]',), False),
    ('CMD {"a": 1}', ('{"a": 1}',), False),
    ('CMD ["a\\u0041"]', ("aA",), True),
    ("CMD [NaN]", ("[NaN]",), False),                 # Go's JSON has no NaN
    ('VOLUME ["/a", "/b"]', ("/a", "/b"), True),
    ("VOLUME /a /b", ("/a /b",), False),
    ('ENV ["a", "b"]', ('["a", "b"]',), False),       # ENV has no JSON form
    ('LABEL ["a"]', ('["a"]',), False),
    ('COPY ["a b", "/c"]', ("a b", "/c"), True),
    ('SHELL ["/bin/bash", "-c"]', ("/bin/bash", "-c"), True),
    ("CMD", (), False),
]


@pytest.mark.parametrize(("text", "args", "is_json"), JSON_CASES)
def test_json_form(text: str, args: tuple[str, ...], is_json: bool) -> None:
    node = one(text)
    assert node.args == args
    assert node.json_form is is_json


def test_heredoc_basic() -> None:
    df = parse("FROM a\nRUN <<EOF\necho $HOME\n  indented\nEOF\nCMD x\n")
    run = df.nodes[1]
    assert run.args == ("<<EOF",)
    assert run.heredocs == (Heredoc(name="EOF", content="echo $HOME\n  indented\n", expand=True, chomp=False),)
    assert (run.line, run.end_line) == (2, 5)
    assert df.nodes[2].line == 6


def test_heredoc_chomp_and_quotes() -> None:
    node = one("COPY <<-\"A\" <<'B' <<C /dest/\n\tone\n\tA\n$two\nB\nthree\nC\n")
    names = [(h.name, h.expand, h.chomp, h.content) for h in node.heredocs]
    assert names == [("A", False, True, "one\n"), ("B", False, False, "$two\n"), ("C", True, False, "three\n")]
    assert node.heredocs[0].raw == "\tone\n"


def test_heredoc_with_fd_and_cmd() -> None:
    node = one("RUN 3<<EOF cat /proc/self/fd/3\nx\nEOF\n")
    assert node.heredocs[0].fd == 3 and node.heredocs[0].content == "x\n"


def test_heredoc_empty_body_and_crlf_terminator() -> None:
    node = one("RUN <<EOF\r\nEOF\r\n")
    assert node.heredocs[0].content == ""


@pytest.mark.parametrize("text", [
    'RUN ["cat", "<<EOF"]\n',       # JSON form: no heredoc
    "CMD <<EOF\n",                   # CMD takes none
    "RUN echo '<<EOF'\n",            # quoted marker is not a heredoc
    "RUN echo a<<b\n",
    "RUN cat << \n",
])
def test_not_heredocs(text: str) -> None:
    df = parse(text + "EOF\n")
    assert df.nodes[0].heredocs == ()


def test_onbuild_heredoc() -> None:
    node = one("ONBUILD RUN <<EOF\necho hi\nEOF\n")
    assert node.keyword == "ONBUILD"
    assert node.heredocs[0].content == "echo hi\n"


@pytest.mark.parametrize(("word", "name", "expand", "chomp"), [
    ("<<EOF", "EOF", True, False),
    ("<<-EOF", "EOF", True, True),
    ("<<'EOF'", "EOF", False, False),
    ('<<"EOF"', "EOF", False, False),
    ('<<E"O"F', "EOF", False, False),
])
def test_heredoc_word(word: str, name: str, expand: bool, chomp: bool) -> None:
    doc = heredoc_word(word)
    assert doc is not None and (doc.name, doc.expand, doc.chomp) == (name, expand, chomp)


@pytest.mark.parametrize("word", ["<<", "<EOF", "x<<EOF", "<<a b", "EOF"])
def test_heredoc_word_none(word: str) -> None:
    assert heredoc_word(word) is None


def test_unknown_keyword_parses() -> None:
    node = one("FOO bar baz")
    assert node.keyword == "FOO" and node.args == ("bar baz",)


def test_random_input_never_crashes() -> None:
    rng = random.Random(1717)
    pieces = ["FROM a", "RUN", "COPY", "CMD", "ONBUILD", "ENV", " ", "\\", "`", "\n", "#", "# escape=`",
              "<<EOF", "<<-'X'", "EOF", "X", "[", "]", '"', "'", "--flag=v", "--", "$V", "\t", "\r\n", "1"]
    for _round in range(3000):
        text = "".join(rng.choice(pieces) for _round in range(rng.randint(0, 20)))
        try:
            df = parse(text)
        except DockerfileError:
            continue
        assert df.nodes
