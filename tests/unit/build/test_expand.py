"""BuildKit shell-word expansion (lex.go semantics)."""

from __future__ import annotations

import random

import pytest

from ansible_collections.berth.engine.plugins.module_utils.build.expand import Expander, ExpansionError
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

ENV = {"PWD": "/home", "SHELL": "bash", "NULL": "", "S": "foobarbaz", "SP": "a  b", "KOREAN": "한국어"}

WORD_CASES = [
    # quotes and escapes
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ("he\\'llo", "he'llo"),
    ("abc\\tdef", "abctdef"),
    ('"abc\\tdef"', "abc\\tdef"),
    ("'abc\\tdef'", "abc\\tdef"),
    ("hello\\", "hello"),
    ("hello\\\\", "hello\\"),
    ('"hel\'lo"', "hel'lo"),
    ("'hello\\'", "hello\\"),
    ('"\'\'"', "''"),
    ('"a\\"b"', 'a"b'),
    ('"a\\$b"', "a$b"),
    ('"a\\\\b"', "a\\b"),
    ('"a\\xb"', "a\\xb"),
    # plain variables
    ("$.", "$."),
    ("he$1x", "hex"),
    ("he$.x", "he$.x"),
    ("he$PWD", "he/home"),
    ("he\\$PWD", "he$PWD"),
    ("he\\\\$PWD", "he\\/home"),
    ('"he\\$PWD"', "he$PWD"),
    ("'he$PWD'", "he$PWD"),
    ("he${PWD}x", "he/homex"),
    ("\\${PWD}", "${PWD}"),
    ("$UNSET", ""),
    ("${UNSET}x", "x"),
    ("$KOREAN", "한국어"),
    ("$", "$"),
    ("a$", "a$"),
    # modifiers
    ("${PWD:-x}", "/home"),
    ("${NULL:-x}", "x"),
    ("${NULL-x}", ""),
    ("${UNSET-x}", "x"),
    ("${UNSET:-$PWD}", "/home"),
    ("${PWD:+x}", "x"),
    ("${NULL:+x}", ""),
    ("${NULL+x}", "x"),
    ("${UNSET+x}", ""),
    ("${PWD:?e}", "/home"),
    ("${NULL?e}", ""),
    ("${UNSET:-'a b'}", "a b"),
    # patterns
    ("${S#f*b}", "arbaz"),
    ("${S##f*b}", "az"),
    ("${S%b*}", "foobar"),
    ("${S%%b*}", "foo"),
    ("${S/ba/fo}", "fooforbaz"),
    ("${S//ba/fo}", "fooforfoz"),
    ("${S#x}", "foobarbaz"),
    ("${S/?/_}", "_oobarbaz"),
    ("${S//o/}", "fbarbaz"),
    ("${S%\\*}", "foobarbaz"),
    ("${UNSET#x}", ""),
]


@pytest.mark.parametrize(("text", "expected"), WORD_CASES)
def test_word(text: str, expected: str) -> None:
    assert Expander().word(text, ENV) == expected


ERROR_CASES = [
    ("he'llo", "single-quote"),
    ('"hello', "double-quote"),
    ('"hello\\"', "double-quote"),
    ("'hello", "single-quote"),
    ("${", "missing '}'"),
    ("${}", "bad substitution"),
    ("${:}", "bad substitution"),
    ("${PWD", "missing '}'"),
    ("${PWD:-x", "missing '}'"),
    ("${PWD:x}", "unsupported modifier"),
    ("${PWD:#x}", "unsupported modifier"),
    ("${UNSET:?must be set}", "UNSET: must be set"),
    ("${UNSET?}", "UNSET: is not allowed to be unset"),
    ("${NULL:?}", "NULL: is not allowed to be empty"),
    ("${S/a", "missing '/'"),
    ("${S/a/b", "missing '}'"),
    ("${S#\\x}", "invalid escape"),
]


@pytest.mark.parametrize(("text", "fragment"), ERROR_CASES)
def test_word_errors(text: str, fragment: str) -> None:
    with pytest.raises(ExpansionError) as info:
        Expander().word(text, ENV)
    assert fragment in info.value.message
    assert isinstance(info.value, InvalidInput)


WORDS_CASES = [
    ("a b  c", ["a", "b", "c"]),
    ("hello${SP}bye", ["helloa", "bbye"]),
    ('hello"${SP}"bye', ["helloa  bbye"]),
    ("'a b' c", ["a b", "c"]),
    ("a\\ b", ["a b"]),
    ('""', []),
    ('x ""', ["x"]),
    ("$UNSET", []),
    ("  lead", ["lead"]),
]


@pytest.mark.parametrize(("text", "expected"), WORDS_CASES)
def test_words(text: str, expected: list[str]) -> None:
    assert Expander().words(text, ENV) == expected


def test_backtick_escape() -> None:
    ex = Expander("`")
    assert ex.word("a`$PWD", ENV) == "a$PWD"
    assert ex.word("c:\\dir", ENV) == "c:\\dir"
    assert ex.word('"a`"b"', ENV) == 'a"b'


def test_bad_escape_character() -> None:
    with pytest.raises(InvalidInput):
        Expander("x")


def test_used_and_unset_recorded() -> None:
    ex = Expander()
    ex.word("$PWD ${UNSET:-x} ${NULL+y} '$QUOTED'", ENV)
    ex.words("$SHELL", ENV)
    assert ex.used == {"PWD", "UNSET", "NULL", "SHELL"}
    assert ex.unset == {"UNSET"}


def test_skip_unset_and_raw_quotes() -> None:
    ex = Expander(skip_unset=True, raw_quotes=True)
    assert ex.word("$UNSET ${UNSET} ${UNSET:-x} 'q' $PWD", ENV) == "$UNSET ${UNSET} ${UNSET:-x} 'q' /home"


def test_skip_quotes_keeps_quotes() -> None:
    assert Expander(skip_quotes=True).word("say 'hi' \"$PWD\"", ENV) == "say 'hi' \"/home\""


def test_sibling_shares_used() -> None:
    ex = Expander()
    other = ex.sibling(skip_quotes=True)
    other.word("$PWD", ENV)
    assert "PWD" in ex.used


def test_heredoc_marker_kept() -> None:
    assert Expander().words("cat <<  EOF", {}) == ["cat", "<<  EOF"]
    assert Expander().word("a<b", {}) == "a<b"


def test_replacement_is_literal() -> None:
    assert Expander().word("${S/o/\\1}", ENV) == "f\\1obarbaz"


def test_random_input_never_crashes() -> None:
    rng = random.Random(17)
    alphabet = "ab $}{:-+?#%/'\"\\`*<! \t\n"
    for _round in range(3000):
        text = "".join(rng.choice(alphabet) for _round in range(rng.randint(0, 24)))
        for ex in (Expander(), Expander("`"), Expander(raw_quotes=True, raw_escapes=True, skip_unset=True)):
            try:
                ex.word(text, ENV)
                ex.words(text, ENV)
            except ExpansionError:
                pass
