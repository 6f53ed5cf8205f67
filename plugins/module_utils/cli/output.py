"""How the listing and inspecting verbs print, as Docker's CLI prints: a table
by default, ``-q`` for IDs only, ``--format json`` for one JSON object a line,
``--format '{{.Field}}...'`` for a template, ``--format 'table {{.A}}\\t{{.B}}'``
for a table of chosen columns, and ``--no-trunc``.

Rows are dicts keyed by Docker's template field names (``ID``, ``Repository``,
``CreatedSince``...), so a user's ``--format`` string written for docker works
here. Templates are a small, safe subset of Go's text/template: ``{{.Field}}``,
``{{.Field.Key}}``, ``{{json .Field}}``, ``{{json .}}``, ``{{upper .F}}``,
``{{lower .F}}``, ``{{join .F ","}}`` and ``{{index .F "key"}}``; anything
else is refused naming the flag — nothing is evaluated.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput

Row = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """A table column: its header and the row field it shows."""
    header: str
    field: str


def add_list_flags(parser: argparse.ArgumentParser, *, quiet: bool = True, no_trunc: bool = True) -> None:
    """The flags every listing verb takes (``docker images``/``ps``/``network ls``...)."""
    parser.add_argument("--format", help="table (default), json, or a Go template such as '{{.ID}}'")
    if quiet:
        parser.add_argument("-q", "--quiet", action="store_true", help="print only the IDs")
    if no_trunc:
        parser.add_argument("--no-trunc", action="store_true", help="do not truncate the output")


def emit_rows(rows: Sequence[Row], columns: Sequence[Column], args: argparse.Namespace, *,
              id_field: str = "ID") -> dict[str, Any]:
    """Print a listing as the flags ask and return the CLI's "printed already" result."""
    fmt = getattr(args, "format", None)
    if getattr(args, "json", False) and not fmt:
        fmt = "json-array"
    sys.stdout.write(format_rows(rows, columns, fmt=fmt, quiet=getattr(args, "quiet", False),
                                 id_field=id_field))
    return {"_rc": 0}


def format_rows(rows: Sequence[Row], columns: Sequence[Column], *, fmt: str | None = None, quiet: bool = False,
                id_field: str = "ID") -> str:
    if quiet:
        return "".join(f"{row[id_field]}\n" for row in rows)
    if fmt in (None, "", "table"):
        return table([c.header for c in columns], [[_text(row.get(c.field)) for c in columns] for row in rows])
    if fmt == "json":
        return "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
    if fmt == "json-array":   # the global --json: one document
        return json.dumps(list(rows), indent=2, sort_keys=True) + "\n"
    if fmt.startswith("table "):
        template = compile_template(fmt[len("table "):])
        cells = [template.render(row).split("\t") for row in rows]
        return table(template.headers(columns), cells)
    template = compile_template(fmt)
    return "".join(template.render(row) + "\n" for row in rows)


def emit_documents(documents: Sequence[Any], args: argparse.Namespace) -> dict[str, Any]:
    """``inspect``-style verbs: a JSON array by default (docker's shape), or each through ``--format``."""
    fmt = getattr(args, "format", None)
    if fmt and fmt != "json":
        template = compile_template(fmt)
        sys.stdout.write("".join(template.render(doc) + "\n" for doc in documents))
    else:
        sys.stdout.write(json.dumps(list(documents), indent=4, sort_keys=True) + "\n")
    return {"_rc": 0}


def table(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell plus three spaces, as Docker's tabwriter; the last one unpadded."""
    widths = [len(h) for h in headers]
    for row in cells:
        for index, cell in enumerate(row[: len(widths)]):
            widths[index] = max(widths[index], len(cell))
    lines = []
    for row in [list(headers), *cells]:
        padded = [cell.ljust(widths[i] + 3) if i < len(widths) - 1 else cell for i, cell in enumerate(row)]
        lines.append("".join(padded).rstrip() + "\n")
    return "".join(lines)


# -- the Go-template subset ------------------------------------------------------

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_FUNCTIONS = ("json", "upper", "lower", "join", "index", "title", "truncate")


@dataclass(frozen=True)
class Template:
    parts: tuple[str | tuple[str, ...], ...]   # literal text, or an action's words

    def render(self, data: Any) -> str:
        return "".join(part if isinstance(part, str) else _evaluate(part, data) for part in self.parts)

    def headers(self, columns: Sequence[Column]) -> list[str]:
        """``table`` templates' header: the known column's header for a field, else the field in capitals."""
        known = {c.field: c.header for c in columns}
        headers: list[str] = []
        for cell in self._cells():
            fields = [w[1:].split(".")[0] for part in cell for w in part if w.startswith(".") and len(w) > 1]
            headers.append(" ".join(known.get(f, _upper_words(f)) for f in fields) or "")
        return headers

    def _cells(self) -> list[list[tuple[str, ...]]]:
        cells: list[list[tuple[str, ...]]] = [[]]
        for part in self.parts:
            if isinstance(part, str):
                cells.extend([] for _tab in range(part.count("\t")))
            else:
                cells[-1].append(part)
        return cells


def compile_template(text: str, flag: str = "--format") -> Template:
    text = text.replace("\\t", "\t").replace("\\n", "\n")
    parts: list[str | tuple[str, ...]] = []
    position = 0
    for match in _ACTION.finditer(text):
        parts.append(text[position:match.start()])
        parts.append(_words(match.group(1), text, flag))
        position = match.end()
    tail = text[position:]
    if "{{" in tail or "}}" in tail:
        raise InvalidInput(f"{text!r}: an unclosed {{{{ action", field=flag, hint="e.g. --format '{{.ID}}'")
    parts.append(tail)
    return Template(tuple(p for p in parts if p != ""))


def _words(action: str, text: str, flag: str) -> tuple[str, ...]:
    words = tuple(re.findall(r'"[^"]*"|\S+', action))
    ok = bool(words) and (
        (len(words) == 1 and words[0].startswith("."))
        or (words[0] in _FUNCTIONS and len(words) >= 2 and words[1].startswith(".")))
    if not ok:
        raise InvalidInput(f"{text!r}: {{{{{action}}}}} is not a field or a supported function", field=flag,
                           hint="use {{.Field}}, {{json .Field}}, {{upper .F}}, {{lower .F}}, {{join .F \",\"}}"
                                " or {{index .F \"key\"}}")
    return words


def _evaluate(words: tuple[str, ...], data: Any) -> str:
    if words[0].startswith("."):
        return _text(_lookup(data, words[0]))
    function, value = words[0], _lookup(data, words[1])
    argument = words[2].strip('"') if len(words) > 2 else ""
    if function == "json":
        return json.dumps(value, sort_keys=True)
    if function == "join":
        return argument.join(_text(v) for v in (value or []))
    if function == "index":
        return _text(value.get(argument) if isinstance(value, dict) else None)
    if function == "truncate":
        return _text(value)[: int(argument)] if argument.isdigit() else _text(value)
    text = _text(value)
    return {"upper": text.upper, "lower": text.lower, "title": text.title}[function]()


def _lookup(data: Any, path: str) -> Any:
    value = data
    for key in [k for k in path.split(".") if k]:
        if isinstance(value, dict):
            value = value.get(key, value.get(key.lower(), value.get(_snake(key))))
        else:
            value = getattr(value, key, None)
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _upper_words(field: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", field).upper()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True) if isinstance(value, dict) else ",".join(_text(v) for v in value)
    return str(value)


# -- Docker's human units --------------------------------------------------------

def human_size(size: float) -> str:
    """Docker's ``HumanSizeWithPrecision(size, 3)``: decimal units, three significant digits."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{int(size)}B" if unit == "B" else f"{size:.3g}{unit}"
        size /= 1000
    return f"{size:.3g}PB"   # pragma: no cover - the loop returns at TB


def human_duration(seconds: float) -> str:
    """Docker's ``HumanDuration``: "Less than a second", "About a minute", "3 hours", "2 weeks"..."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 2:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = seconds / 60
    if round(minutes) == 1:
        return "About a minute"
    if minutes < 60:
        return f"{int(minutes)} minutes"
    hours = minutes / 60
    if round(hours) == 1:
        return "About an hour"
    if hours < 48:
        return f"{int(hours)} hours"
    if hours < 24 * 7 * 2:
        return f"{int(hours / 24)} days"
    if hours < 24 * 30 * 2:
        return f"{int(hours / 24 / 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{int(hours / 24 / 30)} months"
    return f"{int(hours / 24 / 365)} years"


def since(timestamp: float | None, now: float | None = None) -> str:
    """``CreatedSince``: "2 hours ago" ("" when the time is unknown)."""
    if not timestamp:
        return ""
    return human_duration(max(0.0, (now if now is not None else time.time()) - timestamp)) + " ago"


def short_id(identifier: str, no_trunc: bool = False) -> str:
    """An ID as Docker prints it in tables: 12 hex digits, without ``sha256:`` (all of it with --no-trunc)."""
    if no_trunc:
        return identifier
    return identifier.split(":", 1)[-1][:12]


def truncated(text: str, width: int, no_trunc: bool = False) -> str:
    if no_trunc or len(text) <= width:
        return text
    return text[: width - 1] + "…"
