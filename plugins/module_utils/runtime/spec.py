"""Load and check a bundle's config.json before anything is created.

Every check names the config field at fault, so a bad bundle fails with
"process.cwd: ..." and leaves nothing behind (create has not started yet).
The config stays a plain dict: the runtime reads a handful of fields and
must not pay for a model library on every start.
"""

from __future__ import annotations

import json
import os

from ..errors import InvalidInput

NAMESPACE_TYPES = ("user", "pid", "network", "mount", "ipc", "uts", "cgroup", "time")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
RLIMIT_TYPES = ("RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
                "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
                "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK")


def load_bundle(bundle: str) -> dict:
    """The checked config of ``bundle`` with root.path made absolute."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as handle:
            config = json.load(handle)
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist", field="bundle",
                           hint="point --bundle at a directory holding config.json "
                                "(see `berth-runtime spec`)") from None
    except (OSError, ValueError) as err:
        raise InvalidInput(f"cannot read {path}: {err}", field="config.json",
                           hint="the file must be a JSON object following the OCI runtime spec") from None
    check_config(config, bundle)
    return config


def check_config(config: object, bundle: str) -> None:
    if not isinstance(config, dict):
        raise InvalidInput("config.json is not a JSON object", field="config.json")
    if not isinstance(config.get("ociVersion"), str):
        raise InvalidInput("ociVersion is missing", field="ociVersion", hint='set it, e.g. "1.0.2"')
    _check_root(config, bundle)
    check_process(config.get("process"), "process")
    _check_mounts(config.get("mounts") or [])
    _check_hooks(config.get("hooks") or {})
    linux = config.get("linux") or {}
    if not isinstance(linux, dict):
        raise InvalidInput("linux must be an object", field="linux")
    check_namespaces(linux.get("namespaces") or [])
    _check_user_ns(linux)


def _check_root(config: dict, bundle: str) -> None:
    root = config.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str) or not root["path"]:
        raise InvalidInput("root.path is missing", field="root.path",
                           hint='name the container\'s root filesystem, e.g. "root": {"path": "rootfs"}')
    path = os.path.join(os.path.abspath(bundle), root["path"])
    if not os.path.isdir(path):
        raise InvalidInput(f"root filesystem {path} is not a directory", field="root.path",
                           hint="unpack an image there (umoci unpack, berth) or fix the path")
    root["path"] = os.path.normpath(path)


def check_process(process: object, field: str) -> None:
    if not isinstance(process, dict):
        raise InvalidInput("the container process is missing", field=field,
                           hint="add a process object with args, cwd, env and user")
    args = process.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args) or not args[0]:
        raise InvalidInput("args must be a non-empty list of strings", field=f"{field}.args",
                           hint='give the command to run, e.g. ["sh", "-c", "echo hi"]')
    cwd = process.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise InvalidInput(f"cwd {cwd!r} is not an absolute path", field=f"{field}.cwd",
                           hint='use an absolute path inside the container such as "/"')
    env = process.get("env") or []
    if not isinstance(env, list) or not all(isinstance(e, str) and "=" in e for e in env):
        raise InvalidInput("env must be a list of KEY=value strings", field=f"{field}.env")
    user = process.get("user") or {}
    for key in ("uid", "gid"):
        if not isinstance(user.get(key, 0), int) or user.get(key, 0) < 0:
            raise InvalidInput(f"{key} must be a non-negative integer", field=f"{field}.user.{key}",
                               hint="the runtime takes numeric ids; resolve names against the image's /etc/passwd")
    for limit in process.get("rlimits") or []:
        if not isinstance(limit, dict) or limit.get("type") not in RLIMIT_TYPES:
            raise InvalidInput(f"unknown rlimit {limit!r}", field=f"{field}.rlimits",
                               hint="use RLIMIT_NOFILE, RLIMIT_NPROC, ... with hard and soft")


def _check_mounts(mounts: object) -> None:
    if not isinstance(mounts, list):
        raise InvalidInput("mounts must be a list", field="mounts")
    for index, mount in enumerate(mounts):
        dest = mount.get("destination") if isinstance(mount, dict) else None
        if not isinstance(dest, str) or not dest.startswith("/"):
            raise InvalidInput(f"destination {dest!r} is not an absolute path", field=f"mounts[{index}].destination",
                               hint="mount targets are absolute paths inside the container")


def _check_hooks(hooks: object) -> None:
    if not isinstance(hooks, dict):
        raise InvalidInput("hooks must be an object", field="hooks")
    for kind, entries in hooks.items():
        if kind not in HOOK_KINDS:
            raise InvalidInput(f"unknown hook kind {kind!r}", field="hooks", hint=f"use one of {', '.join(HOOK_KINDS)}")
        for index, hook in enumerate(entries or []):
            if not isinstance(hook, dict) or not str(hook.get("path", "")).startswith("/"):
                raise InvalidInput("a hook needs an absolute path", field=f"hooks.{kind}[{index}].path")


def check_namespaces(namespaces: object) -> None:
    if not isinstance(namespaces, list):
        raise InvalidInput("namespaces must be a list", field="linux.namespaces")
    seen: set[str] = set()
    for index, namespace in enumerate(namespaces):
        kind = namespace.get("type") if isinstance(namespace, dict) else None
        if kind not in NAMESPACE_TYPES:
            raise InvalidInput(f"unknown namespace type {kind!r}", field=f"linux.namespaces[{index}].type",
                               hint=f"use one of {', '.join(NAMESPACE_TYPES)}")
        if kind in seen:
            raise InvalidInput(f"namespace {kind} is listed twice", field=f"linux.namespaces[{index}]")
        seen.add(kind)
        path = namespace.get("path")
        if path and not os.path.exists(path):
            raise InvalidInput(f"namespace path {path} does not exist", field=f"linux.namespaces[{index}].path",
                               hint="join a namespace of a running process, e.g. /proc/PID/ns/net")


def _check_user_ns(linux: dict) -> None:
    new_user = any(n.get("type") == "user" and not n.get("path") for n in linux.get("namespaces") or [])
    if new_user and not (linux.get("uidMappings") and linux.get("gidMappings")):
        raise InvalidInput("a new user namespace needs uidMappings and gidMappings", field="linux.uidMappings",
                           hint="map container ids to host ids, e.g. "
                                '[{"containerID": 0, "hostID": 100000, "size": 65536}]')


def namespaces(config: dict) -> dict[str, str | None]:
    """type -> path (None: create a new one) for the namespaces the config asks for."""
    return {n["type"]: n.get("path") or None for n in (config.get("linux") or {}).get("namespaces") or []}


def process_env(process: dict) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in process.get("env") or []:
        key, _sep, value = item.partition("=")
        env[key] = value
    return env
