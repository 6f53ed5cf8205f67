"""Dockerfile text → ``Node``s, following BuildKit's parser (frontend/dockerfile/parser).

What it handles, in BuildKit's order: parser directives on the leading comment
lines (``syntax`` recorded and otherwise ignored, ``escape``, ``check``), the
line-continuation escape (trailing blanks after it allowed), comment lines
(dropped, also inside a continued instruction), empty continuation lines (skipped
with a warning, as BuildKit does), builder flags (``--name=value``) before the
arguments, the JSON (exec) form for the instructions that have one, and heredocs
for RUN / COPY / ADD (also behind ONBUILD). Instruction semantics live in
``instructions.py``; this module only splits text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..errors import InvalidInput
from .expand import Expander, ExpansionError

DEFAULT_ESCAPE = "\\"
_DIRECTIVES = ("syntax", "escape", "check")
_DIRECTIVE_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_WHITESPACE_RE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC_RE = re.compile(r"^([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)$")
_LEADING_TABS_RE = re.compile(r"^\t+", re.MULTILINE)
# keywords whose arguments may be a JSON array (BuildKit's parseMaybeJSON / ...ToList)
JSON_KEYWORDS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "ADD", "COPY", "VOLUME"})
HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


class DockerfileError(InvalidInput):
    """A Dockerfile that cannot be parsed or built; message ``"<path>:<line>: <what>"``."""

    def __init__(self, message: str, *, field: str | None = "build.dockerfile",
                 hint: str | None = None, **details: object) -> None:
        super().__init__(message, field=field, hint=hint, **details)


def fail(path: str, line: int, what: str, hint: str | None = None) -> DockerfileError:
    """The package's one way to build a located Dockerfile error."""
    return DockerfileError(f"{path}:{line}: {what}",
                           hint=hint or "fix the instruction; see the Dockerfile reference")


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str      # the body as used: lines with their newlines, leading tabs gone when chomp
    expand: bool      # False when the delimiter was quoted ('EOF' or "EOF")
    chomp: bool       # <<- strips leading tabs
    raw: str = field(default="", compare=False)   # the body exactly as written (ONBUILD keeps it)
    fd: int = 0       # the file descriptor in "3<<EOF" (0 when none was written)


@dataclass(frozen=True)
class Node:
    keyword: str
    flags: tuple[str, ...]
    args: tuple[str, ...]
    json_form: bool
    heredocs: tuple[Heredoc, ...]
    line: int
    end_line: int
    original: str


@dataclass(frozen=True)
class Dockerfile:
    path: str
    nodes: tuple[Node, ...]
    escape: str
    directives: dict[str, str]
    warnings: tuple[str, ...]


class _Directives:
    """Leading ``# key=value`` comment lines; stops at the first other line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.escape = DEFAULT_ESCAPE
        self.values: dict[str, str] = {}
        self.done = False
        self.continuation = _continuation_re(DEFAULT_ESCAPE)

    def feed(self, line: str, number: int) -> None:
        if self.done:
            return
        if not line.startswith("#"):
            self.done = True
            return
        match = _DIRECTIVE_RE.match(line[1:].lstrip())
        key = match.group(1).lower() if match else ""
        if not match or key not in _DIRECTIVES:
            self.done = True
            return
        if key in self.values:
            raise fail(self.path, number, f"only one {key} parser directive can be used",
                       "remove the repeated directive")
        value = match.group(2)
        if key == "escape":
            if value not in ("\\", "`"):
                raise fail(self.path, number, f"invalid escape token '{value}' does not match ` or \\",
                           "use '# escape=\\' or '# escape=`'")
            self.escape = value
            self.continuation = _continuation_re(value)
        self.values[key] = value


def _continuation_re(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*$|^{e}[ \t]*$")


def _split_lines(text: str) -> list[str]:
    """Lines with their "\\n" (bufio.Scanner with BuildKit's scanLines)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    out = [piece + "\n" for piece in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


class _Reader:
    """Walks the lines keeping BuildKit's 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self.lines = _split_lines(text)
        self.index = 0

    def more(self) -> bool:
        return self.index < len(self.lines)

    def take(self) -> str:
        self.index += 1
        return self.lines[self.index - 1]


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Split ``text`` into instruction nodes; raises DockerfileError naming path and line."""
    reader = _Reader(text)
    directives = _Directives(path)
    nodes: list[Node] = []
    warnings: list[str] = []
    while reader.more():
        node = _next_node(reader, directives, path, warnings)
        if node is not None:
            nodes.append(node)
    if not nodes:
        raise fail(path, max(reader.index, 1), "file with no instructions",
                   "a Dockerfile needs at least a FROM instruction")
    return Dockerfile(path=path, nodes=tuple(nodes), escape=directives.escape,
                      directives=dict(directives.values), warnings=tuple(warnings))


def _processed(directives: _Directives, raw: str, number: int, strip_left: bool) -> str:
    line = raw.rstrip("\r\n")
    if strip_left:
        line = line.lstrip()
    directives.feed(line, number)
    return "" if _is_comment(line) else line


def _trim_continuation(directives: _Directives, line: str) -> tuple[str, bool]:
    """(line without its trailing escape, is_end_of_instruction)."""
    if directives.continuation.search(line):
        return directives.continuation.sub(r"\1", line), False
    return line, True


def _next_node(reader: _Reader, directives: _Directives, path: str, warnings: list[str]) -> Node | None:
    start = reader.index + 1
    first = _processed(directives, reader.take(), start, True)
    first, end = _trim_continuation(directives, first)
    if end and not first:
        return None
    parts = [first]
    empty_continuation = False
    while not end and reader.more():
        raw = reader.take()
        piece = _processed(directives, raw, reader.index, False)
        if _is_comment(raw):
            continue
        if not piece.lstrip():
            empty_continuation = True
            continue
        piece, end = _trim_continuation(directives, piece)
        parts.append(piece)
    line = "".join(parts)
    if empty_continuation:
        warnings.append(f"{path}:{reader.index}: empty continuation line found in: {line}")
    try:
        node = _node_from_line(line, directives.escape, start, reader.index)
        return _attach_heredocs(node, line, reader, path, directives.escape)
    except ExpansionError as err:
        raise fail(path, start, err.message) from None
    except _LineError as err:
        raise fail(path, start, str(err)) from None


class _LineError(Exception):
    """Internal: a problem in one instruction line, located by the caller."""


def split_command(line: str, escape: str) -> tuple[str, list[str], str]:
    """(keyword as written, flags, the rest) of one joined instruction line."""
    pieces = _WHITESPACE_RE.split(line.strip(), maxsplit=1)
    if len(pieces) < 2:
        return pieces[0], [], ""
    rest, flags = _extract_flags(pieces[1], escape)
    return pieces[0], flags, rest.strip()


def _extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Leading ``--flag`` words (quotes and escapes processed), then the rest (BuildKit)."""
    words: list[str] = []
    pos = 0
    while True:
        while pos < len(line) and line[pos].isspace():
            pos += 1
        if pos >= len(line):
            return "", words
        if not line.startswith("--", pos):
            return line[pos:], words
        word, pos, blank_ok = _flag_word(line, pos, escape)
        if word == "--":
            return line[pos:], words
        if word or blank_ok:
            words.append(word)


def _flag_word(line: str, pos: int, escape: str) -> tuple[str, int, bool]:
    out: list[str] = []
    quote = ""
    blank_ok = False
    while pos < len(line):
        ch = line[pos]
        if not quote and ch.isspace():
            break
        pos += 1
        if not quote and ch in "'\"":
            quote, blank_ok = ch, True
            continue
        if quote and ch == quote:
            quote = ""
            continue
        if ch == escape:
            if pos == len(line):
                quote = ""
                continue
            ch = line[pos]
            pos += 1
        out.append(ch)
    return "".join(out), pos, blank_ok


def parse_words(rest: str, escape: str) -> list[str]:
    """BuildKit's parseWords: split on unquoted blanks, keeping quotes and escapes in the words."""
    words: list[str] = []
    buf: list[str] = []
    quote = ""
    blank_ok = False
    i = 0
    while i < len(rest):
        ch = rest[i]
        i += 1
        if not quote and ch.isspace():
            if blank_ok or buf:
                words.append("".join(buf))
            buf, blank_ok = [], False
            continue
        if not quote and ch in "'\"":
            quote, blank_ok = ch, True
        elif quote and ch == quote:
            quote = ""
        elif ch == escape and quote != "'":
            if i == len(rest):
                continue
            buf.append(ch)
            ch = rest[i]
            i += 1
        buf.append(ch)
    if blank_ok or buf:
        words.append("".join(buf))
    return words


def json_array(rest: str) -> list[str] | None:
    """The items when ``rest`` is a JSON array of strings, None when it is not JSON.

    A JSON array holding something other than strings is an error, as in BuildKit.
    """
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise _LineError(NOT_STRING_ARRAY)
    return value


def _reject_constant(name: str) -> None:
    # Go's encoding/json has no NaN / Infinity: such text is not JSON there
    raise ValueError(name)


def _node_from_line(line: str, escape: str, start: int, end: int) -> Node:
    keyword, flags, rest = split_command(line, escape)
    upper = keyword.upper()
    items = json_array(rest) if upper in JSON_KEYWORDS and rest else None
    if items is not None:
        args, is_json = tuple(items), True
    else:
        args, is_json = ((rest,) if rest else ()), False
    return Node(keyword=upper, flags=tuple(flags), args=args, json_form=is_json, heredocs=(),
                line=start, end_line=end, original=line)


def _may_have_heredoc(node: Node, escape: str) -> bool:
    if node.keyword == "ONBUILD" and node.args:
        inner = _node_from_line(node.args[0], escape, node.line, node.end_line)
        return inner.keyword in HEREDOC_KEYWORDS and not inner.json_form
    return node.keyword in HEREDOC_KEYWORDS and not node.json_form


def heredoc_word(word: str) -> Heredoc | None:
    """The heredoc a word like ``<<EOF`` / ``<<-"EOF"`` / ``3<<EOF`` opens, else None."""
    match = _HEREDOC_RE.match(word)
    if not match or not match.group(3):
        return None
    rest = match.group(3)
    words = Expander("\\", skip_unset=True).words(rest, {})
    if len(words) != 1:
        return None
    raw = Expander("\\", skip_unset=True, raw_quotes=True).words(rest, {})
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"') if raw else 0
    return Heredoc(name=words[0], content="", expand=quotes == raw_quotes, chomp=match.group(2) == "-",
                   fd=int(match.group(1) or 0))


def maybe_heredoc(word: str) -> Heredoc | None:
    """``heredoc_word`` with lexing errors meaning "not a heredoc" (BuildKit's MustParseHeredoc)."""
    try:
        return heredoc_word(word)
    except ExpansionError:
        return None


def heredocs_in_line(line: str) -> list[Heredoc]:
    """Every heredoc a line opens, in order (BuildKit lexes with raw quotes and escapes)."""
    lexer = Expander("\\", raw_quotes=True, raw_escapes=True, skip_unset=True)
    try:
        words = lexer.words(line, {})
    except ExpansionError:
        return []
    docs = [heredoc_word(word) for word in words]
    return [doc for doc in docs if doc is not None]


def _attach_heredocs(node: Node, line: str, reader: _Reader, path: str, escape: str) -> Node:
    if "<<" not in line or not _may_have_heredoc(node, escape):
        return node
    bodies: list[Heredoc] = []
    for doc in heredocs_in_line(line):
        raw = _read_body(doc, reader, path, node.line)
        content = _LEADING_TABS_RE.sub("", raw) if doc.chomp else raw
        bodies.append(Heredoc(name=doc.name, content=content, expand=doc.expand, chomp=doc.chomp,
                              raw=raw, fd=doc.fd))
    if not bodies:
        return node
    return Node(keyword=node.keyword, flags=node.flags, args=node.args, json_form=node.json_form,
                heredocs=tuple(bodies), line=node.line, end_line=reader.index, original=node.original)


def _read_body(doc: Heredoc, reader: _Reader, path: str, start: int) -> str:
    body: list[str] = []
    while reader.more():
        raw = reader.take()
        candidate = raw.rstrip("\r\n")
        if doc.chomp:
            candidate = candidate.lstrip("\t")
        if candidate == doc.name:
            return "".join(body)
        body.append(raw)
    raise fail(path, start, f"unterminated heredoc {doc.name!r}",
               f"end the heredoc with a line holding only {doc.name}")
