"""Short syntaxes: ports, volumes, durations."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose.durations import normalize_duration
from ansible_collections.berth.engine.plugins.module_utils.compose.syntax import parse_port, parse_volume
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput


def _p(target: int, published: str | None = None, protocol: str = "tcp", host_ip: str | None = None
       ) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": "ingress", "target": target}
    if published is not None:
        out["published"] = published
    out["protocol"] = protocol
    if host_ip is not None:
        out["host_ip"] = host_ip
    return out


@pytest.mark.parametrize(("short", "entries"), [
    (80, [_p(80)]),
    ("80", [_p(80)]),
    ("8080:80", [_p(80, "8080")]),
    ("53:53/udp", [_p(53, "53", "udp")]),
    ("127.0.0.1:8080:80", [_p(80, "8080", host_ip="127.0.0.1")]),
    ("127.0.0.1::80", [_p(80, host_ip="127.0.0.1")]),
    ("[::1]:8080:80", [_p(80, "8080", host_ip="::1")]),
    ("[fe80::1]::80/sctp", [_p(80, None, "sctp", "fe80::1")]),
    ("8000-8001:80-81", [_p(80, "8000"), _p(81, "8001")]),
    ("80-81", [_p(80), _p(81)]),
    ("9000-9005:80", [_p(80, "9000-9005")]),
])
def test_ports(short: Any, entries: list[dict[str, Any]]) -> None:
    assert parse_port(short, "p", "f") == entries


@pytest.mark.parametrize("short", ["", "x", "80/icmp", "0", "65536", "1:2:3:4", "8000-8002:80-81", "81-80",
                                   "::1:80:80", "[::1:80:80", "[::1]80:80"])
def test_bad_ports(short: str) -> None:
    with pytest.raises(InvalidInput):
        parse_port(short, "p", "f")


@pytest.mark.parametrize(("short", "entry"), [
    ("/data", {"type": "volume", "target": "/data", "volume": {}}),
    ("cache:/c", {"type": "volume", "source": "cache", "target": "/c", "volume": {}}),
    ("cache:/c:nocopy", {"type": "volume", "source": "cache", "target": "/c", "volume": {"nocopy": True}}),
    ("./x:/x/", {"type": "bind", "source": "/proj/x", "target": "/x", "bind": {"create_host_path": True}}),
    ("../up:/u:ro,Z", {"type": "bind", "source": "/up", "target": "/u", "read_only": True,
                       "bind": {"create_host_path": True, "selinux": "Z"}}),
    ("/abs:/a:rshared", {"type": "bind", "source": "/abs", "target": "/a",
                         "bind": {"create_host_path": True, "propagation": "rshared"}}),
])
def test_volumes(short: str, entry: dict[str, Any]) -> None:
    assert parse_volume(short, "v", "f", "/proj") == entry


@pytest.mark.parametrize("short", ["a:b", ":/x", "a:/b:c", "a:/b:ro:x", ""])
def test_bad_volumes(short: str) -> None:
    with pytest.raises(InvalidInput):
        parse_volume(short, "v", "f", "/proj")


@pytest.mark.parametrize(("text", "printed"), [
    ("30s", "30s"), ("90s", "1m30s"), ("1m", "1m0s"), ("1h", "1h0m0s"), ("1h30m", "1h30m0s"), ("500ms", "500ms"),
    ("1.5s", "1.5s"), ("1m0.25s", "1m0.25s"), (10, "10s"), ("0", "0s"), ("2d", "48h0m0s"), ("100us", "100µs"),
])
def test_durations(text: Any, printed: str) -> None:
    assert normalize_duration(text, "d", "f") == printed


@pytest.mark.parametrize("text", ["", "s", "10 s", "1x", "ten", True, None, "1m-1s"])
def test_bad_durations(text: Any) -> None:
    with pytest.raises(InvalidInput):
        normalize_duration(text, "d", "f")
