"""Compose's short syntaxes turned into their long forms: ports and volumes."""

from __future__ import annotations

import os
import re
from typing import Any

from ..errors import InvalidInput

_PORT_RANGE = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?")
PORT_HINT = "write [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL], e.g. 8080:80 or 127.0.0.1:53:53/udp"
_PROTOCOLS = ("tcp", "udp", "sctp")


def _port_range(text: str, field: str, source: str, what: str) -> tuple[int, int]:
    match = _PORT_RANGE.fullmatch(text)
    if match is None:
        raise InvalidInput(f"{source}: {what} {text!r} is not a port or port range", field=field, hint=PORT_HINT)
    low = int(match[1])
    high = int(match[2]) if match[2] else low
    if not 0 < low <= high <= 65535:
        raise InvalidInput(f"{source}: {what} {text!r} is out of range", field=field,
                           hint="ports go from 1 to 65535, and a range is low-high")
    return low, high


def _split_host(text: str, field: str, source: str) -> tuple[str | None, str | None, str]:
    """[host_ip:][published:]target -> (host_ip, published, target)."""
    if text.startswith("["):  # [IPv6]:published:target
        close = text.find("]")
        if close == -1:
            raise InvalidInput(f"{source}: {text!r} has an unclosed [", field=field, hint=PORT_HINT)
        host_ip, rest = text[1:close], text[close + 1:]
        if not rest.startswith(":"):
            raise InvalidInput(f"{source}: {text!r} needs :PORT after the IPv6 address", field=field, hint=PORT_HINT)
        published, colon, target = rest[1:].rpartition(":")
        if not colon:
            raise InvalidInput(f"{source}: {text!r} has no container port", field=field, hint=PORT_HINT)
        return host_ip, published or None, target
    parts = text.rsplit(":", 2)
    if len(parts) == 1:
        return None, None, parts[0]
    if len(parts) == 2:
        return None, parts[0] or None, parts[1]
    if ":" in parts[0] and not parts[0].startswith("["):
        raise InvalidInput(f"{source}: {text!r}: write an IPv6 host address in brackets", field=field,
                           hint="e.g. [::1]:8080:80")
    return parts[0] or None, parts[1] or None, parts[2]


def parse_port(value: Any, field: str, source: str) -> list[dict[str, Any]]:
    """One short-syntax port (``"127.0.0.1:8000-8001:80-81/udp"``, ``80``) as long-form entries."""
    if isinstance(value, dict):
        return [_long_port(value, field, source)]
    text = str(value).strip()
    text, _sep, protocol = text.partition("/")
    protocol = protocol or "tcp"
    if protocol not in _PROTOCOLS:
        raise InvalidInput(f"{source}: {protocol!r} is not a protocol", field=field, hint="use tcp, udp or sctp")
    host_ip, published, target = _split_host(text, field, source)
    low, high = _port_range(target, field, source, "container port")
    pub_low = pub_high = 0
    if published is not None:
        pub_low, pub_high = _port_range(published, field, source, "host port")
    out = []
    count = high - low + 1
    if published is not None and count > 1 and pub_high - pub_low + 1 != count:
        raise InvalidInput(f"{source}: {value!r}: the host range and the container range differ in size",
                           field=field, hint=PORT_HINT)
    for i in range(count):
        entry: dict[str, Any] = {"mode": "ingress", "target": low + i}
        if published is not None:
            if count > 1:
                entry["published"] = str(pub_low + i)
            else:
                entry["published"] = published  # a host range for one container port stays a range
        entry["protocol"] = protocol
        if host_ip is not None:
            entry["host_ip"] = host_ip
        out.append(entry)
    return out


def _long_port(value: dict[str, Any], field: str, source: str) -> dict[str, Any]:
    if "target" not in value:
        raise InvalidInput(f"{source}: a port needs target", field=f"{field}.target", hint="e.g. target: 80")
    target = value["target"]
    low, _high = _port_range(str(target), f"{field}.target", source, "container port")
    entry: dict[str, Any] = {k: v for k, v in value.items() if k not in ("target", "published")}
    entry.setdefault("mode", "ingress")
    entry["target"] = low
    if value.get("published") not in (None, ""):
        published = str(value["published"])
        _port_range(published, f"{field}.published", source, "host port")
        entry["published"] = published
    entry.setdefault("protocol", "tcp")
    if entry["protocol"] not in _PROTOCOLS:
        raise InvalidInput(f"{source}: {entry['protocol']!r} is not a protocol", field=f"{field}.protocol",
                           hint="use tcp, udp or sctp")
    return {k: entry[k] for k in ("name", "mode", "host_ip", "target", "published", "protocol", "app_protocol")
            if k in entry}


def parse_expose(value: Any, field: str, source: str) -> str:
    text = str(value)
    port, _sep, protocol = text.partition("/")
    _port_range(port, field, source, "exposed port")
    if protocol and protocol not in _PROTOCOLS:
        raise InvalidInput(f"{source}: {protocol!r} is not a protocol", field=field, hint="use tcp, udp or sctp")
    return text


VOLUME_HINT = "write SOURCE:TARGET[:MODE] (MODE ro, rw, z, Z, nocopy), e.g. ./data:/data:ro or cache:/cache"
_BIND_FLAGS = {"rprivate", "private", "rshared", "shared", "rslave", "slave"}


def resolve_path(path: str, base_dir: str) -> str:
    """A host path as Compose resolves it: ``~`` is home, relative is against ``base_dir``."""
    if path == "~" or path.startswith("~/"):
        path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base_dir, path))


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or source == "~"


def parse_volume(value: Any, field: str, source: str, base_dir: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return _long_volume(value, field, source, base_dir)
    text = str(value)
    parts = text.split(":")
    if len(parts) > 3 or not all(parts[:2]) or not text:
        raise InvalidInput(f"{source}: {text!r} is not a volume", field=field, hint=VOLUME_HINT)
    if len(parts) == 1:
        return {"type": "volume", "target": os.path.normpath(parts[0]), "volume": {}}
    src, target = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) == 3 else []
    if not target.startswith("/"):
        raise InvalidInput(f"{source}: the target {target!r} must be an absolute path", field=field,
                           hint=VOLUME_HINT)
    entry: dict[str, Any] = {"type": "bind" if _is_path(src) else "volume",
                             "source": resolve_path(src, base_dir) if _is_path(src) else src,
                             "target": os.path.normpath(target)}
    bind: dict[str, Any] = {"create_host_path": True}
    volume: dict[str, Any] = {}
    for mode in modes:
        if mode == "ro":
            entry["read_only"] = True
        elif mode == "rw":
            continue
        elif mode in ("z", "Z"):
            bind["selinux"] = mode
        elif mode in _BIND_FLAGS:
            bind["propagation"] = mode
        elif mode == "nocopy":
            volume["nocopy"] = True
        else:
            raise InvalidInput(f"{source}: {mode!r} is not a volume mode", field=field, hint=VOLUME_HINT)
    if entry["type"] == "bind":
        entry["bind"] = bind
    else:
        entry["volume"] = volume
    return entry


def _long_volume(value: dict[str, Any], field: str, source: str, base_dir: str) -> dict[str, Any]:
    entry = dict(value)
    kind = entry.get("type")
    if kind not in ("bind", "volume", "tmpfs", "npipe", "image", "cluster"):
        raise InvalidInput(f"{source}: {kind!r} is not a volume type", field=f"{field}.type",
                           hint="use bind, volume or tmpfs")
    target = entry.get("target")
    if not isinstance(target, str) or not target.startswith("/"):
        raise InvalidInput(f"{source}: a volume needs an absolute target", field=f"{field}.target",
                           hint="e.g. target: /data")
    entry["target"] = os.path.normpath(target)
    if kind == "bind":
        src = entry.get("source")
        if not isinstance(src, str) or not src:
            raise InvalidInput(f"{source}: a bind mount needs a source", field=f"{field}.source",
                               hint="e.g. source: ./data")
        entry["source"] = resolve_path(src, base_dir)
        if "bind" in entry:
            entry["bind"] = {"create_host_path": True, **entry["bind"]}
    if "read_only" in entry:
        entry["read_only"] = to_bool(entry["read_only"], f"{field}.read_only", source)
    return entry


def to_bool(value: Any, field: str, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "yes", "on", "y", "1"):
        return True
    if text in ("false", "no", "off", "n", "0"):
        return False
    raise InvalidInput(f"{source}: {value!r} is not a boolean", field=field, hint="use true or false")
