"""The host-facing parts of a container's config (Docker's HostConfig):
tmpfs mounts, ulimits, sysctls, devices and privileged mode, applied onto
a bundle's config.json. Errors name the option and the expected form."""

from __future__ import annotations

import os
import stat
from typing import Any

from .errors import InvalidInput

_ULIMITS = {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
            "rtprio", "rttime", "sigpending", "stack", "as"}


def apply_host_config(config: dict[str, Any], *, tmpfs: list[str], ulimits: list[str], sysctls: dict[str, str],
                      devices: list[str], privileged: bool) -> None:
    config["mounts"] += [_tmpfs(entry) for entry in tmpfs]
    process, linux = config["process"], config.setdefault("linux", {})
    if ulimits:
        wanted = {limit["type"]: limit for limit in (_ulimit(entry) for entry in ulimits)}
        kept = [r for r in process.get("rlimits") or [] if r["type"] not in wanted]
        process["rlimits"] = kept + list(wanted.values())
    if sysctls:
        linux["sysctl"] = {str(k): str(v) for k, v in sysctls.items()}
    for entry in devices:
        device, rule = _device(entry)
        linux.setdefault("devices", []).append(device)
        linux.setdefault("resources", {}).setdefault("devices", []).append(rule)
    if privileged:
        _privileged(config)


def _tmpfs(entry: str) -> dict[str, Any]:
    """'/run' or '/run:size=64m,mode=1777' (Docker's --tmpfs; noexec,nosuid,nodev by default)."""
    path, _sep, options = entry.partition(":")
    if not path.startswith("/"):
        raise InvalidInput(f"tmpfs {entry!r}: the path must be absolute", field="tmpfs",
                           hint="write /path or /path:size=64m,mode=1777")
    given = [o for o in options.split(",") if o]
    defaults = [o for o in ("noexec", "nosuid", "nodev") if o not in given and o.replace("no", "", 1) not in given]
    return {"destination": path, "type": "tmpfs", "source": "tmpfs", "options": defaults + given}


def _ulimit(entry: str) -> dict[str, Any]:
    """'nofile:1024:2048' or 'nofile:1024' (community.docker's form)."""
    name, _sep, values = entry.partition(":")
    soft, _sep, hard = values.partition(":")
    if name not in _ULIMITS or not soft.lstrip("-").isdigit() or (hard and not hard.lstrip("-").isdigit()):
        raise InvalidInput(f"ulimit {entry!r} is not valid", field="ulimits",
                           hint=f"write name:soft[:hard] with name one of {', '.join(sorted(_ULIMITS))}")
    return {"type": f"RLIMIT_{name.upper()}", "soft": int(soft), "hard": int(hard or soft)}


def _device(entry: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """'/dev/fuse', '/dev/fuse:/dev/fuse' or '/dev/sda:/dev/xvda:r' (Docker's --device)."""
    parts = entry.split(":")
    host = parts[0]
    inside = parts[1] if len(parts) > 1 and parts[1] else host
    access = parts[2] if len(parts) > 2 else "rwm"
    if set(access) - set("rwm") or not inside.startswith("/"):
        raise InvalidInput(f"device {entry!r} is not valid", field="devices",
                           hint="write /dev/host[:/dev/container[:rwm]]")
    try:
        info = os.stat(host)
    except OSError as err:
        raise InvalidInput(f"device {host}: {err.strerror}", field="devices",
                           hint="name a device node that exists on the host") from None
    if not (stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)):
        raise InvalidInput(f"{host} is not a device node", field="devices", hint="name a character or block device")
    kind = "c" if stat.S_ISCHR(info.st_mode) else "b"
    major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
    device = {"path": inside, "type": kind, "major": major, "minor": minor, "fileMode": stat.S_IMODE(info.st_mode),
              "uid": 0, "gid": 0}
    return device, {"allow": True, "type": kind, "major": major, "minor": minor, "access": access}


def _privileged(config: dict[str, Any]) -> None:
    """Docker's --privileged: every capability this host's root holds (as
    podman does: asking for more fails), nothing masked or read-only, /sys
    writable, every device allowed by the device cgroup."""
    from .runtime.caps import NUMBERS

    every = sorted(name for name, number in NUMBERS.items() if _bounding() >> number & 1)
    config["process"]["capabilities"] = {"bounding": every, "effective": every, "permitted": every}
    linux = config["linux"]
    linux["maskedPaths"], linux["readonlyPaths"] = [], []
    linux.setdefault("resources", {})["devices"] = [{"allow": True, "access": "rwm"}]
    for mount in config["mounts"]:
        if mount["destination"] in ("/sys", "/sys/fs/cgroup"):
            mount["options"] = [o for o in mount.get("options", []) if o != "ro"]


def _bounding() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return 0
