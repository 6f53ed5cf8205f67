"""One container spec: what a container is asked to be, typed and frozen.

The ``container`` module and ``berth run``/``create`` build it through the
same option table (``options.py``: each row normalises its value into the
field of the same name), ``ContainerService.create(name, spec)`` makes the
container from it, the record keeps it (``ContainerRecord.spec``), and the
next converge compares the task's desired spec with that actual one.

``None`` (or an empty value) means "the image's default"; ``effective()``
merges the image's config in, the way the bundle does, so a comparison sees
what the container really runs with. Standard library only: the CLI's fast
lane builds specs before the engine is imported.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the fast lane's start-up)
if TYPE_CHECKING:
    from typing import Any

DEFAULT_STOP_SIGNAL = "SIGTERM"
DEFAULT_STOP_TIMEOUT = 10
DEFAULT_LOG_DRIVER = "json-file"
LOG_DRIVERS = ("json-file", "local", "none")
_EMPTY_DICT = "{}"   # a default that is a fresh dict per spec

# (field, default): the spec's fields in order. A plain frozen class rather
# than a dataclass: ``dataclasses`` imports ``inspect``, which would cost
# every ``berth run`` ~10 ms before the container even exists.
FIELDS: tuple[tuple[str, Any], ...] = (
    ("image", None), ("command", None), ("entrypoint", None), ("env", _EMPTY_DICT), ("user", None),
    ("working_dir", None), ("hostname", None), ("read_only", False), ("capabilities", ()), ("cap_drop", ()),
    ("labels", _EMPTY_DICT), ("restart_policy", "no"), ("restart_retries", None), ("stop_signal", None),
    ("stop_timeout", None), ("auto_remove", False),
    ("log_options", _EMPTY_DICT),      # max_size (bytes, 0: no rotation), max_file
    ("healthcheck", None),             # health.from_option's form; test NONE disables
    ("oom_score_adj", None), ("tmpfs", ()), ("ulimits", ()), ("sysctls", _EMPTY_DICT), ("devices", ()),
    ("privileged", False), ("volumes", ()),
    ("mounts", ()),                    # volumes.specs.comparable's form
    ("network_mode", None),
    ("networks", ()),                  # {name, ipv4_address?, aliases?}
    ("published_ports", ()),           # normalised, sorted
    ("publish_all_ports", False), ("cgroup_parent", None),
    ("resources", _EMPTY_DICT),        # Docker's names, units parsed
    ("terminal", False),
    ("init", False),                   # tini as the container's pid 1 (Docker's --init)
    ("etc_hosts", _EMPTY_DICT),        # host -> address(es, comma-separated) or host-gateway
    ("dns_servers", ()), ("dns_search_domains", ()), ("dns_opts", ()),
    ("log_driver", None),              # json-file (default), local, none
)
_NAMES = tuple(name for name, _default in FIELDS)
_TUPLES = frozenset(name for name, default in FIELDS if default == () or name in ("command", "entrypoint"))


class ContainerSpec:
    """Frozen: every field is set once by the constructor; ``with_changes``
    makes a changed copy. Sequences are tuples; mappings are plain dicts
    that nothing mutates (they serialise as they are)."""

    __slots__ = _NAMES
    image: str
    command: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    env: dict[str, str]
    user: str | None
    working_dir: str | None
    hostname: str | None
    read_only: bool
    capabilities: tuple[str, ...]
    cap_drop: tuple[str, ...]
    labels: dict[str, str]
    restart_policy: str
    restart_retries: int | None
    stop_signal: str | None
    stop_timeout: int | None
    auto_remove: bool
    log_options: dict[str, int]
    healthcheck: dict[str, Any] | None
    oom_score_adj: int | None
    tmpfs: tuple[str, ...]
    ulimits: tuple[str, ...]
    sysctls: dict[str, str]
    devices: tuple[str, ...]
    privileged: bool
    volumes: tuple[str, ...]
    mounts: tuple[dict[str, Any], ...]
    network_mode: str | None
    networks: tuple[dict[str, Any], ...]
    published_ports: tuple[str, ...]
    publish_all_ports: bool
    cgroup_parent: str | None
    resources: dict[str, Any]
    terminal: bool
    init: bool
    etc_hosts: dict[str, str]
    dns_servers: tuple[str, ...]
    dns_search_domains: tuple[str, ...]
    dns_opts: tuple[str, ...]
    log_driver: str | None

    def __init__(self, image: str, **values: Any) -> None:
        unknown = set(values) - set(_NAMES)
        if unknown:
            raise TypeError(f"ContainerSpec has no field {sorted(unknown)[0]!r}")
        values["image"] = image
        for name, default in FIELDS:
            value = values.get(name, {} if default == _EMPTY_DICT else default)
            object.__setattr__(self, name, _frozen(name, value))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ContainerSpec is frozen: use with_changes({name}=...)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContainerSpec) and all(getattr(self, n) == getattr(other, n) for n in _NAMES)

    def __hash__(self) -> int:
        return hash(self.image)

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n, d in FIELDS
                          if getattr(self, n) != ({} if d == _EMPTY_DICT else d))
        return f"ContainerSpec({shown})"

    # -- serialisation (records, the monitor protocol) ---------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in _NAMES}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContainerSpec:
        values = {k: v for k, v in data.items() if k in _NAMES and k != "image"}
        return cls(data.get("image") or "", **values)

    def with_changes(self, **changes: Any) -> ContainerSpec:
        values = {name: getattr(self, name) for name in _NAMES if name != "image"}
        values.update(changes)
        return ContainerSpec(values.pop("image", self.image), **values)

    # -- what the container runs with ------------------------------------------------
    def value(self, name: str) -> Any:
        """The spec's value for one option of the table (resources included)."""
        if name in RESOURCE_NAMES:
            return self.resources.get(name)
        return getattr(self, name)

    def effective(self, name: str, image_config: dict[str, Any]) -> Any:
        """The value the container runs with for this option: the spec's,
        else the image's default, merged as the bundle merges them."""
        value = self.value(name)
        merge = IMAGE_DEFAULTS.get(name)
        return merge(self, value, image_config or {}) if merge else value

    @property
    def restart(self) -> str:
        """Docker's --restart form: no, on-failure[:N], always, unless-stopped."""
        if self.restart_policy == "on-failure" and self.restart_retries:
            return f"on-failure:{self.restart_retries}"
        return self.restart_policy


RESOURCE_NAMES = ("memory", "memory_reservation", "memory_swap", "memory_swappiness", "cpus", "cpu_shares",
                  "cpu_period", "cpu_quota", "cpuset_cpus", "cpuset_mems", "pids_limit", "blkio_weight",
                  "device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops")


def _frozen(name: str, value: Any) -> Any:
    if name in _TUPLES and value is not None:
        return tuple(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _image_env(image_config: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in image_config.get("Env") or []:
        if isinstance(item, str):
            key, _sep, value = item.partition("=")
            env[key] = value
    return env


def _merged(image_key: str) -> Any:
    def merge(_spec: ContainerSpec, value: Any, image_config: dict[str, Any]) -> Any:
        base = _image_env(image_config) if image_key == "Env" else dict(image_config.get(image_key) or {})
        return {**base, **(value or {})}
    return merge


def _or_image(image_key: str, default: Any = None) -> Any:
    def merge(_spec: ContainerSpec, value: Any, image_config: dict[str, Any]) -> Any:
        if value is not None:
            return value
        found = image_config.get(image_key)
        return found if found not in (None, "") else default
    return merge


def _command(spec: ContainerSpec, value: Any, image_config: dict[str, Any]) -> Any:
    if value is not None:
        return list(value)
    if spec.entrypoint is not None:   # Docker: a stated entrypoint resets the image's CMD
        return []
    return list(image_config.get("Cmd") or [])


def _entrypoint(_spec: ContainerSpec, value: Any, image_config: dict[str, Any]) -> Any:
    return list(value) if value is not None else list(image_config.get("Entrypoint") or [])


def _healthcheck(_spec: ContainerSpec, value: Any, image_config: dict[str, Any]) -> Any:
    if value is not None:
        return value
    from .health import from_image

    return from_image(image_config)


def _network_mode(spec: ContainerSpec, value: Any, _image_config: dict[str, Any]) -> Any:
    return value or (spec.networks[0]["name"] if spec.networks else "bridge")


def _networks(spec: ContainerSpec, value: Any, image_config: dict[str, Any]) -> Any:
    """No networks stated means the default one, unless the mode has none (host, none, container:)."""
    if value:
        return [dict(n) for n in value]
    mode = _network_mode(spec, spec.network_mode, image_config)
    return [{"name": mode}] if mode not in ("host", "none") and not mode.startswith("container:") else []


def log_defaults(driver: str | None) -> dict[str, int]:
    """The rotation a log driver has unless log_options say otherwise: json-file
    keeps one unrotated file (Docker's default), local 5 files of 20 MiB (Docker's)."""
    if driver == "local":
        return {"max_size": 20 << 20, "max_file": 5}
    return {"max_size": 0, "max_file": 1}


def _default(default: Any) -> Any:
    def merge(_spec: ContainerSpec, value: Any, _image_config: dict[str, Any]) -> Any:
        return default if value is None else value
    return merge


IMAGE_DEFAULTS: dict[str, Any] = {
    "command": _command,
    "entrypoint": _entrypoint,
    "env": _merged("Env"),
    "labels": _merged("Labels"),
    "user": _or_image("User", ""),
    "working_dir": _or_image("WorkingDir", "/"),
    "stop_signal": _or_image("StopSignal", DEFAULT_STOP_SIGNAL),
    "stop_timeout": _default(DEFAULT_STOP_TIMEOUT),
    "healthcheck": _healthcheck,
    "network_mode": _network_mode,
    "networks": _networks,
    "oom_score_adj": _default(0),
    "log_driver": _default(DEFAULT_LOG_DRIVER),
    "log_options": lambda spec, value, _image: {**log_defaults(spec.log_driver), **(value or {})},
}
