"""``.env`` parsing as compose-go's dotenv does it (own table)."""

from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose.dotenv import DotenvError, parse, parse_files

SINGLE = [
    ("K=v", "v"),
    ("K = v", "v"),
    ("K=  v  ", "v"),
    ("K: v", "v"),                          # YAML style
    ("K: a=b", "a=b"),
    ("K=a:b", "a:b"),
    ("export K=v", "v"),
    ("  export\tK=v", "v"),
    ("K='single $X \\n'", "single $X \\n"),  # single quotes are literal
    ('K="double\\nline"', "double\nline"),
    ('K="tab\\there"', "tab\there"),
    ("K=unquoted\\tstays", "unquoted\\tstays"),
    ('K="esc \\"q\\" and \\\\"', 'esc "q" and \\'),
    ('K="octal \\0101"', "octal A"),
    ('K="unknown \\x41"', "unknown \\x41"),
    ("K=v # comment", "v"),
    ("K=v#not-comment", "v#not-comment"),
    ('K="v # kept" # dropped', "v # kept"),
    ("K='v # kept'#", "v # kept"),
    ("K=", ""),
    ('K=""', ""),
    ("K=a=b=c", "a=b=c"),
    ('K="multi\nline"', "multi\nline"),
    ("K='it\\'s'", "it's"),
    ('K="\\$LITERAL"', "$LITERAL"),
    ("K=$$LITERAL", "$LITERAL"),
]


@pytest.mark.parametrize(("text", "value"), SINGLE)
def test_values(text: str, value: str) -> None:
    assert parse(text) == {"K": value}


def test_keys_and_order() -> None:
    text = "# header\n\nA=1\nexportB=2\nc.d=3\ne-f=4\ng[0]=5\n  # indented comment\nÄ=6\r\n"
    assert parse(text) == {"A": "1", "exportB": "2", "c.d": "3", "e-f": "4", "g[0]": "5", "Ä": "6"}


def test_interpolation_uses_lookup_then_earlier_keys() -> None:
    text = "A=one\nB=${A}-two\nC=\"$B three\"\nD='$A'\nE=${SHELL_ONLY:-dflt}\nF=${A:+set}"
    assert parse(text, {"A": "shell"}.get) == {"A": "one", "B": "shell-two", "C": "shell-two three", "D": "$A",
                                               "E": "dflt", "F": "set"}


def test_inherited_bare_key() -> None:
    assert parse("A\nB=2\nC", {"A": "from-shell", "C": "c"}.get) == {"A": "from-shell", "B": "2", "C": "c"}
    assert parse("MISSING\n") == {}


def test_bom_is_skipped() -> None:
    assert parse("\ufeffA=1") == {"A": "1"}


def test_files_later_wins_and_digit_keys_dropped() -> None:
    assert parse_files(["A=1\nB=1", "B=2\n1X=3"]) == {"A": "1", "B": "2"}


@pytest.mark.parametrize("text", ['K="', 'K="open', "K='open", 'K="esc\\"', "K='mixed\"", "bad$key=1", "a b=1",
                                  "K=${"])
def test_errors(text: str) -> None:
    with pytest.raises(DotenvError, match="line 1"):
        parse(text)


def test_error_line_number() -> None:
    with pytest.raises(DotenvError, match="line 3"):
        parse("A=1\nB=2\nC!=3")
