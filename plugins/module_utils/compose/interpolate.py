"""Compose variable interpolation, with compose-go's template semantics.

``$V`` and ``${V}`` take a variable's value; ``${V:-d}``/``${V-d}`` a default
when unset-or-empty/unset; ``${V:?e}``/``${V?e}`` fail when unset-or-empty/unset;
``${V:+a}``/``${V+a}`` an alternative when set-and-non-empty/set; defaults nest;
``$$`` is a literal ``$``. Only values are interpolated, never mapping keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput

Mapping = Callable[[str], "str | None"]

# compose-go's pattern: the braced form's argument is greedy (``.*``) and is cut
# back at the first balanced ``}``; what follows is substituted on its own.
_PATTERN = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|"
    r"\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}|(?P<invalid>)))")
_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")


class TemplateError(ValueError):
    """A malformed template or a required variable without a value."""


def _closing_brace(text: str) -> int:
    """Index of the ``}`` closing the first ``${`` (nesting counted), or -1."""
    depth = 0
    i = 0
    while i < len(text):
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        if text[i] == "{":
            depth += 1
            i += 1  # the character after "{" never closes (compose-go skips it)
        i += 1
    return -1


def _apply(op: str, name: str, arg: str, mapping: Mapping) -> str:
    value = mapping(name)
    if op in (":-", "-"):
        if value is None or (op == ":-" and value == ""):
            return substitute(arg, mapping)
        return value
    if op in (":+", "+"):
        if value is not None and (op == "+" or value != ""):
            return substitute(arg, mapping)
        return value or ""
    # ":?" / "?": a required variable
    if value is None or (op == ":?" and value == ""):
        reason = substitute(arg, mapping)
        text = f"required variable {name} is missing a value"
        raise TemplateError(f"{text}: {reason}" if reason else text)
    return value


def _replace(match: re.Match[str], mapping: Mapping, template: str) -> str:
    whole = match.group(0)
    if match.group("escaped"):
        return "$"
    if match.group("named"):
        return mapping(match.group("named")) or ""
    braced = match.group("braced")
    if not braced:
        raise TemplateError(f"Invalid template: {template!r}")
    name = _NAME.match(braced)
    if name is None:   # the pattern guarantees a name
        raise TemplateError(f"Invalid template: {template!r}")
    rest_of_braced = braced[name.end():]
    op = next((o for o in _OPERATORS if rest_of_braced.startswith(o)), "")
    if not op:
        return mapping(name.group(0)) or ""
    # the greedy argument may have swallowed later text: cut at the balanced "}"
    close = _closing_brace(whole)
    rest = whole[close + 1:] if close > -1 else ""
    inner = whole[2:close] if close > -1 else braced
    arg = inner[name.end() + len(op):]
    return _apply(op, name.group(0), arg, mapping) + substitute(rest, mapping)


def substitute(template: str, mapping: Mapping) -> str:
    """Interpolate one string; raises TemplateError."""
    if "$" not in template:
        return template
    return _PATTERN.sub(lambda m: _replace(m, mapping, template), template)


def interpolate_tree(value: Any, mapping: Mapping, *, path: str, source: str) -> Any:
    """Interpolate every string value of a YAML tree (keys stay as written)."""
    if isinstance(value, str):
        try:
            return substitute(value, mapping)
        except TemplateError as err:
            raise InvalidInput(f"{source}: {err}", field=path,
                               hint="set the variable (shell or .env) or give a default with ${VAR:-default}"
                               ) from None
    if isinstance(value, dict):
        return {k: interpolate_tree(v, mapping, path=_join(path, k), source=source) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_tree(v, mapping, path=f"{path}[{i}]", source=source) for i, v in enumerate(value)]
    return value


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def mapping_of(env: dict[str, str]) -> Mapping:
    return env.get
