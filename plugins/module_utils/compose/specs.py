"""A service (the normalised dict, `docker compose config --format json`'s
shape) as the container option table's options, then a ``ContainerSpec``
through ``containers.options.build_spec`` — the one way a spec is made, so
`berth compose`, the ``compose`` module and the ``container`` module mean the
same thing by each option.

The config hash (label ``com.docker.compose.config-hash``) is sha256 over the
service's normalised config as canonical JSON, less what Compose leaves out
(build, pull_policy, scale and replicas, depends_on, profiles), plus — going
beyond Compose (compose#11900) — the content digests of the files the
service binds from inside the project directory and of its config and
secret files: editing a bind-mounted nginx.conf recreates its user.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..containers.options import build_spec
from ..containers.spec import LOG_DRIVERS, ContainerSpec
from ..errors import InvalidInput
from . import names, project_files

# keys a service may have that are no container option: berth reads them elsewhere (the plan) or they are
# metadata only; any other key the mapping does not read is reported as ignored
NOT_OPTIONS = frozenset({"build", "image", "depends_on", "profiles", "deploy", "scale", "expose", "container_name",
                         "pull_policy", "env_file", "extends", "networks", "network_mode", "volumes", "secrets",
                         "configs", "environment", "ports", "labels", "logging", "healthcheck", "restart",
                         "stop_grace_period", "ulimits", "mem_limit", "memswap_limit", "mem_reservation", "cpus",
                         "cpu_shares", "cpuset", "pids_limit", "cap_add", "command", "entrypoint", "x-berth",
                         "platform", "name"})
PLAIN = {"user": "user", "working_dir": "working_dir", "hostname": "hostname", "read_only": "read_only",
         "cap_drop": "cap_drop", "stop_signal": "stop_signal", "tmpfs": "tmpfs", "sysctls": "sysctls",
         "privileged": "privileged", "oom_score_adj": "oom_score_adj", "cgroup_parent": "cgroup_parent",
         "init": "init", "dns": "dns_servers", "dns_search": "dns_search_domains", "dns_opt": "dns_opts"}
# the option a Compose key became, for errors: they name the key of the file
OPTION_KEYS = {option: key for key, option in PLAIN.items()} | {
    "etc_hosts": "extra_hosts", "log_driver": "logging.driver", "log_options": "logging.options"}
HASH_LEFT_OUT = ("build", "pull_policy", "scale", "depends_on", "profiles")
MAX_HASHED_BYTES = 64 << 20   # beyond this a bound directory's files are keyed by size and mtime
MAX_HASHED_FILES = 5000


@dataclass(frozen=True)
class Context:
    """What mapping one service needs to know of the project."""

    project: Any
    networks: dict[str, str]                 # project network key -> its engine name
    volumes: dict[str, str]                  # project volume key -> its engine name
    container_of: Any = None                 # service name -> its first container's name (network_mode service:)
    warnings: list[str] = field(default_factory=list)
    files_root: Path | None = None           # where berth writes environment/content configs and secrets


def service_spec(ctx: Context, service: str, config: dict[str, Any], labels: dict[str, str]
                 ) -> tuple[ContainerSpec, tuple[str, ...]]:
    """The spec of one replica (its labels given) and the options it states."""
    options = service_options(ctx, service, config)
    options["labels"] = {**options.get("labels", {}), **labels}
    image = names.image_name(ctx.project.name, service, config)
    try:
        return build_spec(image, options), tuple(sorted(options))
    except InvalidInput as err:
        option, dot, rest = (err.field or "").partition(".")
        where = OPTION_KEYS.get(option, option) + dot + rest
        raise InvalidInput(f"services.{service}: {err.message}", field=f"services.{service}.{where}".rstrip("."),
                           hint=err.hint) from None


def service_options(ctx: Context, service: str, config: dict[str, Any]) -> dict[str, Any]:
    """The option table's options for the service, as stated (the table normalises them)."""
    options: dict[str, Any] = {key: config[key] for key, name in PLAIN.items() if config.get(key) is not None}
    options = {PLAIN[k]: v for k, v in options.items()}
    for key in ("command", "entrypoint"):
        if config.get(key) is not None:
            options[key] = list(config[key])
    if config.get("cap_add"):
        options["capabilities"] = list(config["cap_add"])
    env = {str(k): str(v) for k, v in (config.get("environment") or {}).items() if v is not None}
    if env:
        options["env"] = env
    if config.get("labels"):
        options["labels"] = {str(k): str(v) for k, v in config["labels"].items()}
    if config.get("tmpfs"):
        options["tmpfs"] = [config["tmpfs"]] if isinstance(config["tmpfs"], str) else list(config["tmpfs"])
    options.update(_restart(config))
    if config.get("stop_grace_period") is not None:
        options["stop_timeout"] = _seconds(config["stop_grace_period"], f"services.{service}.stop_grace_period")
    if config.get("healthcheck"):
        options["healthcheck"] = _healthcheck(config["healthcheck"])
    if config.get("ulimits"):
        options["ulimits"] = _ulimits(config["ulimits"])
    if config.get("devices"):
        options["devices"] = [_device(d) for d in config["devices"]]
    if config.get("extra_hosts"):
        from ..containers.nameopts import host_entries

        options["etc_hosts"] = host_entries(list(config["extra_hosts"]), f"services.{service}.extra_hosts")
    options.update(_resources(config))
    options.update(_logging(ctx, service, config.get("logging")))
    options.update(_network(ctx, service, config))
    options.update(_mounts(ctx, service, config))
    _warn_ignored(ctx, service, config)
    return options


def _restart(config: dict[str, Any]) -> dict[str, Any]:
    restart = config.get("restart")
    if restart is None:
        policy = ((config.get("deploy") or {}).get("restart_policy") or {})
        if not policy:
            return {}
        restart = {"none": "no", "any": "always"}.get(policy.get("condition"), policy.get("condition") or "always")
        if restart == "on-failure" and policy.get("max_attempts"):
            restart = f"on-failure:{policy['max_attempts']}"
    name, _sep, retries = str(restart).partition(":")
    found: dict[str, Any] = {"restart_policy": name}
    if retries:
        found["restart_retries"] = int(retries) if retries.isdigit() else retries
    return found


def _seconds(value: Any, field_name: str) -> int:
    from ..containers.health import parse_duration

    return math.ceil(parse_duration(value, field_name))


def _healthcheck(check: dict[str, Any]) -> dict[str, Any]:
    if check.get("disable"):
        return {"test": ["NONE"]}
    return {key: check[key] for key in ("test", "interval", "timeout", "start_period", "retries")
            if check.get(key) is not None}


def _ulimits(ulimits: dict[str, Any]) -> list[str]:
    found = []
    for name, value in sorted(ulimits.items()):
        if isinstance(value, dict):
            single = value.get("single")
            soft, hard = (single, single) if single else (value.get("soft"), value.get("hard"))
        else:
            soft = hard = value
        found.append(f"{name}:{soft}:{hard}")
    return found


def _device(device: Any) -> str:
    if isinstance(device, dict):
        parts = [device.get("source"), device.get("target") or device.get("source")]
        return ":".join(str(p) for p in [*parts, device.get("permissions")] if p)
    return str(device)


def _resources(config: dict[str, Any]) -> dict[str, Any]:
    deploy = (config.get("deploy") or {}).get("resources") or {}
    limits, reservations = deploy.get("limits") or {}, deploy.get("reservations") or {}
    found: dict[str, Any] = {}
    for option, direct, from_deploy in (("memory", config.get("mem_limit"), limits.get("memory")),
                                        ("memory_swap", config.get("memswap_limit"), None),
                                        ("memory_reservation", config.get("mem_reservation"),
                                         reservations.get("memory")),
                                        ("cpus", config.get("cpus"), limits.get("cpus")),
                                        ("cpuset_cpus", config.get("cpuset"), None)):
        value = direct if direct not in (None, "", 0) else from_deploy
        if value not in (None, "", 0):
            found[option] = str(value)
    pids = config.get("pids_limit") or limits.get("pids")
    if pids:
        found["pids_limit"] = int(pids)
    if config.get("cpu_shares"):
        found["cpu_shares"] = int(config["cpu_shares"])
    return found


def _logging(ctx: Context, service: str, logging: dict[str, Any] | None) -> dict[str, Any]:
    if not logging:
        return {}
    driver = logging.get("driver") or "json-file"
    if driver not in LOG_DRIVERS:
        raise InvalidInput(f"services.{service}.logging.driver {driver} is not available",
                           field=f"services.{service}.logging.driver",
                           hint=f"berth's log drivers: {', '.join(LOG_DRIVERS)}")
    options = logging.get("options") or {}
    unknown = sorted(set(options) - {"max-size", "max-file"})
    if unknown:
        ctx.warnings.append(f"services.{service}.logging.options {', '.join(unknown)} are ignored "
                            f"(berth's {driver} logs take max-size and max-file)")
    kept = {k: options[k] for k in ("max-size", "max-file") if options.get(k) is not None}
    return {**({"log_driver": driver} if logging.get("driver") else {}), **({"log_options": kept} if kept else {})}


def _network(ctx: Context, service: str, config: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    mode = config.get("network_mode")
    if mode:
        if mode.startswith("service:"):
            other = mode.partition(":")[2]
            found["network_mode"] = f"container:{ctx.container_of(other)}"
        else:
            found["network_mode"] = mode
    else:
        found["networks"] = [_network_entry(ctx, service, key, value) for key, value in service_networks(config)]
    ports = [_port(p) for p in config.get("ports") or []]
    if ports:
        found["published_ports"] = ports
    return found


def service_networks(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The service's networks (keys of the project's), highest priority first
    (the first gets the default route); none given means the default one."""
    if config.get("network_mode"):
        return []
    given = config.get("networks")
    if given is None:
        return [(names.DEFAULT_NETWORK, {})]
    items = [(str(k), dict(v or {})) for k, v in given.items()] if isinstance(given, dict) \
        else [(str(k), {}) for k in given]
    return sorted(items, key=lambda item: (-int(item[1].get("priority") or 0), item[0]))


def _network_entry(ctx: Context, service: str, key: str, value: dict[str, Any]) -> dict[str, Any]:
    if key not in ctx.networks:
        raise InvalidInput(f"services.{service} uses network {key}, which the project does not define",
                           field=f"services.{service}.networks.{key}", hint="declare it under top-level networks")
    entry: dict[str, Any] = {"name": ctx.networks[key], "aliases": sorted({service, *(value.get("aliases") or [])})}
    if value.get("ipv4_address"):
        entry["ipv4_address"] = value["ipv4_address"]
    return entry


def _port(port: Any) -> str:
    if not isinstance(port, dict):
        return str(port)
    target, proto = port.get("target"), port.get("protocol") or "tcp"
    published, host_ip = str(port.get("published") or ""), port.get("host_ip") or ""
    if published:
        return f"{host_ip + ':' if host_ip else ''}{published}:{target}/{proto}"
    return f"{host_ip}::{target}/{proto}" if host_ip else f"{target}/{proto}"


def _mounts(ctx: Context, service: str, config: dict[str, Any]) -> dict[str, Any]:
    volumes: list[str] = []
    mounts: list[dict[str, Any]] = []
    for index, volume in enumerate(config.get("volumes") or []):
        where = f"services.{service}.volumes[{index}]"
        kind = volume.get("type") or "volume"
        target, read_only = volume.get("target"), bool(volume.get("read_only"))
        if kind == "bind":
            source = str(bind_source(ctx.project, volume))
            bind = volume.get("bind") or {}
            if bind.get("create_host_path", True) and not bind.get("propagation"):
                volumes.append(f"{source}:{target}{':ro' if read_only else ''}")
            else:
                mounts.append({"type": "bind", "source": source, "target": target, "read_only": read_only,
                               **({"propagation": bind["propagation"]} if bind.get("propagation") else {})})
        elif kind == "volume":
            entry: dict[str, Any] = {"type": "volume", "target": target, "read_only": read_only}
            if volume.get("source"):
                if volume["source"] not in ctx.volumes:
                    raise InvalidInput(f"{where}: volume {volume['source']} is not declared", field=where,
                                       hint="declare it under top-level volumes")
                entry["source"] = ctx.volumes[volume["source"]]
            if (volume.get("volume") or {}).get("nocopy"):
                entry["no_copy"] = True
            mounts.append(entry)
        elif kind == "tmpfs":
            tmpfs = volume.get("tmpfs") or {}
            mounts.append({"type": "tmpfs", "target": target,
                           **({"tmpfs_size": str(tmpfs["size"])} if tmpfs.get("size") else {}),
                           **({"tmpfs_mode": oct(int(tmpfs["mode"]))[2:]} if tmpfs.get("mode") else {})})
        else:
            raise InvalidInput(f"{where}: volume type {kind} is not available", field=f"{where}.type",
                               hint="use bind, volume or tmpfs")
    for kind in ("secrets", "configs"):
        for index, item in enumerate(config.get(kind) or []):
            source, target, written = project_files.reference(ctx.project, kind, item, ctx.files_root)
            if written is None and project_files.ignored_permissions(kind, item):
                ctx.warnings.append(f"services.{service}.{kind}[{index}]: "
                                    f"{', '.join(project_files.ignored_permissions(kind, item))} "
                                    f"of a file-based {kind[:-1]} are ignored (the file keeps its own)")
            if written is not None:
                # the short syntax: the plan writes the file before the create, so a check (or the plan of an
                # apply) must not refuse it for not existing yet, as the mounts syntax would
                volumes.append(f"{source}:{target}:ro")
            else:
                mounts.append({"type": "bind", "source": str(source), "target": target, "read_only": True})
    found: dict[str, Any] = {}
    if volumes:
        found["volumes"] = volumes
    if mounts:
        found["mounts"] = mounts
    return found


def bind_source(project: Any, volume: dict[str, Any]) -> Path:
    source = Path(os.path.expanduser(str(volume.get("source") or "")))
    return source if source.is_absolute() else Path(project.working_dir) / source


def file_reference(project: Any, kind: str, item: Any, root: Path | None = None) -> tuple[Path, str]:
    """A secret's or config's file on the host and where it is mounted
    (secrets under /run/secrets, configs at /<name>, or their target);
    environment and content ones are files berth writes under ``root`` (compose/project_files)."""
    source, target, _written = project_files.reference(project, kind, item, root)
    return source, target


def _warn_ignored(ctx: Context, service: str, config: dict[str, Any]) -> None:
    for key in sorted(config):
        if key not in NOT_OPTIONS and key not in PLAIN and key not in ("devices", "extra_hosts") \
                and not key.startswith("x-"):
            ctx.warnings.append(f"services.{service}.{key} is not supported by berth and is ignored")


# -- the config hash ----------------------------------------------------------------------------------
def config_hash(project: Any, service: str, config: dict[str, Any]) -> str:
    hashed = copy.deepcopy(config)
    for key in HASH_LEFT_OUT:
        hashed.pop(key, None)
    if isinstance(hashed.get("deploy"), dict):
        hashed["deploy"].pop("replicas", None)
        if not hashed["deploy"]:
            hashed.pop("deploy")
    document = {"service": hashed, "files": file_digests(project, config)}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def file_digests(project: Any, config: dict[str, Any]) -> dict[str, str]:
    """Content digests of what the service binds from the project directory
    and of its config and secret files (path -> digest; ``<kind>.<key>`` ->
    digest for an environment or content one, whose content is known now)."""
    root = Path(project.working_dir).resolve()
    paths: list[Path] = []
    for volume in config.get("volumes") or []:
        if volume.get("type") == "bind":
            source = bind_source(project, volume).resolve()
            if source == root or root in source.parents:
                paths.append(source)
    given: dict[str, str] = {}
    for kind in ("secrets", "configs"):
        for item in config.get(kind) or []:
            key = item if isinstance(item, str) else item["source"]
            try:
                source = project_files.declared_source(project, kind, str(key))
            except InvalidInput:
                continue   # reported by the mapping
            if isinstance(source, Path):
                paths.append(source)
            else:
                given[f"{kind}.{key}"] = "sha256:" + hashlib.sha256(source).hexdigest()
    return {**{str(path): _digest(path) for path in paths}, **given}


def _digest(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return "dangling:" + os.readlink(path)
    if path.is_file():
        return _file_digest(path)
    if not path.is_dir():
        return "absent"
    outer = hashlib.sha256()
    budget = [MAX_HASHED_BYTES, MAX_HASHED_FILES]
    for directory, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            entry = Path(directory) / name
            outer.update(f"{entry.relative_to(path)}\0{_entry_digest(entry, budget)}\n".encode())
    return "sha256:" + outer.hexdigest()


def _entry_digest(entry: Path, budget: list[int]) -> str:
    try:
        info = entry.lstat()
        if entry.is_symlink():
            return "link:" + os.readlink(entry)
        budget[1] -= 1
        if budget[0] < info.st_size or budget[1] < 0:
            return f"stat:{info.st_size}:{info.st_mtime_ns}"
        budget[0] -= info.st_size
        return _file_digest(entry)
    except OSError as err:
        return f"error:{err.errno}"


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        return f"error:{err.errno}"
    return "sha256:" + digest.hexdigest()
