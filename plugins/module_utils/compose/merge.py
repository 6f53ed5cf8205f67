"""Reading Compose YAML and merging several files as Compose merges them.

YAML: anchors, aliases and ``<<`` merge keys as YAML defines them; a key
written twice in one mapping is an error (PyYAML would keep the last one
silently); ``!reset`` drops a key (from this file and from what it overrides),
``!override`` replaces instead of merging.

Merging (on the long syntax, see normalize.canonical_file): mappings merge key
by key; ``command``, ``entrypoint``, ``healthcheck.test`` and each ulimit are
replaced; ports, expose, volumes, secrets, configs, env_file, tmpfs, dns and
capabilities are concatenated, a later entry replacing an earlier one with the
same key (a volume's target, a port's host ip/port/target/protocol, ...);
``logging`` options merge only when the driver stays the same.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput

Path = tuple[str, ...]


class _Tagged:
    def __init__(self, value: Any) -> None:
        self.value = value


class Reset(_Tagged):
    """``!reset``: the key goes back to its default (it is removed)."""


class Override(_Tagged):
    """``!override``: the value replaces the one it overrides, without merging."""


BOOLEAN_1_2 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


@functools.cache
def _loader() -> Any:
    """The YAML loader class (PyYAML is imported here, not at module import:
    ansible-test imports module_utils where PyYAML is absent; hosts get it
    from the berth.engine.host role)."""
    try:
        import yaml
    except ImportError:
        raise InvalidInput("the Python package PyYAML is missing on this host", field="files",
                           hint="apply the berth.engine.host role (it installs the engine's dependencies)") from None

    # libyaml's parser where PyYAML has it (a 20-service file parses in a third of the time); same constructor
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _Loader(base):  # type: ignore[valid-type,misc]
        """SafeLoader refusing duplicate keys and knowing Compose's two tags."""

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a scalar",
                                                            key_node.start_mark)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                            key_node.start_mark)
                seen.add(key)
            mapping = super().construct_mapping(node, deep=True)
            # keys are strings in Compose (`80:` or `true:` name the key "80" / "true")
            return {_key_text(k): v for k, v in mapping.items()}

    def _tagged(cls: type[_Tagged]) -> Callable[[yaml.SafeLoader, yaml.Node], _Tagged]:
        def construct(loader: yaml.SafeLoader, node: yaml.Node) -> _Tagged:
            if isinstance(node, yaml.MappingNode):
                return cls(loader.construct_mapping(node, deep=True))
            if isinstance(node, yaml.SequenceNode):
                return cls(loader.construct_sequence(node, deep=True))
            return cls(loader.construct_scalar(node))  # type: ignore[arg-type]
        return construct

    _Loader.add_constructor("!reset", _tagged(Reset))
    _Loader.add_constructor("!override", _tagged(Override))
    # Compose reads YAML 1.2 (go-yaml v3): timestamps stay strings, and only true/false are booleans
    # (YAML 1.1's yes/no/on/off are strings, so `ON: 1` is a key named "ON").
    _Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    for first in "tTfF":
        _Loader.add_implicit_resolver("tag:yaml.org,2002:bool", BOOLEAN_1_2, [first])
    return yaml, _Loader


def _subnet_key(value: Any) -> Any:
    return value.get("subnet") if isinstance(value, dict) else repr(value)


def _key_text(key: Any) -> Any:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return key if isinstance(key, str) else str(key)


def parse_yaml(text: str, source: str) -> Any:
    """The document of one Compose file; YAML errors name the file and line."""
    try:
        yaml, loader = _loader()
        docs = list(yaml.load_all(text, Loader=loader))  # a SafeLoader
    except InvalidInput:
        raise
    except RecursionError:
        raise InvalidInput(f"{source}: the YAML nests too deeply", field=source) from None
    except Exception as err:   # yaml.YAMLError (the class lives in the lazily imported module)
        if not type(err).__module__.startswith("yaml"):
            raise
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise InvalidInput(f"{source}: invalid YAML{where}: {problem}", field=source,
                           hint="fix the YAML syntax (indentation, quotes, colons)") from None
    docs = [d for d in docs if d is not None]
    for doc in docs:
        check_size(doc, source)
    if len(docs) > 1:
        raise InvalidInput(f"{source}: holds {len(docs)} YAML documents", field=source,
                           hint="put one project per file, or pass several files with -f")
    return docs[0] if docs else {}


MAX_NODES = 200_000  # after aliases are expanded: a "billion laughs" file is refused, not expanded
MAX_DEPTH = 64


def check_size(doc: Any, source: str) -> None:
    """Refuse documents whose aliases expand past MAX_NODES or that nest past MAX_DEPTH."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            what = "nests too deeply" if depth > MAX_DEPTH else "is too large once its aliases are expanded"
            raise InvalidInput(f"{source}: the YAML {what}", field=source,
                               hint="use fewer levels of nesting, or fewer nested aliases")
        if isinstance(node, _Tagged):
            stack.append((node.value, depth + 1))
        elif isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def strip_tags(value: Any, path: Path = ()) -> tuple[Any, set[Path], set[Path]]:
    """The plain tree, the paths marked ``!reset`` (removed) and ``!override``."""
    resets: set[Path] = set()
    overrides: set[Path] = set()

    def walk(node: Any, here: Path) -> Any:
        if isinstance(node, Override):
            overrides.add(here)
            return walk(node.value, here)
        if isinstance(node, dict):
            out = {}
            for key, item in node.items():
                if isinstance(item, Reset):
                    resets.add((*here, str(key)))
                    continue
                out[key] = walk(item, (*here, str(key)))
            return out
        if isinstance(node, list):
            return [walk(item, here) for item in node if not isinstance(item, Reset)]
        if isinstance(node, Reset):
            return None
        return node

    return walk(value, path), resets, overrides


def _port_key(port: dict[str, Any]) -> Any:
    return (port.get("host_ip") or "0.0.0.0", port.get("published"), port.get("target"),
            port.get("protocol") or "tcp")


def _same(item: Any) -> Any:
    return repr(item)


_LIST_KEYS: dict[str, Callable[[Any], Any]] = {
    "ports": _port_key,
    "volumes": lambda v: v.get("target"),
    "secrets": lambda v: v.get("target") or v.get("source"),
    "configs": lambda v: v.get("target") or v.get("source"),
    "env_file": lambda v: v.get("path"),
    "expose": _same, "tmpfs": _same, "dns": _same, "dns_search": _same, "dns_opt": _same,
    "cap_add": _same, "cap_drop": _same, "profiles": _same, "security_opt": _same, "extra_hosts": _same,
    "devices": _same, "links": _same, "volumes_from": _same, "group_add": _same,
}
_REPLACED = {"command", "entrypoint"}


def _merge_list(base: list[Any], other: list[Any], key: Callable[[Any], Any]) -> list[Any]:
    out = list(base)
    index = {key(item): i for i, item in enumerate(out)}
    for item in other:
        k = key(item)
        if k in index:
            out[index[k]] = item
        else:
            index[k] = len(out)
            out.append(item)
    return out


def merge(base: Any, other: Any, path: Path = (), resets: frozenset[Path] = frozenset(),
          overrides: frozenset[Path] = frozenset()) -> Any:
    """``other`` over ``base`` (both in long syntax)."""
    if path in overrides:
        return other
    if other is None:
        return base
    if isinstance(base, dict) and isinstance(other, dict):
        return _merge_map(base, other, path, resets, overrides)
    if isinstance(base, list) and isinstance(other, list):
        key = _LIST_KEYS.get(path[-1]) if len(path) == 3 and path[0] == "services" else None
        if path[-2:] == ("ipam", "config"):
            key = _subnet_key
        return _merge_list(base, other, key) if key else base + other
    return other


def _merge_map(base: dict[str, Any], other: dict[str, Any], path: Path, resets: frozenset[Path],
               overrides: frozenset[Path]) -> dict[str, Any]:
    service_level = len(path) == 2 and path[0] == "services"
    if path[2:] == ("logging",) and path[0] == "services" and base.get("driver", other.get("driver")) != other.get(
            "driver", base.get("driver")):
        return dict(other)  # another driver: its options mean something else
    if len(path) == 3 and path[0] == "services" and path[2] == "ulimits":
        return {**base, **other}
    out = {k: v for k, v in base.items() if (*path, k) not in resets}
    for key, value in other.items():
        here = (*path, key)
        if key not in out or (service_level and key in _REPLACED):
            out[key] = value
        elif here == (*path[:2], "healthcheck") and isinstance(value, dict) and "test" in value:
            out[key] = {**merge(out[key], {k: v for k, v in value.items() if k != "test"}, here, resets,
                                overrides), "test": value["test"]}
        else:
            out[key] = merge(out[key], value, here, resets, overrides)
    return out


def enforce_unicity(data: dict[str, Any]) -> dict[str, Any]:
    """Within each service's keyed lists, a later entry replaces an earlier one with the same key
    (also inside one file, as compose-go does)."""
    for service in (data.get("services") or {}).values():
        for name, key in _LIST_KEYS.items():
            if isinstance(service.get(name), list):
                service[name] = _merge_list([], service[name], key)
    return data
