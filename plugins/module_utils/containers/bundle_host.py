"""The host-facing parts of a container's config (Docker's HostConfig):
tmpfs mounts, ulimits, sysctls, devices and privileged mode, applied onto
a bundle's config.json. Errors name the option and the expected form."""

from __future__ import annotations

import os
import posixpath
import re
import stat
from typing import Any

from ..errors import InvalidInput
from ..strict import INT64_MAX, UINT32_MAX, brief, is_ascii_digits, parse_uint

_ULIMITS = {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
            "rtprio", "rttime", "sigpending", "stack", "as"}
# Docker's --tmpfs options (moby's ParseTmpfsOptions): the mount flags, and these data keys.
TMPFS_FLAGS = frozenset({
    "ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "sync", "async", "dirsync", "mand", "nomand",
    "atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime",
    "private", "rprivate", "shared", "rshared", "slave", "rslave", "tmpcopyup", "notmpcopyup"})
TMPFS_DATA = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol")
TMPFS_HINT = "write /path or /path:size=64m,mode=1777 (options: " + ", ".join(TMPFS_DATA) + " and mount flags)"
_MEMPARSE_UNITS = "kmgtpe"  # the kernel's memparse() suffixes (size=64m; "64mb" is refused by the kernel)
_MPOL = re.compile(r"(default|prefer|bind|interleave|local)(=static|=relative)?(?::([0-9,-]+))?", re.ASCII)
_SYSCTL_KEY = re.compile(r"[A-Za-z0-9_-]+(?:[./][A-Za-z0-9_-]+)+", re.ASCII)
SYSCTL_VALUE_LIMIT = 4096  # the kernel reads at most a page from a sysctl write
DEVICE_HINT = "write /dev/host[:/dev/container][:rwm]"
# init: true runs the host's static tini as the container's pid 1, where Docker puts its docker-init
INIT_BINARIES = ("/usr/bin/tini-static", "/usr/local/bin/tini-static")
INIT_TARGET = "/sbin/docker-init"


def apply_host_config(config: dict[str, Any], *, tmpfs: list[str], ulimits: list[str], sysctls: dict[str, str],
                      devices: list[str], privileged: bool) -> None:
    config["mounts"] += [_tmpfs(entry) for entry in tmpfs]
    process, linux = config["process"], config.setdefault("linux", {})
    if ulimits:
        wanted = {limit["type"]: limit for limit in (_ulimit(entry) for entry in ulimits)}
        kept = [r for r in process.get("rlimits") or [] if r["type"] not in wanted]
        process["rlimits"] = kept + list(wanted.values())
    if sysctls:
        linux["sysctl"] = check_sysctls(sysctls)
    for entry in devices:
        device, rule = _device(entry)
        linux.setdefault("devices", []).append(device)
        linux.setdefault("resources", {}).setdefault("devices", []).append(rule)
    if privileged:
        _privileged(config)


def check_host_options(*, tmpfs: list[str] | None = None, ulimits: list[str] | None = None,
                       sysctls: dict[str, Any] | None = None, devices: list[str] | None = None) -> None:
    """Each option's syntax, and that a device names a device node on this
    host (a stat: reading is all a plan may do): a plan, check mode too,
    fails on a bad entry before anything is created, as the apply would."""
    for entry in tmpfs or []:
        parse_tmpfs(entry)
    for entry in ulimits or []:
        _ulimit(entry)
    check_sysctls(sysctls or {})
    for entry in devices or []:
        _device(entry)


def init_binary() -> str:
    """The host's static tini (Debian's package tini ships it): a static binary
    runs in any image, with or without a libc. Missing: an error naming init."""
    for path in INIT_BINARIES:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise InvalidInput(f"init needs tini, and this host has no {INIT_BINARIES[0]}", field="init",
                       hint="install Debian's package tini (apt-get install tini; the berth.engine.host role "
                            "installs it), or drop init")


def with_init(config: dict[str, Any]) -> None:
    """Docker's --init: tini bind-mounted read-only as /sbin/docker-init, and the
    process becomes [/sbin/docker-init, --, entrypoint + cmd] (tini reaps zombies
    and forwards signals to the command)."""
    config["process"]["args"] = [INIT_TARGET, "--", *config["process"]["args"]]
    config["mounts"].append({"destination": INIT_TARGET, "type": "bind", "source": init_binary(),
                             "options": ["rbind", "ro", "nosuid", "nodev"]})


# -- tmpfs -----------------------------------------------------------------------------------------------------------

def _tmpfs(entry: str) -> dict[str, Any]:
    """'/run' or '/run:size=64m,mode=1777' (Docker's --tmpfs; noexec,nosuid,nodev by default)."""
    path, given = parse_tmpfs(entry)
    defaults = [o for o in ("noexec", "nosuid", "nodev") if o not in given and o.replace("no", "", 1) not in given]
    return {"destination": path, "type": "tmpfs", "source": "tmpfs", "options": defaults + given}


def parse_tmpfs(entry: object) -> tuple[str, list[str]]:
    """(absolute path, options) of one ``tmpfs`` entry, every option checked
    here so a typo is an error naming it rather than a failed mount."""
    if not isinstance(entry, str):
        raise InvalidInput(f"tmpfs {brief(entry)} is not a path", field="tmpfs", hint=TMPFS_HINT)
    path, _sep, options = entry.partition(":")
    if not path.startswith("/") or any(ord(c) < 32 for c in path):
        raise InvalidInput(f"tmpfs {brief(entry)}: the path must be absolute, without control characters",
                           field="tmpfs", hint=TMPFS_HINT)
    normal = "/" + posixpath.normpath(path).lstrip("/")
    if normal == "/":
        raise InvalidInput(f"tmpfs {brief(entry)}: cannot mount over /", field="tmpfs",
                           hint="choose a directory such as /run or /tmp")
    given = [o for o in options.split(",") if o]
    for option in given:
        _tmpfs_option(entry, option)
    return normal, given


def _tmpfs_option(entry: str, option: str) -> None:
    key, sep, value = option.partition("=")
    field = f"tmpfs.{key}" if key in TMPFS_DATA else "tmpfs"
    if not sep:
        if option not in TMPFS_FLAGS:
            raise InvalidInput(f"tmpfs {brief(entry)}: unknown option {brief(option)}", field=field, hint=TMPFS_HINT)
        return
    if key not in TMPFS_DATA:
        raise InvalidInput(f"tmpfs {brief(entry)}: unknown option {brief(key)}", field=field, hint=TMPFS_HINT)
    if key in ("size", "nr_inodes", "nr_blocks"):
        _memparse(entry, key, value, percent=key != "nr_blocks")
    elif key == "mode":
        if not (is_ascii_digits(value) and len(value) <= 5 and set(value) <= set("01234567")
                and int(value, 8) <= 0o7777):
            raise InvalidInput(f"tmpfs {brief(entry)}: mode {brief(value)} is not an octal mode", field=field,
                               hint="write it in octal, e.g. mode=1777")
    elif key in ("uid", "gid"):
        parse_uint(value, field=field, what=f"tmpfs {key}", maximum=UINT32_MAX - 1,
                   hint=f"give a numeric {key} such as 1000")
    else:
        _mpol(entry, value, field)


def _memparse(entry: str, key: str, value: str, *, percent: bool) -> None:
    """The kernel's tmpfs numbers: digits with an optional k/m/g/t/p/e (size and nr_inodes also %)."""
    last = value[-1:].lower()
    digits, unit = (value[:-1], last) if last and last in _MEMPARSE_UNITS + "%" else (value, "")
    units = "size=64m, size=1g or size=50%" if percent else f"{key}=1024 or {key}=1k"
    if not is_ascii_digits(digits) or (unit == "%" and not percent):
        raise InvalidInput(f"tmpfs {brief(entry)}: {key} {brief(value)} is not a number", field=f"tmpfs.{key}",
                           hint=f"write {units}")
    scale = 1 if unit in ("", "%") else 1 << (10 * (_MEMPARSE_UNITS.index(unit) + 1))
    parse_uint(digits, field=f"tmpfs.{key}", what=f"tmpfs {key}", maximum=INT64_MAX // scale,
               hint="that is larger than any host")


def _mpol(entry: str, value: str, field: str) -> None:
    match = _MPOL.fullmatch(value)
    if match is None:
        raise InvalidInput(f"tmpfs {brief(entry)}: mpol {brief(value)} is not a memory policy", field=field,
                           hint="use default, prefer:N, bind:N-M, interleave[:N-M] or local")
    if match[3] is not None:
        from ..units import parse_cpuset

        parse_cpuset(match[3], field)


# -- ulimits, sysctls ------------------------------------------------------------------------------------------------

def _ulimit(entry: object) -> dict[str, Any]:
    """'nofile:1024:2048' or 'nofile:1024' (community.docker's form); -1 is unlimited."""
    hint = f"write name:soft[:hard] with name one of {', '.join(sorted(_ULIMITS))}"
    if not isinstance(entry, str):
        raise InvalidInput(f"ulimit {brief(entry)} is not valid", field="ulimits", hint=hint)
    name, _sep, values = entry.partition(":")
    soft_text, _sep, hard_text = values.partition(":")
    if name not in _ULIMITS:
        raise InvalidInput(f"ulimit {brief(entry)}: unknown limit {brief(name)}", field="ulimits", hint=hint)
    soft = _limit(entry, soft_text, hint)
    hard = _limit(entry, hard_text, hint) if hard_text else soft
    if hard != -1 and (soft == -1 or soft > hard):
        raise InvalidInput(f"ulimit {brief(entry)}: the soft limit is above the hard limit", field="ulimits",
                           hint="give soft <= hard (-1 for unlimited)")
    return {"type": f"RLIMIT_{name.upper()}", "soft": soft, "hard": hard}


def _limit(entry: str, text: str, hint: str) -> int:
    if text == "-1":
        return -1
    if not is_ascii_digits(text):
        raise InvalidInput(f"ulimit {brief(entry)}: {brief(text)} is not a limit", field="ulimits", hint=hint)
    return parse_uint(text, field="ulimits", what=f"ulimit {brief(entry)}: limit", maximum=INT64_MAX, hint=hint)


def check_sysctls(sysctls: dict[Any, Any]) -> dict[str, str]:
    """Keys like net.ipv4.ip_forward (or net/ipv4/ip_forward), values as
    strings; a key can never name a path outside /proc/sys."""
    checked = {}
    for key, value in sysctls.items():
        name = str(key)
        if not _SYSCTL_KEY.fullmatch(name):
            raise InvalidInput(f"{brief(name)} is not a sysctl name", field="sysctls",
                               hint="write it as dotted names such as net.ipv4.ip_forward")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidInput(f"sysctl {name}: {brief(value)} is not a value", field=f"sysctls.{name}",
                               hint='give a string (quote "1")')
        if isinstance(value, int) and abs(value).bit_length() > 64:
            raise InvalidInput(f"sysctl {name}: the value is out of range", field=f"sysctls.{name}",
                               hint="sysctl numbers fit in 64 bits")
        text = str(value)
        if "\0" in text or "\n" in text or len(text) > SYSCTL_VALUE_LIMIT:
            raise InvalidInput(f"sysctl {name}: {brief(text)} is not a value", field=f"sysctls.{name}",
                               hint=f"one line without NUL, at most {SYSCTL_VALUE_LIMIT} characters")
        checked[name] = text
    return checked


# -- devices ---------------------------------------------------------------------------------------------------------

def parse_device(entry: object) -> tuple[str, str, str]:
    """(host path, container path, access) of '/dev/fuse', '/dev/fuse:/dev/fuse',
    '/dev/sda:r' or '/dev/sda:/dev/xvda:rw' (Docker's --device)."""
    if not isinstance(entry, str):
        raise InvalidInput(f"device {brief(entry)} is not valid", field="devices", hint=DEVICE_HINT)
    parts = entry.split(":")
    if len(parts) == 2 and _access_ok(parts[1]):
        parts = [parts[0], "", parts[1]]
    if len(parts) > 3:
        raise InvalidInput(f"device {brief(entry)} has too many ':'", field="devices", hint=DEVICE_HINT)
    host = parts[0]
    inside = parts[1] if len(parts) > 1 and parts[1] else host
    access = parts[2] if len(parts) > 2 else "rwm"
    for path in (host, inside):
        if not path.startswith("/") or any(ord(c) < 32 for c in path):
            raise InvalidInput(f"device {brief(entry)}: {brief(path)} is not an absolute path", field="devices",
                               hint=DEVICE_HINT)
    if not _access_ok(access):
        raise InvalidInput(f"device {brief(entry)}: access {brief(access)} is not valid", field="devices",
                           hint="access is one or more of r, w and m, each once (e.g. rw)")
    return host, posixpath.normpath(inside), access


def _access_ok(text: str) -> bool:
    return text != "" and set(text) <= set("rwm") and len(set(text)) == len(text)


def _device(entry: str) -> tuple[dict[str, Any], dict[str, Any]]:
    host, inside, access = parse_device(entry)
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
    from ..runtime.caps import NUMBERS

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
