"""A container's mounts: the `volumes` short syntax and the `mounts` long
syntax (community.docker's names) parsed into one normalised form, the
image's VOLUME entries added as anonymous volumes, and the OCI mounts a
bundle gets once each source is resolved to a host path.

Pure functions: nothing here touches the disk, so check mode plans with
them and unit tests need no root.
"""

from __future__ import annotations

import posixpath
import re
import secrets
from typing import Any

from ..errors import InvalidInput

VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
TYPES = ("volume", "bind", "tmpfs")
LONG_KEYS = {"target", "source", "type", "read_only", "propagation", "no_copy", "tmpfs_size", "tmpfs_mode",
             "labels", "volume_driver", "volume_options", "consistency"}


def validate_volume_name(name: str, field: str = "name") -> str:
    if not isinstance(name, str) or not VOLUME_NAME.fullmatch(name) or len(name) > 128:
        raise InvalidInput(f"{name!r} is not a valid volume name", field=field,
                           hint="use 2-128 characters from [a-zA-Z0-9_.-], starting with a letter or digit")
    return name


def mount(kind: str, target: str, source: str | None = None, **extra: Any) -> dict[str, Any]:
    """The normalised form every mount takes (and the record keeps)."""
    return {"type": kind, "source": source, "target": target, "read_only": bool(extra.get("read_only")),
            "propagation": extra.get("propagation"), "no_copy": bool(extra.get("no_copy")),
            "tmpfs_size": extra.get("tmpfs_size"), "tmpfs_mode": extra.get("tmpfs_mode"),
            "anonymous": bool(extra.get("anonymous")), "create_source": bool(extra.get("create_source")),
            "volume_options": extra.get("volume_options") or {}, "labels": extra.get("labels") or {}}


# The runtime mounts these itself; a mount over one would hide or replace the
# container's proc, sysfs or device nodes (or its whole root).
RESERVED_TARGETS = ("/", "/proc", "/sys", "/dev")
# runc's checkProcMount: the only /proc files a mount may cover, the ones lxcfs emulates.
PROC_MOUNTS_ALLOWED = ("/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
                       "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
                       "/proc/sys/kernel/ns_last_pid")


def clean_target(path: Any, field: str, entry: Any, *, what: str | None = None) -> str:
    """A container path: absolute, normalised (``..``, ``.`` and repeated
    slashes resolved as the container's root would, so ``/a/../proc`` is
    ``/proc``), and not one the runtime owns. ``what`` names the entry in the
    message when it is not ``entry`` itself (an image's VOLUME)."""
    subject = what or repr(entry)
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise InvalidInput(f"{subject}: the container path must be absolute", field=field,
                           hint="write the target as an absolute path such as /data")
    normal = "/" + posixpath.normpath(path).lstrip("/")  # normpath keeps a leading '//'
    if normal in RESERVED_TARGETS:
        raise InvalidInput(f"{subject}: cannot mount over {normal}", field=field,
                           hint="choose another path such as /data: the runtime mounts /, /proc, /sys and /dev "
                                "itself")
    if normal.startswith("/proc/") and normal not in PROC_MOUNTS_ALLOWED:
        raise InvalidInput(f"{subject}: cannot mount inside /proc ({normal})", field=field,
                           hint="only these /proc files may be covered (as runc allows, for lxcfs): "
                                + ", ".join(PROC_MOUNTS_ALLOWED))
    return normal


def _target(path: Any, field: str, entry: Any) -> str:
    return clean_target(path, field, entry)


def tmpfs_target(entry: Any) -> str:
    """The container path of a `tmpfs` entry ('/run' or '/run:size=64m'), checked."""
    if not isinstance(entry, str):
        raise InvalidInput(f"{entry!r} is not a tmpfs entry", field="tmpfs", hint="write /path[:size=64m,mode=1777]")
    return clean_target(entry.partition(":")[0], "tmpfs", entry)


def parse_short(entry: str) -> dict[str, Any]:
    """`name:/path[:opts]`, `/host:/path[:opts]` or `/path` (anonymous)."""
    field = "volumes"
    if not isinstance(entry, str) or not entry:
        raise InvalidInput(f"{entry!r} is not a volume entry", field=field,
                           hint="write name:/path[:ro], /host/path:/path[:ro] or /path")
    parts = entry.split(":")
    if len(parts) == 1:
        return mount("volume", _target(parts[0], field, entry), None, anonymous=True)
    if len(parts) > 3:
        raise InvalidInput(f"{entry!r} has too many ':'", field=field,
                           hint="write source:/path[:options], options comma-separated (ro, rshared, nocopy)")
    source, target = parts[0], _target(parts[1], field, entry)
    options = [o for o in (parts[2] if len(parts) == 3 else "").split(",") if o]
    bind = source.startswith("/")
    if not bind:
        if source.startswith("."):
            raise InvalidInput(f"{entry!r}: relative host paths are not supported", field=field,
                               hint="give the host path as an absolute path, e.g. {{ playbook_dir }}/data")
        validate_volume_name(source, field)
    read_only, propagation, no_copy = False, None, False
    for option in options:
        if option in ("ro", "rw"):
            read_only = option == "ro"
        elif option in PROPAGATIONS and bind:
            propagation = option
        elif option == "nocopy" and not bind:
            no_copy = True
        elif option in ("z", "Z", "consistent", "cached", "delegated"):
            continue  # SELinux relabel / macOS consistency: nothing to do on this host
        else:
            valid = "ro, rw, " + (", ".join(PROPAGATIONS) if bind else "nocopy")
            raise InvalidInput(f"{entry!r}: unknown option {option!r}", field=field, hint=f"options here: {valid}")
    if bind:
        return mount("bind", target, posixpath.normpath(source), read_only=read_only, propagation=propagation,
                     create_source=True)
    return mount("volume", target, source, read_only=read_only, no_copy=no_copy)


def parse_long(entry: dict[str, Any]) -> dict[str, Any]:
    """One `mounts` entry (type volume, bind or tmpfs)."""
    field = "mounts"
    unknown = set(entry) - LONG_KEYS
    if unknown:
        raise InvalidInput(f"unknown keys {sorted(unknown)} in {entry!r}", field=field,
                           hint=f"a mount takes {', '.join(sorted(LONG_KEYS))}")
    kind = entry.get("type") or "volume"
    if kind not in TYPES:
        raise InvalidInput(f"type {kind!r} is not supported", field=field, hint="use volume, bind or tmpfs")
    target = _target(entry.get("target"), field, entry)
    source = entry.get("source")
    extra = {k: entry.get(k) for k in ("read_only", "propagation", "no_copy")}
    if extra["propagation"] is not None and (kind != "bind" or extra["propagation"] not in PROPAGATIONS):
        raise InvalidInput(f"propagation {extra['propagation']!r} for {target}", field=field,
                           hint=f"propagation is for bind mounts: one of {', '.join(PROPAGATIONS)}")
    if kind == "bind":
        if not isinstance(source, str) or not source.startswith("/"):
            raise InvalidInput(f"bind mount at {target} needs an absolute source", field=field,
                               hint="give source: /host/path (it must exist)")
        return mount("bind", target, posixpath.normpath(source), **extra)
    if kind == "tmpfs":
        if source:
            raise InvalidInput(f"tmpfs mount at {target} takes no source", field=field, hint="leave source out")
        return mount("tmpfs", target, None, read_only=extra["read_only"], tmpfs_size=_size(entry.get("tmpfs_size")),
                     tmpfs_mode=_mode(entry.get("tmpfs_mode")))
    if entry.get("volume_driver") not in (None, "local"):
        raise InvalidInput(f"volume driver {entry['volume_driver']!r}", field=field,
                           hint="only the local driver exists")
    if source:
        validate_volume_name(source, field)
    return mount("volume", target, source or None, anonymous=not source, no_copy=extra["no_copy"],
                 read_only=extra["read_only"], volume_options=entry.get("volume_options"),
                 labels=entry.get("labels"))


def _size(value: Any) -> int | None:
    if value in (None, ""):
        return None
    from ..units import parse_bytes

    return parse_bytes(str(value), "mounts.tmpfs_size")


def _mode(value: Any) -> int | None:
    if value in (None, ""):
        return None
    text = str(value)
    if not re.fullmatch(r"0?[0-7]{3,4}", text):
        raise InvalidInput(f"tmpfs_mode {value!r} is not an octal mode", field="mounts",
                           hint="write it as a string of octal digits, e.g. '1777'")
    return int(text, 8)


def parse_all(volumes: list[str] | None, mounts: list[dict[str, Any]] | None,
              tmpfs: list[str] | None) -> list[dict[str, Any]]:
    """The mounts a task states; each container path may appear once
    (across volumes, mounts and the tmpfs option)."""
    found = [parse_short(v) for v in volumes or []] + [parse_long(m) for m in mounts or []]
    seen = {tmpfs_target(t) for t in tmpfs or []}
    for item in found:
        if item["target"] in seen:
            raise InvalidInput(f"{item['target']} is mounted twice", field="mounts",
                               hint="each container path may appear once across volumes, mounts and tmpfs")
        seen.add(item["target"])
    return found


def with_image_volumes(found: list[dict[str, Any]], image_volumes: dict[str, Any] | None,
                       tmpfs: list[str] | None = None, image: str | None = None) -> list[dict[str, Any]]:
    """The image's VOLUME paths that nothing stated covers become anonymous
    volumes; a VOLUME the runtime owns (/, /proc, ...) fails, naming ``image``."""
    wanted = {_image_volume(path, image) for path in image_volumes or {}}
    taken = {m["target"] for m in found} | {tmpfs_target(t) for t in tmpfs or []}
    extra = [mount("volume", path, None, anonymous=True) for path in sorted(wanted - taken)]
    return found + extra


def _image_volume(path: Any, image: str | None) -> str:
    label = f"image {image}" if image else "the image"
    try:
        return clean_target(path, "image", path, what=f"{label}'s VOLUME {path!r}")
    except InvalidInput as err:
        raise InvalidInput(err.message, field="image",
                           hint="the runtime owns that path: use an image without this VOLUME") from None


def name_anonymous(mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anonymous volumes get their names (64 hex, like Docker's) when the container is created."""
    return [{**m, "source": secrets.token_hex(32)} if m["type"] == "volume" and not m["source"] else m
            for m in mounts]


def comparable(mounts: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """`mounts` as the option table compares them: normalised, without defaults, by target."""
    normal = [parse_long(m) for m in mounts or []]
    keep = ("type", "source", "target", "read_only", "propagation", "no_copy", "tmpfs_size", "tmpfs_mode")
    # the mode back in the octal digits the input is written in: a spec's mounts
    # are these, and create parses them again (1770 must not become 1016)
    shown = [{k: f"{m[k]:o}" if k == "tmpfs_mode" else m[k] for k in keep if m[k] not in (None, False)}
             for m in normal]
    return sorted(shown, key=lambda m: m["target"])


def oci_mount(item: dict[str, Any], host_path: str | None) -> dict[str, Any]:
    """The config.json entry for one resolved mount."""
    if item["type"] == "tmpfs":
        options = ["nosuid", "nodev", "noexec"]
        if item.get("tmpfs_size"):
            options.append(f"size={item['tmpfs_size']}")
        if item.get("tmpfs_mode") is not None:
            options.append(f"mode={item['tmpfs_mode']:o}")
        if item["read_only"]:
            options.append("ro")
        return {"destination": item["target"], "type": "tmpfs", "source": "tmpfs", "options": options}
    options = ["rbind", "ro" if item["read_only"] else "rw", item.get("propagation") or "rprivate"]
    return {"destination": item["target"], "type": "bind", "source": host_path, "options": options}


def root_propagation(mounts: list[dict[str, Any]]) -> str | None:
    """Docker's rule: a shared bind makes the root rshared, a slave one rslave."""
    kinds = {m.get("propagation") for m in mounts if m["type"] == "bind"}
    if kinds & {"shared", "rshared"}:
        return "rshared"
    if kinds & {"slave", "rslave"}:
        return "rslave"
    return None


def place(defaults: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bundle's mounts: defaults the user does not replace, then the
    user's, parents before children (Docker sorts by depth)."""
    targets = {m["destination"] for m in extra}
    kept = [m for m in defaults if m["destination"] not in targets]
    ordered = sorted(extra, key=lambda m: len([p for p in m["destination"].split("/") if p]))
    return kept + ordered
