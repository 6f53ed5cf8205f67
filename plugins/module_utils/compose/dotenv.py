"""``.env`` and ``env_file`` parsing with compose-go's dotenv rules.

``KEY=value`` or ``KEY: value``, an optional ``export`` prefix, ``#`` comments
(inline ones need a space before them on unquoted values), single quotes
(literal), double quotes (escapes ``\\n \\t \\" \\\\ \\$`` and interpolation),
quoted values spanning lines, and a bare ``KEY`` inheriting the lookup's value.
Values are interpolated against the lookup first, then the keys read so far.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .interpolate import TemplateError, substitute

Lookup = Callable[[str], "str | None"]

_EXPORT = re.compile(r"export\s+")
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-7]{0,3})")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "c": "\\c", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   '"': '"', "\\": "\\"}
_SPACE = "\t\v\f\r \x85\xa0"  # whitespace except newline
_STARTS_WITH_DIGIT = re.compile(r"\s*\d")


class DotenvError(ValueError):
    """A line that is not ``KEY=value``; the message names the line."""


def _no_lookup(_name: str) -> str | None:
    return None


def parse(text: str, lookup: Lookup | None = None) -> dict[str, str]:
    """The variables of one env file, in file order."""
    return _Parser(lookup or _no_lookup).parse(text.removeprefix("\ufeff"))


def parse_files(texts: list[str], lookup: Lookup | None = None) -> dict[str, str]:
    """Several files, later ones winning; keys starting with a digit are dropped."""
    out: dict[str, str] = {}
    for text in texts:
        out.update({k: v for k, v in parse(text, lookup).items() if not _STARTS_WITH_DIGIT.match(k)})
    return out


class _Parser:
    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.line = 1

    def parse(self, src: str) -> dict[str, str]:
        out: dict[str, str] = {}
        while True:
            src = self._statement_start(src)
            if not src:
                return out
            key, src, inherited = self._key(src)
            if " " in key:
                raise DotenvError(f"line {self.line}: key cannot contain a space")
            if inherited:
                value = self.lookup(key)
                if value is not None:
                    out[key] = value
                continue
            out[key], src = self._value(src, out)

    def _statement_start(self, src: str) -> str:
        while True:
            stripped = src.lstrip()
            self.line += src[: len(src) - len(stripped)].count("\n")
            if not stripped.startswith("#"):
                return stripped
            newline = stripped.find("\n")
            if newline == -1:
                return ""
            src = stripped[newline:]

    def _key(self, src: str) -> tuple[str, str, bool]:
        if _EXPORT.match(src):
            src = src[len("export"):].lstrip(_SPACE)
        for i, char in enumerate(src):
            if char in _SPACE:
                continue
            if char in "=:\n":
                key, rest, inherited = src[:i], src[i + 1:], char == "\n"
                break
            if char in "_.-[]" or char.isalnum():
                continue
            first = src.split("\n", 1)[0]
            raise DotenvError(f"line {self.line}: unexpected character {char!r} in variable name {first!r}")
        else:  # a bare KEY on the last line, without a newline: inherited like the others
            key, rest, inherited = src, "", True
        if inherited and " " not in key:
            self.line += 1
        return key.rstrip(), rest.lstrip(_SPACE), inherited

    def _value(self, src: str, out: dict[str, str]) -> tuple[str, str]:
        if not src or src[0] not in "'\"":
            value, _sep, rest = src.partition("\n")
            value = self._expand(value.split(" #", 1)[0].rstrip(), out)
            self.line += 1
            return value, rest
        quote = src[0]
        chars: list[str] = []
        escaped = False
        for i in range(1, len(src)):
            char = src[i]
            if char == "\n":
                self.line += 1
            if char != quote:
                if not escaped and char == "\\":
                    escaped = True
                    continue
                if escaped:
                    escaped = False
                    chars.append("\\")
                chars.append(char)
                continue
            if escaped:  # \" or \' inside the same quotes
                escaped = False
                chars.append(char)
                continue
            value = "".join(chars)
            if quote == '"':
                value = self._expand(_expand_escapes(value), out)
            return value, src[i + 1:]
        first = src.split("\n", 1)[0]
        raise DotenvError(f"line {self.line}: unterminated quoted value {first}")

    def _expand(self, value: str, out: dict[str, str]) -> str:
        def mapping(name: str) -> str | None:
            found = self.lookup(name)
            return found if found is not None else out.get(name)
        try:
            return substitute(value, mapping)
        except TemplateError as err:
            raise DotenvError(f"line {self.line}: {err}") from None


def _expand_escapes(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        seq = match.group(0)
        if seq == "\\$":
            return "$$"  # a literal dollar for the interpolation that follows
        if seq.startswith("\\0"):
            digits = seq[2:]
            return chr(int(digits, 8)) if len(digits) == 3 else seq  # Go's UnquoteChar needs 3 octal digits
        return _SIMPLE_ESCAPES[seq[1]]
    return _ESCAPE.sub(one, text)
