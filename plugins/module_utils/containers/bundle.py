"""Turn a container's desired config plus its image into an OCI bundle.

This is the line Docker → containerd → runc draws: the engine writes
``config.json`` and prepares the root (an overlay of the image's snapshot
chain plus a per-container upper dir, described as the mount on "/"), and any
OCI runtime — berth-runtime, runc, crun — executes it.

``plan_bundle`` only reads (check mode resolves users and commands with it);
``write_bundle`` creates the directories and writes config.json atomically.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..engine import Engine
from ..errors import InvalidInput
from ..fsutil import atomic_write_json
from ..image.store import ImageStore
from ..runtime import caps
from ..runtime.defaults import default_spec
from ..userdb import resolve_user
from ..volumes import specs
from .bundle_host import apply_host_config, with_init

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class BundleRequest:
    """What the container asks for; ``None`` means "the image's default".

    A plain dataclass, not a pydantic model: module input is validated by the
    modules' pydantic models before it gets here, and the CLI (``berth run``)
    should not pay pydantic's import on every container start.
    """

    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    read_only: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    terminal: bool = False
    oom_score_adj: int | None = None
    tmpfs: list[str] = field(default_factory=list)
    ulimits: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)
    privileged: bool = False
    mounts: list[dict] = field(default_factory=list)   # volumes/specs.py's normalised form, sources named
    init: bool = False
    # what networking.py writes into the container's hosts and resolv.conf (nameopts.py's forms)
    etc_hosts: dict[str, str] = field(default_factory=dict)
    dns_servers: list[str] = field(default_factory=list)
    dns_search_domains: list[str] = field(default_factory=list)
    dns_opts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def plan_bundle(engine: Engine, container_id: str, request: BundleRequest, directory: Path) -> dict:
    """The config.json for this container (nothing is written)."""
    record = ImageStore(engine).resolve(request.image)
    if record.top_chain_id is None:
        raise InvalidInput(f"image {request.image!r} has no layers", field="image",
                           hint="a container needs an image with at least one layer")
    image = json.loads(engine.blobs.read_bytes(record.id)).get("config") or {}
    lowerdirs = engine.snapshots.lowerdirs(record.top_chain_id)
    user = resolve_user(request.user if request.user is not None else image.get("User"), lowerdirs,
                        image=request.image)
    config = default_spec(_args(request, image))
    process = config["process"]
    process["terminal"] = request.terminal
    if request.oom_score_adj is not None:
        process["oomScoreAdj"] = request.oom_score_adj
    process["env"] = _env(image.get("Env") or [], request.env, user.home)
    process["cwd"] = _cwd(request.working_dir or image.get("WorkingDir") or "/")
    process["user"] = {"uid": user.uid, "gid": user.gid}
    if user.additional_gids:
        process["user"]["additionalGids"] = user.additional_gids
    process["capabilities"] = _capabilities(request.cap_add, request.cap_drop, user.uid)
    config["root"] = {"path": str(directory / "rootfs"), "readonly": request.read_only}
    config["hostname"] = request.hostname or container_id[:12]
    if request.domainname:
        config["domainname"] = request.domainname
    config["mounts"].insert(0, _root_mount(lowerdirs, directory))
    config["annotations"] = {**request.labels, "org.opencontainers.image.ref.name": request.image,
                             "berth.image.id": record.id}
    for entry in request.tmpfs:
        specs.tmpfs_target(entry)
    apply_host_config(config, tmpfs=request.tmpfs, ulimits=request.ulimits, sysctls=request.sysctls,
                      devices=request.devices, privileged=request.privileged)
    if request.init:
        with_init(config)
    _user_mounts(engine, config, request.mounts)
    return config


def write_bundle(engine: Engine, container_id: str, request: BundleRequest, directory: Path) -> dict:
    config = plan_bundle(engine, container_id, request, directory)
    for name in ("rootfs", "upper", "work"):
        (directory / name).mkdir(parents=True, exist_ok=True)
    atomic_write_json(directory / "config.json", config)
    return config


def _args(request: BundleRequest, image: dict) -> list[str]:
    """Docker's rule: an entrypoint given by the user drops the image's CMD."""
    entrypoint = request.entrypoint if request.entrypoint is not None else image.get("Entrypoint") or []
    if request.command is not None:
        command = request.command
    else:
        command = [] if request.entrypoint is not None else image.get("Cmd") or []
    args = list(entrypoint) + list(command)
    if not args:
        raise InvalidInput("no command specified: the image has no CMD or ENTRYPOINT", field="command",
                           hint="give command (or entrypoint) for this container")
    return args


def _env(image_env: list[str], wanted: dict[str, str], home: str) -> list[str]:
    merged: dict[str, str] = {}
    for item in [DEFAULT_PATH, *image_env]:
        key, _sep, value = item.partition("=")
        merged[key] = value
    merged.setdefault("HOME", home)
    merged.update(wanted)
    return [f"{key}={value}" for key, value in merged.items()]


def _cwd(path: str) -> str:
    if not path.startswith("/"):
        raise InvalidInput(f"working_dir {path!r} is not absolute", field="working_dir",
                           hint="give an absolute path such as /app")
    return posixpath.normpath(path)


def _capabilities(cap_add: list[str], cap_drop: list[str], uid: int) -> dict:
    """Docker's default set, plus cap_add, minus cap_drop ("ALL" works in both)."""
    wanted = set(caps.DOCKER_DEFAULT)
    names = {_cap_name(c) for c in cap_drop}
    wanted = set() if "CAP_ALL" in names else wanted - names
    added = {_cap_name(c) for c in cap_add}
    wanted |= set(caps.NUMBERS) if "CAP_ALL" in added else added
    unknown = sorted(c for c in wanted if c not in caps.NUMBERS)
    if unknown:
        raise InvalidInput(f"unknown capabilities {unknown}", field="cap_add",
                           hint="use names like NET_ADMIN or CAP_SYS_TIME (see capabilities(7))")
    ordered = sorted(wanted)
    sets = {"bounding": ordered, "permitted": ordered, "effective": ordered}
    if uid != 0:
        sets["effective"] = []  # like Docker: a non-root user starts without effective caps
    return sets


def _cap_name(name: str) -> str:
    upper = name.upper()
    return upper if upper.startswith("CAP_") else f"CAP_{upper}"


def _user_mounts(engine: Engine, config: dict, mounts: list[dict]) -> None:
    """Volumes, binds and tmpfs mounts in place of any default at the same path."""
    for item in mounts:  # checked at parse time too; a bundle never covers /, /proc, /sys or /dev
        specs.clean_target(item["target"], "mounts", item["target"])
    if not mounts:
        return
    volumes = engine.layout.state_root / "volumes"
    rendered = [specs.oci_mount(m, _host_path(volumes, m)) for m in mounts]
    config["mounts"] = specs.place(config["mounts"], rendered)
    propagation = specs.root_propagation(mounts)
    if propagation:
        config.setdefault("linux", {})["rootfsPropagation"] = propagation


def _host_path(volumes: Path, mount: dict) -> str:
    if mount["type"] == "volume":
        return str(volumes / (mount["source"] or "anonymous") / "_data")   # anonymous: named at create
    return mount["source"]


def _root_mount(lowerdirs: list[Path], directory: Path) -> dict:
    lower = ":".join(str(p) for p in lowerdirs)
    return {"destination": "/", "type": "overlay", "source": "overlay",
            "options": [f"lowerdir={lower}", f"upperdir={directory / 'upper'}", f"workdir={directory / 'work'}"]}
