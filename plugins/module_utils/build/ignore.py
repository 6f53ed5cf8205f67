""".dockerignore with moby/patternmatcher semantics.

Patterns are cleaned like Go's filepath.Clean, a leading "/" is dropped, ``*`` and
``?`` stay within one path element, ``**`` spans any number of them, ``[...]`` are
character classes, ``!`` re-includes; the last pattern that matches a path (or one
of its parent directories) decides. BuildKit reads ``<dockerfile>.dockerignore``
beside the Dockerfile in preference to ``<context>/.dockerignore``.
"""

from __future__ import annotations

import posixpath
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterable

_ESCAPED = set(".+()|{}$")


def clean(path: str) -> str:
    """Go's path.Clean (".", no trailing slash, "a/../b" → "b")."""
    return posixpath.normpath(path).replace("//", "/") if path else "."


@dataclass(frozen=True)
class _Pattern:
    text: str          # cleaned, without "!"
    exclusion: bool
    kind: str          # exact | prefix | suffix | regexp
    regex: re.Pattern[str] | None

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        return bool(self.regex and self.regex.match(path))


def _compile(text: str, exclusion: bool) -> _Pattern:
    """patternmatcher's compile: pick the cheapest matcher that is exact for the pattern."""
    out = "^"
    kind = "exact"
    i = 0
    while i < len(text):
        ch = text[i]
        first = i == 0
        i += 1
        if ch == "*":
            if i < len(text) and text[i] == "*":
                i += 1
                if i < len(text) and text[i] == "/":
                    i += 1
                if i >= len(text):
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        out += ".*"
                        kind = "regexp"
                else:
                    out += "(.*/)?"
                    kind = "regexp"
                if first:
                    kind = "suffix"
            else:
                out += "[^/]*"
                kind = "regexp"
        elif ch == "?":
            out += "[^/]"
            kind = "regexp"
        elif ch in _ESCAPED:
            out += "\\" + ch
        elif ch == "\\":
            if i < len(text):
                out += "\\" + text[i]
                i += 1
                kind = "regexp"
            else:
                out += "\\\\"
        elif ch in "[]":
            out += ch
            kind = "regexp"
        else:
            out += ch
    regex = None
    if kind == "regexp":
        try:
            with warnings.catch_warnings():   # "[[" is a plain "[" in a class, as in Go's RE2
                warnings.simplefilter("ignore", FutureWarning)
                regex = re.compile(out + "$", re.DOTALL)
        except re.error:
            raise _bad(text) from None
    return _Pattern(text=text, exclusion=exclusion, kind=kind, regex=regex)


def _bad(text: str) -> InvalidInput:
    return InvalidInput(f"invalid .dockerignore pattern {text!r}", field="build.dockerignore",
                        hint="check the [...] classes and escapes in the pattern")


def _validate(text: str) -> None:
    """The syntax errors Go's filepath.Match reports: an unclosed "[" or a trailing "\\"."""
    i = 0
    while i < len(text):
        if text[i] == "\\":
            if i + 1 >= len(text):
                raise _bad(text)
            i += 2
            continue
        if text[i] == "[":
            close = text.find("]", i + 2 if text[i + 1:i + 2] in ("^", "!") else i + 1)
            if close < 0 or (close == i + 1):
                raise _bad(text)
            i = close
        i += 1


def read_patterns(text: str) -> list[str]:
    """ignorefile.ReadAll: comments, blanks, "!" and cleaning."""
    out: list[str] = []
    if text.startswith("\ufeff"):
        text = text[1:]
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


class Ignore:
    """Decides which context paths the build leaves out."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            text = clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if text == "!":
                    raise InvalidInput('illegal exclusion pattern: "!"', field="build.dockerignore",
                                       hint="write !<pattern>")
                text = text[1:]
            _validate(text)
            self.patterns.append(_compile(text, exclusion))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    @classmethod
    def load(cls, context: Path, dockerfile: str = "Dockerfile") -> Ignore:
        """``<dockerfile>.dockerignore`` beside the Dockerfile, else ``<context>/.dockerignore``."""
        context = Path(context)
        path = Path(dockerfile) if Path(dockerfile).is_absolute() else context / dockerfile
        for candidate in (path.with_name(path.name + ".dockerignore"), context / ".dockerignore"):
            try:
                text = candidate.read_text(encoding="utf-8", errors="surrogateescape")
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue
            except OSError as err:
                raise InvalidInput(f"cannot read {candidate}: {err.strerror}", field="build.dockerignore",
                                   hint="make the file readable") from None
            return cls(read_patterns(text))
        return cls()

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excluded(self, rel: str) -> bool:
        """True when ``rel`` (slash-separated, relative to the context) is left out."""
        path = clean(rel.lstrip("/")) if rel else "."
        if path == "." or not self.patterns:
            return False
        return self.matches(path)

    def matches(self, path: str) -> bool:
        """patternmatcher's MatchesOrParentMatches on an already clean relative path."""
        parent = posixpath.dirname(path)
        parents = parent.split("/") if parent else []
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path) or any(pattern.match("/".join(parents[:i + 1]))
                                             for i in range(len(parents)))
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_contain_included(self, rel_dir: str) -> bool:
        """Whether an excluded directory could still hold a re-included path ("!" pattern).

        Conservative: True unless every exclusion pattern provably lies elsewhere, so a
        walker may skip the directory's content only when this is False.
        """
        if not self.has_exclusions:
            return False
        parts = [p for p in clean(rel_dir.lstrip("/")).split("/") if p not in (".", "")]
        return any(_could_match_inside(p.text, parts) for p in self.patterns if p.exclusion)


def _could_match_inside(pattern: str, parts: list[str]) -> bool:
    segments = pattern.split("/")
    for index, part in enumerate(parts):
        if index >= len(segments):
            return True       # the pattern names an ancestor of the directory: stay conservative
        segment = segments[index]
        if "**" in segment:
            return True
        if not _compile(segment, True).match(part):
            return False
    return True
