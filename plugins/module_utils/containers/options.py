"""The container option table (shared/ANCHORS.md #2): every container option
is one row, and the row is all there is to it — its argument spec, how its
value is normalised into the ``ContainerSpec`` field of the same name, its
default comparison (overridable per task with ``comparisons``), whether a
change updates the container in place or recreates it, and how it compares.

The ``container`` module and ``berth run``/``create`` (``cliargs.py``: a flag
per row where Docker has one) both go ``stated options -> build_spec()``, so
an option is mapped onto the engine once.

Comparison is desired against actual: the task's spec against the spec the
container was made with, both merged with the image's defaults
(``ContainerSpec.effective``), for the options the task states. An option
left out is not compared (it means "whatever the container has"), so an image
default never reads as drift, and a container made by ``berth run`` with the
same values is left alone.
"""

from __future__ import annotations

from ..errors import InvalidInput
from ..strict import brief, parse_uint
from .spec import LOG_DRIVERS, RESOURCE_NAMES, ContainerSpec

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `berth run` builds specs in its fast lane
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

COMPARISONS = ("strict", "ignore", "allow_more_present")
NETWORK_SUBOPTIONS: dict[str, Any] = {
    "name": {"type": "str", "required": True},
    "ipv4_address": {"type": "str"},
    "aliases": {"type": "list", "elements": "str"},
}
MOUNT_SUBOPTIONS: dict[str, Any] = {
    "target": {"type": "str", "required": True},
    "source": {"type": "str"},
    "type": {"type": "str", "choices": ["volume", "bind", "tmpfs"], "default": "volume"},
    "read_only": {"type": "bool"},
    "propagation": {"type": "str", "choices": ["private", "rprivate", "shared", "rshared", "slave", "rslave"]},
    "no_copy": {"type": "bool"},
    "tmpfs_size": {"type": "str"},
    "tmpfs_mode": {"type": "str"},
    "labels": {"type": "dict"},
    "volume_driver": {"type": "str"},
    "volume_options": {"type": "dict"},
}
RATE_SUBOPTIONS: dict[str, Any] = {"path": {"type": "str", "required": True}, "rate": {"type": "str", "required": True}}


def _as_is(value: Any) -> Any:
    return value


class Option:
    """One row (a plain class, not a dataclass: see spec.py on import cost)."""

    __slots__ = ("comparison", "kind", "name", "normalise", "spec", "update")

    def __init__(self, name: str, spec: dict[str, Any], *, comparison: str = "strict", update: str = "recreate",
                 kind: str = "value", normalise: Callable[[Any], Any] = _as_is) -> None:
        self.name = name
        self.spec = spec
        self.comparison = comparison   # the default; a task's `comparisons` overrides it
        self.update = update           # recreate | in_place
        self.kind = kind               # value | set (case-blind) | paths (case-kept set) | dict
        self.normalise = normalise

    def same(self, before: Any, after: Any, how: str) -> bool:
        if how == "ignore":
            return True
        if self.kind in ("set", "paths"):
            fold = str.upper if self.kind == "set" else str
            have = {fold(_key(v)) for v in before or []}
            want = {fold(_key(v)) for v in after or []}
            return want <= have if how == "allow_more_present" else have == want
        if self.kind == "dict":
            have, want = dict(before or {}), dict(after or {})
            if how == "allow_more_present":
                return all(have.get(k) == v for k, v in want.items())
            return have == want
        return before == after


# -- normalisers (stated value -> spec value) ----------------------------------------------
def split_command(text: str, field: str = "command") -> list[str]:
    """A shell-like command line as argv; unbalanced quotes are an InvalidInput."""
    import shlex

    try:
        return shlex.split(text)
    except ValueError as err:  # "No closing quotation", "No escaped character"
        raise InvalidInput(f"{brief(text)} cannot be split into arguments: {err}", field=field,
                           hint=f"close the quote, or give {field} as a list") from None


def _argv(field: str) -> Callable[[Any], tuple[str, ...]]:
    def normalise(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = split_command(value) if field == "command" else [value]
        if not isinstance(value, (list, tuple)):
            raise InvalidInput(f"{brief(value)} is not a command", field=field, hint="give a list of arguments")
        return tuple(_text(v, field) for v in value)
    return normalise


def _text(value: Any, field: str = "env") -> str:
    if isinstance(value, bool):
        raise InvalidInput(f"{value!r} is a boolean; quote it", field=field,
                           hint='write "true"/"false" in quotes: these values are strings')
    if isinstance(value, int) and value.bit_length() > 64:  # and str() of a huge int raises
        raise InvalidInput(f"{brief(value)} is too large for a value", field=field, hint="quote it as a string")
    text = str(value)
    if "\0" in text:
        raise InvalidInput(f"{brief(text)} contains a NUL byte", field=field, hint="remove the NUL character")
    return text


def _env(values: dict[Any, Any]) -> dict[str, str]:
    """``env`` with keys a process environment can hold (no '=', no NUL, not empty)."""
    env = {}
    for key, value in values.items():
        name = str(key)
        if not name or "=" in name or "\0" in name:
            raise InvalidInput(f"{brief(name)} is not an environment variable name", field="env",
                               hint="names are non-empty and hold no '=' (e.g. APP_MODE)")
        env[name] = _text(value)
    return env


def _strings(field: str) -> Callable[[Any], dict[str, str]]:
    def normalise(values: dict[Any, Any]) -> dict[str, str]:
        return {str(k): _text(v, field) for k, v in values.items()}
    return normalise


def _items(field: str, fold: Callable[[str], str] = str) -> Callable[[Any], tuple[str, ...]]:
    def normalise(values: Any) -> tuple[str, ...]:
        return tuple(fold(_text(v, field)) for v in values)
    return normalise


def _signal(value: Any) -> str:
    text = _text(value, "stop_signal").strip().upper()
    return text if text.isdigit() or text.startswith("SIG") else f"SIG{text}"


def _int(field: str) -> Callable[[Any], int]:
    def normalise(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{brief(value)} is not a whole number", field=field, hint="give a number")
        return value
    return normalise


def _log_options(log_options: dict[str, Any]) -> dict[str, int]:
    """The given ones only: what is not given is the log driver's default (spec.log_defaults)."""
    from ..units import parse_bytes

    unknown = set(log_options) - {"max_size", "max_file", "max-size", "max-file"}
    if unknown:
        raise InvalidInput(f"unknown log_options {sorted(unknown)}", field="log_options",
                           hint="the json-file driver takes max_size (e.g. 10m) and max_file")
    size = log_options.get("max_size", log_options.get("max-size"))
    files = log_options.get("max_file", log_options.get("max-file"))
    found: dict[str, int] = {}
    if size is not None:
        found["max_size"] = parse_bytes(size, "log_options.max_size") if size else 0
    if files is not None:
        found["max_file"] = parse_uint(files.strip() if isinstance(files, str) else files,
                                       field="log_options.max_file", what="max_file", minimum=1, maximum=1000,
                                       hint="give the number of log files to keep, e.g. 3")
    return found


def _log_driver(value: Any) -> str:
    if value not in LOG_DRIVERS:
        raise InvalidInput(f"log driver {brief(value)} is not available", field="log_driver",
                           hint=f"berth's log drivers: {', '.join(LOG_DRIVERS)}")
    return str(value)


def _names(normalise: str) -> Callable[[Any], Any]:
    """A normaliser of nameopts.py, imported only when the option is given."""
    def call(value: Any) -> Any:
        from . import nameopts

        return getattr(nameopts, normalise)(value)
    return call


def _healthcheck(value: dict[str, Any]) -> dict[str, Any] | None:
    from .health import from_option

    return from_option(value)


def _mounts(values: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    from ..volumes.specs import comparable

    return tuple(comparable(values))


def _networks(values: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple({"name": n["name"], **({"ipv4_address": n["ipv4_address"]} if n.get("ipv4_address") else {}),
                  **({"aliases": sorted(n["aliases"])} if n.get("aliases") else {})} for n in values)


def _ports(values: list[Any]) -> tuple[str, ...]:
    from ..network.ports import parse_published_ports

    return tuple(sorted(str(p) for p in parse_published_ports(values)))


OPTIONS: tuple[Option, ...] = (
    Option("command", {"type": "raw"}, normalise=_argv("command")),
    Option("entrypoint", {"type": "list", "elements": "str"}, normalise=_argv("entrypoint")),
    Option("env", {"type": "dict"}, kind="dict", normalise=_env),
    Option("user", {"type": "str"}),
    Option("working_dir", {"type": "str"}),
    Option("hostname", {"type": "str"}),
    Option("read_only", {"type": "bool"}, normalise=bool),
    Option("capabilities", {"type": "list", "elements": "str"}, kind="set", normalise=_items("capabilities")),
    Option("cap_drop", {"type": "list", "elements": "str"}, kind="set", normalise=_items("cap_drop")),
    Option("labels", {"type": "dict"}, kind="dict", normalise=_strings("labels")),
    Option("restart_policy", {"type": "str", "choices": ["no", "on-failure", "always", "unless-stopped"]},
           update="in_place"),
    Option("restart_retries", {"type": "int"}, update="in_place", normalise=_int("restart_retries")),
    Option("stop_signal", {"type": "str"}, update="in_place", normalise=_signal),
    Option("stop_timeout", {"type": "int"}, update="in_place", normalise=_int("stop_timeout")),
    Option("auto_remove", {"type": "bool"}, normalise=bool),
    Option("log_options", {"type": "dict"}, kind="dict", normalise=_log_options),
    Option("healthcheck", {"type": "dict"}, kind="dict", normalise=_healthcheck),
    Option("oom_score_adj", {"type": "int"}, normalise=_int("oom_score_adj")),
    Option("tmpfs", {"type": "list", "elements": "str"}, kind="set", normalise=_items("tmpfs")),
    Option("ulimits", {"type": "list", "elements": "str"}, kind="set", normalise=_items("ulimits")),
    Option("sysctls", {"type": "dict"}, kind="dict", normalise=_strings("sysctls")),
    Option("devices", {"type": "list", "elements": "str"}, kind="set", normalise=_items("devices")),
    Option("privileged", {"type": "bool"}, normalise=bool),
    Option("volumes", {"type": "list", "elements": "str"}, kind="paths", normalise=_items("volumes")),
    Option("network_mode", {"type": "str"}),
    Option("networks", {"type": "list", "elements": "dict", "options": NETWORK_SUBOPTIONS}, kind="paths",
           update="in_place", normalise=_networks),
    Option("published_ports", {"type": "list", "elements": "str", "aliases": ["ports"]}, kind="paths",
           normalise=_ports),
    Option("publish_all_ports", {"type": "bool"}, normalise=bool),
    Option("mounts", {"type": "list", "elements": "dict", "options": MOUNT_SUBOPTIONS}, kind="paths",
           normalise=_mounts),
    Option("cgroup_parent", {"type": "str"}),
    Option("init", {"type": "bool"}, normalise=bool),
    Option("etc_hosts", {"type": "dict"}, kind="dict", normalise=_names("etc_hosts")),
    Option("dns_servers", {"type": "list", "elements": "str"}, normalise=_names("dns_servers")),
    Option("dns_search_domains", {"type": "list", "elements": "str"}, normalise=_names("dns_search_domains")),
    Option("dns_opts", {"type": "list", "elements": "str"}, kind="paths", normalise=_names("dns_opts")),
    Option("log_driver", {"type": "str", "choices": list(LOG_DRIVERS)}, normalise=_log_driver),
    # resource limits (Docker's names and units), changed in place like `docker update`;
    # normalised together by the cgroup layer's validation (build_spec)
    *(Option(name, {"type": kind}, update="in_place") for name, kind in (
        ("memory", "str"), ("memory_reservation", "str"), ("memory_swap", "str"), ("memory_swappiness", "int"),
        ("cpus", "float"), ("cpu_shares", "int"), ("cpu_period", "int"), ("cpu_quota", "int"),
        ("cpuset_cpus", "str"), ("cpuset_mems", "str"), ("pids_limit", "int"), ("blkio_weight", "int"))),
    *(Option(name, {"type": "list", "elements": "dict", "options": RATE_SUBOPTIONS}, update="in_place")
      for name in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops")),
)
BY_NAME = {option.name: option for option in OPTIONS}
NETWORK_OPTIONS = ("network_mode", "networks", "published_ports", "publish_all_ports")
# options that describe the container's state, not its spec
STATE_OPTIONS: dict[str, dict[str, Any]] = {"paused": {"type": "bool"}}


def argument_spec() -> dict[str, dict[str, Any]]:
    spec = {option.name: dict(option.spec) for option in OPTIONS}
    spec.update(STATE_OPTIONS)
    spec["env_file"] = {"type": "path"}
    spec["comparisons"] = {"type": "dict"}
    spec["image_comparison"] = {"type": "str", "choices": list(IMAGE_COMPARISONS), "default": IMAGE_COMPARISONS[0]}
    spec["command_handling"] = {"type": "str", "choices": list(COMMAND_HANDLING), "default": COMMAND_HANDLING[0]}
    return spec


# community.docker's docker_container options of the same names, the first of each its default:
# which image's defaults (ENV, LABEL, CMD, ...) the comparison merges into both sides (the one the task
# names, or the one the container runs), and how command and entrypoint are read (see handle_commands).
IMAGE_COMPARISONS = ("desired-image", "current-image")
COMMAND_HANDLING = ("correct", "compatibility")
COMMAND_OPTIONS = ("command", "entrypoint")


def handle_commands(options: dict[str, Any], handling: str | None) -> dict[str, Any]:
    """The stated options with ``command`` and ``entrypoint`` read as ``command_handling`` says.

    V(correct): as given (a list is the argv, a ``command`` string is split like a shell would, and an
    empty one is an empty command, which overrides the image's). V(compatibility), community.docker's
    behaviour before its 3.0: a list is joined with spaces, quoting aside, and the string split like a
    shell would (``["echo", "a b"]`` runs ``echo a b`` with two arguments), and an empty value is as if
    the option were not given."""
    handling = handling or COMMAND_HANDLING[0]
    if handling not in COMMAND_HANDLING:
        raise InvalidInput(f"command_handling: {brief(handling)} is not a way to read commands",
                           field="command_handling", hint="use correct or compatibility")
    if handling == "correct":
        return options
    handled = dict(options)
    for name in COMMAND_OPTIONS:
        if name not in handled:
            continue
        value = handled.pop(name)
        text = " ".join(_text(v, name) for v in value) if isinstance(value, (list, tuple)) else _text(value, name)
        if text.strip():
            handled[name] = split_command(text, name)
    return handled


def stated(params: dict[str, Any]) -> dict[str, Any]:
    """The table's options a task (or a command line) gives, as given;
    ``env_file`` read and merged under ``env``, as Docker merges them."""
    values = {name: params[name] for name in BY_NAME if params.get(name) is not None}
    if params.get("env_file"):
        from pathlib import Path

        from .envfile import read_env_file

        values["env"] = {**read_env_file(Path(params["env_file"])), **(values.get("env") or {})}
    return values


def build_spec(image: str, options: dict[str, Any]) -> ContainerSpec:
    """The spec for these stated options: each normalised by its row, then
    the checks that span several options (networks, mounts, host options,
    resources, auto_remove against the restart policy)."""
    values = {name: BY_NAME[name].normalise(value) for name, value in options.items() if name not in RESOURCE_NAMES}
    values["resources"] = _resources({k: v for k, v in options.items() if k in RESOURCE_NAMES})
    spec = ContainerSpec(image=image, **values)
    check_spec(spec, options)
    return spec


def _resources(raw: dict[str, Any]) -> dict[str, Any]:
    if not raw:
        return {}
    from . import limits

    parsed = limits.validate(raw)
    return {name: _plain(getattr(parsed, name)) for name in raw}


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [{"path": item.path, "rate": item.rate} if hasattr(item, "path") else item for item in value]
    return value


def check_spec(spec: ContainerSpec, options: dict[str, Any]) -> None:
    """Each check imports its module only when the spec uses it: ``berth
    run`` builds specs in the CLI's fast lane, before the engine is loaded."""
    if spec.tmpfs or spec.ulimits or spec.sysctls or spec.devices:
        from .bundle_host import check_host_options

        check_host_options(tmpfs=list(spec.tmpfs), ulimits=list(spec.ulimits), sysctls=spec.sysctls,
                           devices=list(spec.devices))
    if spec.volumes or spec.mounts or spec.tmpfs:
        from ..volumes import specs
        from . import mounting

        mounting.check_binds(specs.parse_all(list(spec.volumes), list(spec.mounts), list(spec.tmpfs)))
    if any(name in options for name in NETWORK_OPTIONS):
        from .netwishes import wishes

        wishes(spec.network_mode, list(spec.networks), list(spec.published_ports), spec.publish_all_ports)
    if spec.auto_remove and spec.restart_policy != "no":
        raise InvalidInput("auto_remove conflicts with a restart policy", field="auto_remove",
                           hint="use restart_policy: no with auto_remove, as Docker requires")
    _check_names_and_logs(spec)


def _check_names_and_logs(spec: ContainerSpec) -> None:
    if spec.init:   # a stat: check mode fails here as the apply would
        from .bundle_host import init_binary

        init_binary()
    if spec.etc_hosts or spec.dns_servers or spec.dns_search_domains or spec.dns_opts:
        from .nameopts import check_with_network

        check_with_network(spec)
    if spec.log_driver == "none" and spec.log_options:
        raise InvalidInput("log_options do not apply to the none log driver", field="log_options",
                           hint="drop log_options, or use log_driver json-file or local")


IMAGE = "image"   # `comparisons: {image: ignore}` keeps a container whose image is not the task's (community.docker)


def comparisons(overrides: dict[str, str] | None) -> dict[str, str]:
    """Each option's comparison (the table's default, or the task's), and the image's (strict or ignore)."""
    chosen = {option.name: option.comparison for option in OPTIONS}
    chosen[IMAGE] = "strict"
    for name, how in (overrides or {}).items():
        if name == IMAGE and how not in ("strict", "ignore"):
            raise InvalidInput(f"comparisons: {how!r} for image", field="comparisons",
                               hint="the image is compared strict (a new image ID recreates) or ignore")
        if name not in chosen:
            raise InvalidInput(f"comparisons: unknown option {name!r}", field="comparisons",
                               hint=f"options that can be compared: {', '.join(sorted(chosen))}")
        if how not in COMPARISONS:
            raise InvalidInput(f"comparisons: {how!r} for {name}", field="comparisons",
                               hint="use strict, ignore or allow_more_present")
        chosen[name] = how
    return chosen


def differences(actual: ContainerSpec, desired: ContainerSpec, names: list[str], how: dict[str, str],
                image_config: dict[str, Any]) -> list[dict[str, Any]]:
    """[{option, before, after, update}] for every stated option whose
    effective value (image defaults merged) differs from the container's."""
    found = []
    for name in names:
        option = BY_NAME[name]
        before, after = actual.effective(name, image_config), desired.effective(name, image_config)
        if not option.same(before, after, how[name]):
            found.append({"option": name, "before": before, "after": after, "update": option.update})
    return found


def _key(value: Any) -> str:
    if not isinstance(value, dict):
        return str(value)
    import json  # here: `berth run` builds specs in its fast lane, which has no json

    return json.dumps(value, sort_keys=True)
