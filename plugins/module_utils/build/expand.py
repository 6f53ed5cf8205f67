"""Shell-word expansion as BuildKit's Dockerfile lexer does it (``shell/lex.go``).

This is not a shell: no globbing, no command substitution, no field splitting
except ``words()``. Quotes and the escape character are processed, ``$V`` and
``${V...}`` forms are replaced from ``env``; unknown variables become empty.
Every name looked up is recorded in ``used`` (and, when unset, in ``unset``) so
the builder can warn about undeclared ARGs and key its cache on what a step read.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_SPECIAL_PARAMS = "@*#?-$!0"


class ExpansionError(InvalidInput):
    """A malformed word or a ``${V:?msg}`` failure; callers add file and line."""


def _is_space(ch: str) -> bool:
    return ch.isspace()


class _Words:
    """Accumulates words the way lex.go's wordsStruct does."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if _is_space(ch):
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf = []
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def result(self) -> list[str]:
        if self.buf and "".join(self.buf):
            self.words.append("".join(self.buf))
        self.buf = []
        return self.words


class Expander:
    """Expands Dockerfile words; one instance may be reused, ``used`` accumulates.

    The keyword options mirror lex.go's switches: ``raw_quotes`` keeps quote
    characters, ``raw_escapes`` keeps escape characters, ``skip_quotes`` treats
    quotes as ordinary characters (heredoc bodies), ``skip_unset`` leaves
    references to unset variables as written.
    """

    def __init__(self, escape: str = "\\", *, raw_quotes: bool = False, raw_escapes: bool = False,
                 skip_quotes: bool = False, skip_unset: bool = False, path: str = "Dockerfile") -> None:
        if escape not in ("\\", "`"):
            raise ExpansionError(f"invalid escape character {escape!r}", field="build.dockerfile",
                                 hint="use \\ or `")
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_quotes = skip_quotes
        self.skip_unset = skip_unset
        self.path = path
        self.used: set[str] = set()
        self.unset: set[str] = set()
        self._text = ""
        self._pos = 0
        self._env: Mapping[str, str] = {}
        self._raw = raw_escapes

    # -- public API -------------------------------------------------------
    def word(self, text: str, env: Mapping[str, str]) -> str:
        """``text`` expanded as one word (ProcessWord)."""
        return self._process(text, env)[0]

    def words(self, text: str, env: Mapping[str, str]) -> list[str]:
        """``text`` expanded and split on unquoted whitespace (ProcessWords)."""
        return self._process(text, env)[1]

    def sibling(self, **options: bool) -> Expander:
        """A new expander with other options that records into the same ``used`` sets."""
        opts = {"raw_quotes": self.raw_quotes, "raw_escapes": self.raw_escapes,
                "skip_quotes": self.skip_quotes, "skip_unset": self.skip_unset}
        opts.update(options)
        other = Expander(self.escape, path=self.path, **opts)
        other.used = self.used
        other.unset = self.unset
        return other

    # -- scanner helpers --------------------------------------------------
    def _peek(self) -> str:
        return self._text[self._pos] if self._pos < len(self._text) else ""

    def _next(self) -> str:
        ch = self._peek()
        if ch:
            self._pos += 1
        return ch

    def _fail(self, message: str) -> ExpansionError:
        return ExpansionError(message, field="build.dockerfile",
                              hint="fix the quoting or the ${...} expression")

    def _process(self, text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
        self._text, self._pos, self._env, self._raw = text, 0, env, self.raw_escapes
        try:
            return self._stop_on("", self.raw_escapes)
        except ExpansionError as err:
            raise self._fail(f"failed to process {text!r}: {err.message}") from None

    def _stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved, self._raw = self._raw, raw_escapes
        try:
            return self._scan(stop)
        finally:
            self._raw = saved

    def _handler(self, ch: str) -> Callable[[], str] | None:
        if ch == "$":
            return self._dollar
        if ch == "<":
            return self._possible_heredoc
        if not self.skip_quotes and ch == "'":
            return self._single_quote
        if not self.skip_quotes and ch == '"':
            return self._double_quote
        return None

    def _scan(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        while self._pos < len(self._text):
            ch = self._peek()
            if stop and ch == stop:
                self._pos += 1
                return "".join(result), words.result()
            handler = self._handler(ch)
            if handler is not None:
                piece = handler()
                result.append(piece)
                if ch == "$":
                    words.add_string(piece)
                else:
                    words.add_raw_string(piece)
                continue
            self._pos += 1
            if ch == self.escape:
                if self._raw:
                    words.add_raw_char(ch)
                    result.append(ch)
                ch = self._next()
                if not ch:
                    break
                words.add_raw_char(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop:
            raise self._fail(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def _single_quote(self) -> str:
        first = self._next()
        out = [first] if self.raw_quotes else []
        while True:
            ch = self._next()
            if not ch:
                raise self._fail("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def _double_quote(self) -> str:
        first = self._next()
        out = [first] if self.raw_quotes else []
        while True:
            ch = self._peek()
            if not ch:
                raise self._fail("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self._next()
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            ch = self._next()
            if ch == self.escape:
                if self._raw:
                    out.append(ch)
                if self._peek() in ('"', "$", self.escape) and self._peek():
                    ch = self._next()
            out.append(ch)

    def _possible_heredoc(self) -> str:
        self._next()
        if self._peek() != "<":
            return "<"
        self._next()
        space = []
        while self._peek() in ("\t", "\r", " ") and self._peek():
            space.append(self._next())
        return "<<" + "".join(space)

    def _name(self) -> str:
        ch = self._peek()
        if ch.isdecimal():
            start = self._pos
            while self._peek().isdecimal() and self._peek():
                self._pos += 1
            return self._text[start:self._pos]
        if ch and ch in _SPECIAL_PARAMS:
            return self._next()
        start = self._pos
        while self._peek() and (self._peek().isalnum() or self._peek() == "_"):
            self._pos += 1
        return self._text[start:self._pos]

    def _get(self, name: str) -> tuple[str, bool]:
        self.used.add(name)
        if name in self._env:
            return self._env[name], True
        self.unset.add(name)
        return "", False

    def _dollar(self) -> str:
        self._next()
        if self._peek() != "{":
            name = self._name()
            if not name:
                return "$"
            value, found = self._get(name)
            if not found and self.skip_unset:
                return "$" + name
            return value
        self._next()
        ch = self._peek()
        if not ch:
            raise self._fail("syntax error: missing '}'")
        if ch in "{}:":
            raise self._fail("syntax error: bad substitution")
        name = self._name()
        op = self._next()
        if not op:
            raise self._fail("syntax error: missing '}'")
        if op == "}":
            value, found = self._get(name)
            if not found and self.skip_unset:
                return "${" + name + "}"
            return value
        if op == "/":
            return self._replace(name)
        return self._modifier(name, op)

    def _modifier(self, name: str, op: str) -> str:
        colon = op == ":"
        if colon:
            nxt = self._next()
            op += nxt
            if not nxt:
                raise self._fail("syntax error: missing '}'")
        kind = op[-1]
        if kind not in "+-?#%":
            raise self._fail(f"unsupported modifier ({op}) in substitution")
        if colon and kind in "#%":
            raise self._fail(f"unsupported modifier ({op}) in substitution")
        word = self._inner("}", raw_escapes=kind in "#%", missing="syntax error: missing '}'")
        value, found = self._get(name)
        if self.skip_unset and not found:
            return "${" + name + op + word + "}"
        empty = not found or (colon and value == "")
        if kind == "-":
            return word if empty else value
        if kind == "+":
            return "" if empty else word
        if kind == "?":
            if empty:
                default = "is not allowed to be unset" if not found else "is not allowed to be empty"
                raise self._fail(f"{name}: {word or default}")
            return value
        greedy = word.startswith(kind)
        if greedy:
            word = word[1:]
        if kind == "%":
            return _trim_suffix(word, value, greedy, self._fail)
        return _trim_prefix(word, value, greedy, self._fail)

    def _inner(self, stop: str, *, raw_escapes: bool, missing: str) -> str:
        try:
            return self._stop_on(stop, raw_escapes)[0]
        except ExpansionError:
            if self._pos >= len(self._text):
                raise self._fail(missing) from None
            raise

    def _replace(self, name: str) -> str:
        replace_all = self._peek() == "/"
        if replace_all:
            self._next()
        pattern = self._inner("/", raw_escapes=True, missing="syntax error: missing '/' in ${}")
        replacement = self._inner("}", raw_escapes=True, missing="syntax error: missing '}'")
        value, found = self._get(name)
        if self.skip_unset and not found:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _pattern_regex(pattern, greedy=True, anchored=False, fail=self._fail)
        return regex.sub(lambda _m: replacement, value, count=0 if replace_all else 1)


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool,
                   fail: Callable[[str], ExpansionError]) -> re.Pattern[str]:
    """A shell glob (``*``, ``?``, backslash escapes) as a regex, like lex.go."""
    out = ["^"] if anchored else []
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(".*" if greedy else ".*?")
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            if i < len(pattern) and pattern[i] in "}/":
                continue
            nxt = pattern[i] if i < len(pattern) else ""
            i += 1
            if nxt not in ("*", "?", "\\"):
                raise fail(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'")
            out.append(re.escape(nxt))
        else:
            out.append(re.escape(tok))
    return re.compile("".join(out))  # like Go's RE2 default, "." does not match a newline


def _trim_prefix(pattern: str, value: str, greedy: bool, fail: Callable[[str], ExpansionError]) -> str:
    match = _pattern_regex(pattern, greedy=greedy, anchored=True, fail=fail).search(value)
    return value[match.end():] if match else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a glob keeping each ``\\x`` escape pair in order."""
    pieces: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            pieces.append(pattern[i:i + 2])
            i += 2
        else:
            pieces.append(pattern[i])
            i += 1
    return "".join(reversed(pieces))


def _trim_suffix(pattern: str, value: str, greedy: bool, fail: Callable[[str], ExpansionError]) -> str:
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy, fail)[::-1]
