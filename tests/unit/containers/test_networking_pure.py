"""The container side of networking that needs no kernel: wishes, resolv.conf."""

from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.containers.netwishes import wishes
from ansible_collections.berth.engine.plugins.module_utils.containers.networking import resolv_conf
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput


def test_default_is_the_bridge_network() -> None:
    got = wishes(None, None, None, False)
    expected = [{"name": "bridge", "ipv4_address": None, "aliases": []}]
    assert got["network_mode"] == "bridge" and got["networks"] == expected


def test_networks_given_means_no_default_network() -> None:
    got = wishes(None, [{"name": "front", "aliases": ["www"]}, "back"], ["8080:80", "53/udp"], False)
    assert got["network_mode"] == "front" and [n["name"] for n in got["networks"]] == ["front", "back"]
    assert got["ports"][0] == {"host_ip": "0.0.0.0", "host_port": 8080, "container_port": 80, "proto": "tcp",
                               "host_range": None}
    assert got["ports"][1]["host_port"] is None and got["ports"][1]["proto"] == "udp"


def test_host_mode_drops_ports_and_keeps_no_networks() -> None:
    got = wishes("host", None, ["80"], False)
    assert got == {"network_mode": "host", "networks": [], "ports": [], "publish_all_ports": False}


@pytest.mark.parametrize("mode, networks, ports, words", [
    ("host", [{"name": "a"}], None, "conflicts with networks"),
    ("none", None, ["80"], "cannot publish"),
    ("container:", None, None, "needs a name"),
    ("back", [{"name": "front"}], None, "not the first"),
    (None, [{"name": "a"}, {"name": "a"}], None, "listed twice"),
    (None, [{"name": "bridge", "aliases": ["x"]}], None, "user-defined network"),
    (None, [{"name": "a", "ipv6_address": "::1"}], None, "IPv4 only"),
    (None, [{"nom": "a"}], None, "not a network entry"),
    (None, None, ["80:http"], "published_ports"),
])
def test_conflicts(mode: str | None, networks: list | None, ports: list | None, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        wishes(mode, networks, ports, False)
    assert words in str(caught.value)


def test_resolv_conf_drops_loopback_nameservers() -> None:
    host = "search example.org\nnameserver 127.0.0.53\noptions edns0\n"
    assert resolv_conf(host, "nameserver 10.0.0.2\n") == "search example.org\noptions edns0\nnameserver 10.0.0.2\n"
    assert resolv_conf(host).endswith("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
    assert resolv_conf("nameserver 192.0.2.53\n") == "nameserver 192.0.2.53\n"
