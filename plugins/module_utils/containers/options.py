"""The container module's option table (shared/ANCHORS.md #2): one row per
option drives its argument spec, how its value is compared with the
container's, and whether a change is applied in place or forces a recreate.

Only options the task gives are compared (an option left out means "the
image's default" and never reads as drift); values are compared as the user
states them, not merged with the image, so image defaults are not drift.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..strict import brief

ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
ENV_FILE_LIMIT = 4 << 20  # bytes; an env file is a few KEY=value lines
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


@dataclass(frozen=True)
class Option:
    name: str
    spec: dict[str, Any]
    comparison: str = "strict"       # the default; a task's `comparisons` overrides it
    update: str = "recreate"         # or "in_place"
    kind: str = "value"              # value | set (case-blind) | paths (case-kept set) | dict


OPTIONS: tuple[Option, ...] = (
    Option("command", {"type": "raw"}),
    Option("entrypoint", {"type": "list", "elements": "str"}),
    Option("env", {"type": "dict"}, kind="dict"),
    Option("user", {"type": "str"}),
    Option("working_dir", {"type": "str"}),
    Option("hostname", {"type": "str"}),
    Option("read_only", {"type": "bool"}),
    Option("capabilities", {"type": "list", "elements": "str"}, kind="set"),
    Option("cap_drop", {"type": "list", "elements": "str"}, kind="set"),
    Option("labels", {"type": "dict"}, kind="dict"),
    Option("restart_policy", {"type": "str", "choices": ["no", "on-failure", "always", "unless-stopped"]},
           update="in_place"),
    Option("restart_retries", {"type": "int"}, update="in_place"),
    Option("stop_signal", {"type": "str"}, update="in_place"),
    Option("stop_timeout", {"type": "int"}, update="in_place"),
    Option("auto_remove", {"type": "bool"}),
    Option("log_options", {"type": "dict"}, kind="dict"),
    Option("healthcheck", {"type": "dict"}, kind="dict"),
    Option("oom_score_adj", {"type": "int"}),
    Option("tmpfs", {"type": "list", "elements": "str"}, kind="set"),
    Option("ulimits", {"type": "list", "elements": "str"}, kind="set"),
    Option("sysctls", {"type": "dict"}, kind="dict"),
    Option("devices", {"type": "list", "elements": "str"}, kind="set"),
    Option("privileged", {"type": "bool"}),
    Option("volumes", {"type": "list", "elements": "str"}, kind="paths"),
    Option("network_mode", {"type": "str"}),
    Option("networks", {"type": "list", "elements": "dict", "options": NETWORK_SUBOPTIONS}, kind="paths",
           update="in_place"),
    Option("published_ports", {"type": "list", "elements": "str", "aliases": ["ports"]}, kind="paths"),
    Option("publish_all_ports", {"type": "bool"}),
    Option("mounts", {"type": "list", "elements": "dict", "options": MOUNT_SUBOPTIONS}, kind="paths"),
    Option("cgroup_parent", {"type": "str"}),
    Option("paused", {"type": "bool"}, update="in_place"),
    # resource limits (Docker's names and units), changed in place like `docker update`
    *(Option(name, {"type": kind}, update="in_place") for name, kind in (
        ("memory", "str"), ("memory_reservation", "str"), ("memory_swap", "str"), ("memory_swappiness", "int"),
        ("cpus", "str"), ("cpu_shares", "int"), ("cpu_period", "int"), ("cpu_quota", "int"),
        ("cpuset_cpus", "str"), ("cpuset_mems", "str"), ("pids_limit", "int"), ("blkio_weight", "int"))),
    *(Option(name, {"type": "list", "elements": "dict",
                    "options": {"path": {"type": "str", "required": True}, "rate": {"type": "str", "required": True}}},
             update="in_place") for name in ("device_read_bps", "device_write_bps", "device_read_iops",
                                             "device_write_iops")),
)


NETWORK_OPTIONS = ("network_mode", "networks", "published_ports", "publish_all_ports")
BY_NAME = {option.name: option for option in OPTIONS}
RESOURCES = ("memory", "memory_reservation", "memory_swap", "memory_swappiness", "cpus", "cpu_shares", "cpu_period",
             "cpu_quota", "cpuset_cpus", "cpuset_mems", "pids_limit", "blkio_weight", "device_read_bps",
             "device_write_bps", "device_read_iops", "device_write_iops")


def resources(values: dict[str, Any]) -> dict[str, Any]:
    """The resource limits among the stated options (raw, as the task gives them)."""
    return {name: values[name] for name in RESOURCES if values.get(name) is not None}


def argument_spec() -> dict[str, dict[str, Any]]:
    spec = {option.name: dict(option.spec) for option in OPTIONS}
    spec["env_file"] = {"type": "path"}
    spec["comparisons"] = {"type": "dict"}
    return spec


def desired(params: dict[str, Any]) -> dict[str, Any]:
    """The options the task gives, normalised (command split, env_file read and merged, values as strings)."""
    values = {name: params.get(name) for name in BY_NAME if params.get(name) is not None}
    if isinstance(values.get("command"), str):
        values["command"] = split_command(values["command"])
    if params.get("env_file"):
        env = read_env_file(Path(params["env_file"]))
        values["env"] = {**env, **(values.get("env") or {})}
    if "env" in values:
        values["env"] = _env(values["env"])
    if "mounts" in values:
        from ..volumes.specs import comparable

        values["mounts"] = comparable(values["mounts"])
    if "networks" in values:
        values["networks"] = [{"name": n["name"], **({"ipv4_address": n["ipv4_address"]} if n.get("ipv4_address")
                                                     else {}), **({"aliases": sorted(n["aliases"])}
                                                                  if n.get("aliases") else {})}
                              for n in values["networks"]]
    if "published_ports" in values:
        from ..network.ports import parse_published_ports

        values["published_ports"] = sorted(str(p) for p in parse_published_ports(values["published_ports"]))
    for name in ("labels", "sysctls"):
        if name in values:
            values[name] = {str(k): _text(v, name) for k, v in values[name].items()}
    from ..bundle_host import check_host_options

    check_host_options(tmpfs=values.get("tmpfs"), ulimits=values.get("ulimits"), sysctls=values.get("sysctls"),
                       devices=values.get("devices"))
    return values


def split_command(text: str) -> list[str]:
    """A shell-like command line as argv; unbalanced quotes are an InvalidInput."""
    try:
        return shlex.split(text)
    except ValueError as err:  # "No closing quotation", "No escaped character"
        raise InvalidInput(f"{brief(text)} cannot be split into arguments: {err}", field="command",
                           hint="close the quote, or give command as a list") from None


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


def read_env_file(path: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """An ``env_file`` read as Docker's CLI reads ``--env-file`` (docker/cli
    opts/file.go, not compose's dotenv): UTF-8 (a BOM is dropped), one
    ``KEY=value`` per line, leading whitespace and ``#`` comment lines
    skipped, the value kept exactly (no quotes removed, no trimming), and a
    bare ``KEY`` taken from berth's own environment (left out when unset).

    Stricter than Docker: keys are ``[A-Za-z_][A-Za-z0-9_]*`` (Docker takes
    any key without whitespace) and ``export KEY=...`` is refused with a hint,
    as Docker refuses it (its key would contain a space)."""
    environ = os.environ if environ is None else environ  # type: ignore[assignment]
    data = _env_file_bytes(path)
    env: dict[str, str] = {}
    for number, raw in enumerate(data.split(b"\n"), 1):
        line = _env_line(path, number, raw.removesuffix(b"\r")).lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        _env_key(path, number, key)
        if "\0" in value:
            raise InvalidInput(f"line {number} of {path}: the value of {key} contains a NUL byte", field="env_file",
                               hint="remove the NUL character")
        if sep:
            env[key] = value
        elif key in environ:  # Docker: a bare name passes the caller's value through
            env[key] = environ[key]
    return env


def _env_file_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(ENV_FILE_LIMIT + 1)
    except OSError as err:
        raise InvalidInput(f"cannot read {path}: {err.strerror}", field="env_file",
                           hint="give a readable file of KEY=value lines") from None
    except ValueError:  # a NUL in the path
        raise InvalidInput(f"{brief(str(path))} is not a file path", field="env_file",
                           hint="give the path of a file of KEY=value lines") from None
    if len(data) > ENV_FILE_LIMIT:
        raise InvalidInput(f"{path} is larger than {ENV_FILE_LIMIT // (1 << 20)} MiB", field="env_file",
                           hint="an env file holds KEY=value lines; is this the right file?")
    return data.removeprefix(b"\xef\xbb\xbf")


def _env_line(path: Path, number: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"line {number} of {path} is not valid UTF-8 (byte {err.start + 1})", field="env_file",
                           hint="save the file as UTF-8") from None


def _env_key(path: Path, number: int, key: str) -> None:
    if ENV_KEY.fullmatch(key):
        return
    where = f"line {number} of {path}"
    if key.startswith("export") and key[6:7] in (" ", "\t"):
        raise InvalidInput(f"{where} starts with 'export'", field="env_file",
                           hint="write KEY=value without 'export ' (an env file is not a shell script; Docker "
                                "refuses it too)")
    if not key:
        raise InvalidInput(f"{where} has no variable name", field="env_file", hint="write KEY=value")
    if any(c.isspace() for c in key):
        raise InvalidInput(f"{where}: variable {brief(key)} contains whitespace", field="env_file",
                           hint="write KEY=value with no space before '='; # starts a comment line")
    raise InvalidInput(f"{where}: {brief(key)} is not a variable name", field="env_file",
                       hint="names are letters, digits and '_', not starting with a digit")


def comparisons(overrides: dict[str, str] | None) -> dict[str, str]:
    chosen = {option.name: option.comparison for option in OPTIONS}
    for name, how in (overrides or {}).items():
        if name not in chosen:
            raise InvalidInput(f"comparisons: unknown option {name!r}", field="comparisons",
                               hint=f"options that can be compared: {', '.join(sorted(chosen))}")
        if how not in COMPARISONS:
            raise InvalidInput(f"comparisons: {how!r} for {name}", field="comparisons",
                               hint="use strict, ignore or allow_more_present")
        chosen[name] = how
    return chosen


def differences(current: dict[str, Any], wanted: dict[str, Any], how: dict[str, str]) -> list[dict[str, Any]]:
    """[{option, before, after, update}] for every given option whose value differs."""
    found = []
    for name, after in wanted.items():
        option = BY_NAME[name]
        before = current.get(name)
        if how[name] == "ignore" or _same(option, before, after, how[name]):
            continue
        found.append({"option": name, "before": before, "after": after, "update": option.update})
    return found


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)


def _same(option: Option, before: Any, after: Any, how: str) -> bool:
    if option.kind in ("set", "paths"):
        fold = str.upper if option.kind == "set" else str
        have = {fold(_key(v)) for v in before or []}
        want = {fold(_key(v)) for v in after or []}
        return want <= have if how == "allow_more_present" else have == want
    if option.kind == "dict":
        have, want = dict(before or {}), dict(after or {})
        if how == "allow_more_present":
            return all(have.get(k) == v for k, v in want.items())
        return have == want
    return before == after
