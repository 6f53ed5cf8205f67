"""Short → long syntax, per file (before merging) and once more for the project.

``canonical_file`` runs on each validated file: lists become maps where Compose
merges by key (environment, labels, networks, depends_on, ...), short ports and
volumes become long entries, relative paths become absolute against the file's
base directory. ``finalize`` runs on the merged project: defaults (build
context and dockerfile, the default network), ``KEY``-only environment values
from the shell, replicas, sizes and durations as ``docker compose config``
prints them.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput
from ..units import parse_bytes
from .durations import normalize_duration
from .syntax import parse_expose, parse_port, parse_volume, resolve_path, to_bool

Ctx = tuple[str, str]  # (source file name, base directory)


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_map(value: Any, *, null: str | None = None, sep: str = "=") -> dict[str, str | None]:
    """A list (``K=V``, ``K``) or mapping as a str → str|None map."""
    if isinstance(value, dict):
        return {str(k): (_scalar_text(v) if v is not None else null) for k, v in value.items()}
    out: dict[str, str | None] = {}
    for item in value or []:
        key, found, val = str(item).partition(sep)
        out[key.strip() if sep != "=" else key] = val if found else null
    return out


def shell_words(value: Any, field: str, source: str) -> list[str] | None:
    if value is None or isinstance(value, list):
        return None if value is None else [str(v) for v in value]
    try:
        return shlex.split(value)
    except ValueError as err:
        raise InvalidInput(f"{source}: {value!r} is not valid shell words ({err})", field=field,
                           hint="close the quote, or write the command as a list") from None


def _ports(value: list[Any], field: str, ctx: Ctx) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        out.extend(parse_port(item, f"{field}[{i}]", ctx[0]))
    return out


def _env_file(value: Any, field: str, ctx: Ctx) -> list[dict[str, Any]]:
    items = [value] if isinstance(value, str) else value
    out = []
    for i, item in enumerate(items):
        entry = {"path": item, "required": True} if isinstance(item, str) else dict(item)
        entry["path"] = resolve_path(entry["path"], ctx[1])
        entry["required"] = to_bool(entry.get("required", True), f"{field}[{i}].required", ctx[0])
        out.append(entry)
    return out


def _depends_on(value: Any, field: str, ctx: Ctx) -> dict[str, dict[str, Any]]:
    if isinstance(value, list):
        return {str(name): {"condition": "service_started", "required": True} for name in value}
    out = {}
    for name, spec in value.items():
        cond = spec.get("condition", "service_started")
        if cond not in ("service_started", "service_healthy", "service_completed_successfully"):
            raise InvalidInput(f"{ctx[0]}: {cond!r} is not a depends_on condition",
                               field=f"{field}.{name}.condition",
                               hint="use service_started, service_healthy or service_completed_successfully")
        entry: dict[str, Any] = {"condition": cond,
                                 "required": to_bool(spec.get("required", True), f"{field}.{name}.required", ctx[0])}
        if "restart" in spec:
            entry["restart"] = to_bool(spec["restart"], f"{field}.{name}.restart", ctx[0])
        out[name] = entry
    return out


def _networks(value: Any, field: str, ctx: Ctx) -> dict[str, Any]:
    if isinstance(value, list):
        return {str(name): None for name in value}
    return {name: (dict(spec) if isinstance(spec, dict) else None) for name, spec in value.items()}


def _healthcheck(value: dict[str, Any], field: str, ctx: Ctx) -> dict[str, Any]:
    out = dict(value)
    test = out.get("test")
    if isinstance(test, str):
        out["test"] = ["CMD-SHELL", test]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in out:
            out[key] = normalize_duration(out[key], f"{field}.{key}", ctx[0])
    if "retries" in out:
        out["retries"] = _int(out["retries"], f"{field}.retries", ctx[0])
    if "disable" in out:
        out["disable"] = to_bool(out["disable"], f"{field}.disable", ctx[0])
    return out


def _ulimits(value: dict[str, Any], field: str, ctx: Ctx) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, limit in value.items():
        if isinstance(limit, dict):
            out[name] = {k: _int(limit[k], f"{field}.{name}.{k}", ctx[0]) for k in ("soft", "hard")}
        else:
            out[name] = _int(limit, f"{field}.{name}", ctx[0])
    return out


def _int(value: Any, field: str, source: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{source}: {value!r} is not an integer", field=field, hint="write a whole number")
    try:
        number = float(value) if isinstance(value, str) and "." in value else int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{source}: {value!r} is not an integer", field=field,
                           hint="write a whole number") from None
    if isinstance(number, float) and not number.is_integer():
        raise InvalidInput(f"{source}: {value!r} is not an integer", field=field, hint="write a whole number")
    return int(number)


def _size(value: Any, field: str, source: str) -> str:
    try:
        return str(parse_bytes(value, field))
    except InvalidInput as err:
        raise InvalidInput(f"{source}: {err.message}", field=field, hint=err.hint) from None


def _cpus(value: Any, field: str, source: str) -> float:
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{source}: {value!r} is not a number of CPUs", field=field, hint="e.g. 0.5") from None
    if math.isnan(cpus) or cpus < 0:
        raise InvalidInput(f"{source}: {value!r} is not a number of CPUs", field=field, hint="e.g. 0.5")
    return cpus


def _build(value: Any, field: str, ctx: Ctx) -> dict[str, Any]:
    out = {"context": value} if isinstance(value, str) else dict(value)
    if "context" in out and "://" not in out["context"]:
        out["context"] = resolve_path(out["context"], ctx[1])
    for key in ("args", "labels", "additional_contexts"):
        if key in out:
            out[key] = to_map(out[key], null=None if key == "args" else "")
    return out


def _logging(value: dict[str, Any], field: str, ctx: Ctx) -> dict[str, Any]:
    out = dict(value)
    if "options" in out:
        out["options"] = {k: _scalar_text(v) for k, v in (out["options"] or {}).items()}
    return out


def _deploy(value: dict[str, Any], field: str, ctx: Ctx) -> dict[str, Any]:
    out = dict(value)
    if "replicas" in out:
        out["replicas"] = _int(out["replicas"], f"{field}.replicas", ctx[0])
    if "labels" in out:
        out["labels"] = to_map(out["labels"], null="")
    res = out.get("resources")
    for part in ("limits", "reservations"):
        spec = (res or {}).get(part)
        if not spec:
            continue
        spec = dict(spec)
        if "memory" in spec:
            spec["memory"] = _size(spec["memory"], f"{field}.resources.{part}.memory", ctx[0])
        if "cpus" in spec:
            spec["cpus"] = _cpus(spec["cpus"], f"{field}.resources.{part}.cpus", ctx[0])
        if "pids" in spec:
            spec["pids"] = _int(spec["pids"], f"{field}.resources.{part}.pids", ctx[0])
        res = {**res, part: spec}
        out["resources"] = res
    return out


def _refs(value: list[Any], field: str, ctx: Ctx) -> list[dict[str, Any]]:
    return [{"source": item} if isinstance(item, str) else dict(item) for item in value]


def _list(value: Any, field: str, ctx: Ctx) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _bool(value: Any, field: str, ctx: Ctx) -> bool:
    return to_bool(value, field, ctx[0])


_SERVICE_KEYS: dict[str, Callable[[Any, str, Ctx], Any]] = {
    "build": _build,
    "command": lambda v, f, c: shell_words(v, f, c[0]),
    "entrypoint": lambda v, f, c: shell_words(v, f, c[0]),
    "environment": lambda v, f, c: to_map(v),
    "labels": lambda v, f, c: to_map(v, null=""),
    "annotations": lambda v, f, c: to_map(v, null=""),
    "sysctls": lambda v, f, c: to_map(v, null=""),
    "extra_hosts": lambda v, f, c: _extra_hosts(v),
    "env_file": _env_file,
    "ports": _ports,
    "expose": lambda v, f, c: [parse_expose(x, f"{f}[{i}]", c[0]) for i, x in enumerate(v)],
    "volumes": lambda v, f, c: [parse_volume(x, f"{f}[{i}]", c[0], c[1]) for i, x in enumerate(v)],
    "tmpfs": _list, "dns": _list, "dns_search": _list,
    "networks": _networks,
    "depends_on": _depends_on,
    "healthcheck": _healthcheck,
    "ulimits": _ulimits,
    "logging": _logging,
    "deploy": _deploy,
    "secrets": _refs, "configs": _refs,
    "stop_grace_period": lambda v, f, c: normalize_duration(v, f, c[0]),
    "scale": lambda v, f, c: _int(v, f, c[0]),
    "pids_limit": lambda v, f, c: _int(v, f, c[0]),
    "mem_limit": lambda v, f, c: _size(v, f, c[0]),
    "mem_reservation": lambda v, f, c: _size(v, f, c[0]),
    "memswap_limit": lambda v, f, c: str(-1) if str(v) == "-1" else _size(v, f, c[0]),
    "shm_size": lambda v, f, c: _size(v, f, c[0]),
    "cpus": lambda v, f, c: _cpus(v, f, c[0]),
    "user": lambda v, f, c: str(v),
    **{key: (lambda v, f, c: _int(v, f, c[0])) for key in (
        "cpu_shares", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_count", "cpu_percent",
        "oom_score_adj", "mem_swappiness")},
    "read_only": _bool, "init": _bool, "privileged": _bool, "tty": _bool, "stdin_open": _bool,
    "oom_kill_disable": _bool,
}


def _extra_hosts(value: Any) -> list[str]:
    if isinstance(value, dict):
        out = []
        for host, ips in value.items():
            out.extend(f"{host}={ip}" for ip in ([ips] if isinstance(ips, str) else ips))
        return out
    return [str(v).replace(":", "=", 1) if "=" not in str(v) else str(v) for v in value]


def canonical_service(service: dict[str, Any], path: str, ctx: Ctx) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in service.items():
        if key in _SERVICE_KEYS and value is not None:
            out[key] = _SERVICE_KEYS[key](value, f"{path}.{key}", ctx)
        else:
            out[key] = value
    if "extends" in out and isinstance(out["extends"], str):
        out["extends"] = {"service": out["extends"]}
    return out


def _resource(value: Any, path: str, ctx: Ctx, *, with_file: bool) -> dict[str, Any]:
    out = dict(value or {})
    if "labels" in out:
        out["labels"] = to_map(out["labels"], null="")
    if "external" in out and not isinstance(out["external"], dict):
        out["external"] = to_bool(out["external"], f"{path}.external", ctx[0])
    elif isinstance(out.get("external"), dict):  # the old external: {name: x}
        out["name"] = out["external"].get("name", out.get("name"))
        out["external"] = True
    for key in ("internal", "attachable", "enable_ipv6", "enable_ipv4"):
        if key in out:
            out[key] = to_bool(out[key], f"{path}.{key}", ctx[0])
    if "driver_opts" in out:
        out["driver_opts"] = {k: _scalar_text(v) for k, v in out["driver_opts"].items()}
    if with_file and "file" in out:
        out["file"] = resolve_path(out["file"], ctx[1])
    return out


def canonical_file(data: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    """One validated file in long syntax, paths absolute against ``ctx``'s base directory."""
    out = dict(data)
    out["services"] = {name: canonical_service(svc or {}, f"services.{name}", ctx)
                       for name, svc in (data.get("services") or {}).items()}
    for kind in ("networks", "volumes", "configs", "secrets"):
        if kind in data:
            out[kind] = {name: _resource(spec, f"{kind}.{name}", ctx, with_file=kind in ("configs", "secrets"))
                         for name, spec in (data[kind] or {}).items()}
    return out
