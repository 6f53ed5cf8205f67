"""ipam_config validation, overlaps, Docker's default pools, address
candidates and static addresses."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, InvalidState
from ansible_collections.berth.engine.plugins.module_utils.network.ipam import (
    DEFAULT_POOLS,
    Candidates,
    Ipam,
    check_overlap,
    check_static,
    parse_ipam_config,
    pick_subnet,
)

HOST_ROUTES = ["0.0.0.0/0", "192.0.2.0/24", "127.0.0.0/8"]


def _ipam(**entry: Any) -> Ipam:
    ipam = parse_ipam_config([entry])
    assert ipam is not None
    return ipam


def test_empty_is_not_stated() -> None:
    assert parse_ipam_config([]) is None
    assert parse_ipam_config(None) is None


def test_full_entry_and_record_round_trip() -> None:
    ipam = _ipam(subnet="10.253.0.0/24", gateway="10.253.0.254", iprange="10.253.0.128/25",
                 aux_addresses={"router": "10.253.0.2"})
    assert ipam.subnet == IPv4Network("10.253.0.0/24")
    assert ipam.gateway == IPv4Address("10.253.0.254")
    assert ipam.gateway_cidr == "10.253.0.254/24"
    record = ipam.as_record()
    assert record == {"subnet": "10.253.0.0/24", "gateway": "10.253.0.254", "ip_range": "10.253.0.128/25",
                      "aux_addresses": {"router": "10.253.0.2"}}
    assert Ipam.from_record(record) == ipam


def test_gateway_defaults_to_the_first_host_address() -> None:
    assert _ipam(subnet="10.253.4.0/22").gateway == IPv4Address("10.253.4.1")
    assert _ipam(subnet="10.253.4.0/22", iprange="10.253.6.0/24").gateway == IPv4Address("10.253.4.1")
    assert _ipam(subnet="10.253.0.0/24", gateway=None, iprange=None, aux_addresses=None).ip_range is None


@pytest.mark.parametrize(("entry", "field", "text"), [
    ({"subnet": "10.253.0.0/24", "gateway": "10.253.1.1"}, "ipam_config[0].gateway",
     "gateway 10.253.1.1 is outside subnet 10.253.0.0/24"),
    ({"subnet": "10.253.0.0/24", "gateway": "10.253.0.0"}, "ipam_config[0].gateway", "is outside subnet"),
    ({"subnet": "10.253.0.0/24", "gateway": "10.253.0.255"}, "ipam_config[0].gateway", "is outside subnet"),
    ({"subnet": "10.253.0.0/24", "gateway": "nope"}, "ipam_config[0].gateway", "'nope' is not an IPv4 address"),
    ({"subnet": "10.253.0.0/24", "gateway": "fe80::1"}, "ipam_config[0].gateway", "is not an IPv4 address"),
    ({"subnet": "10.253.0.0/24", "iprange": "10.253.1.0/25"}, "ipam_config[0].iprange",
     "iprange 10.253.1.0/25 is outside subnet 10.253.0.0/24"),
    ({"subnet": "10.253.0.0/24", "iprange": "10.253.0.0/23"}, "ipam_config[0].iprange", "is outside subnet"),
    ({"subnet": "10.253.0.0/24", "iprange": "10.253.0.1/32", "gateway": "10.253.0.1"}, "ipam_config[0].iprange",
     "leaves no address"),
    ({"subnet": "10.253.0.0/24", "iprange": "10.253.0.3/24"}, "ipam_config[0].iprange", "has host bits set"),
    ({"subnet": "10.253.0.0/24", "aux_addresses": {"r": "10.9.0.1"}}, "ipam_config[0].aux_addresses.r",
     "auxiliary address r=10.9.0.1 is outside subnet"),
    ({"subnet": "10.253.0.0/24", "aux_addresses": {"r": "x"}}, "ipam_config[0].aux_addresses.r", "not an IPv4"),
    ({"subnet": "10.253.0.5/24"}, "ipam_config[0].subnet", "has host bits set"),
    ({"subnet": "10.253.0.0"}, "ipam_config[0].subnet", "has no prefix length"),
    ({"subnet": "10.253.0.0/33"}, "ipam_config[0].subnet", "is not an IPv4 network"),
    ({"subnet": "banana/24"}, "ipam_config[0].subnet", "is not an IPv4 network"),
    ({"subnet": "fd00::/64"}, "ipam_config[0].subnet", "is IPv6"),
    ({"subnet": "10.253.0.0/31"}, "ipam_config[0].subnet", "too small"),
    ({"subnet": "10.253.0.0/32"}, "ipam_config[0].subnet", "too small"),
    ({"subnet": "127.1.0.0/16"}, "ipam_config[0].subnet", "overlaps loopback"),
    ({"subnet": "0.0.0.0/0"}, "ipam_config[0].subnet", "overlaps 'this network'"),
    ({"subnet": "224.1.0.0/16"}, "ipam_config[0].subnet", "overlaps multicast"),
    ({"gateway": "10.253.0.1"}, "ipam_config[0].subnet", "needs a subnet"),
])
def test_bad_entries(entry: dict[str, Any], field: str, text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_ipam_config([entry])
    assert err.value.field == field
    assert text in err.value.message, err.value.message
    assert err.value.hint


def test_one_entry_only() -> None:
    with pytest.raises(InvalidInput, match="one IPv4 subnet") as err:
        parse_ipam_config([{"subnet": "10.253.0.0/24"}, {"subnet": "fd00::/64"}])
    assert err.value.field == "ipam_config"


def test_overlap_with_a_berth_network_or_a_host_route() -> None:
    subnet = IPv4Network("10.253.0.0/24")
    check_overlap(subnet, {"other": "10.253.1.0/24"}, HOST_ROUTES)  # default route ignored
    with pytest.raises(InvalidInput, match=r"overlaps network 'other' \(10\.253\.0\.0/16\)") as err:
        check_overlap(subnet, {"other": "10.253.0.0/16"}, HOST_ROUTES)
    assert err.value.field == "ipam_config[0].subnet"
    with pytest.raises(InvalidInput, match=r"overlaps the host route 10\.253\.0\.128/25"):
        check_overlap(subnet, {}, [*HOST_ROUTES, "10.253.0.128/25"])
    with pytest.raises(InvalidInput, match=r"overlaps the host route 192\.0\.2\.0/24"):
        check_overlap(IPv4Network("192.0.0.0/16"), {}, HOST_ROUTES)
    # a berth bridge's own route is reported as that network, by name
    with pytest.raises(InvalidInput, match="overlaps network 'web'"):
        check_overlap(subnet, {"web": "10.253.0.0/24"}, [*HOST_ROUTES, "10.253.0.0/24"])


def test_default_pools_are_dockers() -> None:
    assert DEFAULT_POOLS[0] == IPv4Network("172.17.0.0/16")
    assert DEFAULT_POOLS[14] == IPv4Network("172.31.0.0/16")
    assert DEFAULT_POOLS[15] == IPv4Network("192.168.0.0/20")
    assert DEFAULT_POOLS[-1] == IPv4Network("192.168.240.0/20")
    assert len(DEFAULT_POOLS) == 31


def test_pick_subnet_skips_networks_and_routes() -> None:
    assert pick_subnet({}, HOST_ROUTES) == IPv4Network("172.17.0.0/16")
    assert pick_subnet({"bridge": "172.17.0.0/16"}, HOST_ROUTES) == IPv4Network("172.18.0.0/16")
    assert pick_subnet({"a": "172.17.0.0/16"}, [*HOST_ROUTES, "172.18.5.0/24", "172.16.0.0/12"]) \
        == IPv4Network("192.168.0.0/20")
    with pytest.raises(InvalidState, match="every default subnet") as err:
        pick_subnet({}, ["192.168.0.0/16", "172.16.0.0/12"])
    assert err.value.field == "ipam_config"


def test_candidates_skip_network_broadcast_gateway_and_aux() -> None:
    ipam = _ipam(subnet="10.253.0.0/29", aux_addresses={"x": "10.253.0.3"})
    assert list(Candidates(ipam)) == ["10.253.0.2", "10.253.0.4", "10.253.0.5", "10.253.0.6"]
    assert list(Candidates(ipam)) == list(Candidates(ipam))  # iterable again
    ranged = _ipam(subnet="10.253.0.0/24", gateway="10.253.0.129", iprange="10.253.0.128/30")
    assert list(Candidates(ranged)) == ["10.253.0.128", "10.253.0.130", "10.253.0.131"]
    top = _ipam(subnet="10.253.0.0/24", iprange="10.253.0.252/30")
    assert list(Candidates(top)) == ["10.253.0.252", "10.253.0.253", "10.253.0.254"]  # no broadcast
    big = _ipam(subnet="10.0.0.0/8")
    assert next(iter(Candidates(big))) == "10.0.0.2"


def test_static_addresses() -> None:
    ipam = _ipam(subnet="10.253.0.0/24", iprange="10.253.0.128/25", aux_addresses={"r": "10.253.0.2"})
    assert check_static(ipam, "10.253.0.10") == "10.253.0.10"  # outside iprange but in the subnet: Docker's rule
    assert check_static(ipam, " 10.253.0.200 ") == "10.253.0.200"
    for address, text in (("10.253.1.5", "outside the network's subnet"), ("10.253.0.0", "network address"),
                          ("10.253.0.255", "broadcast address"), ("10.253.0.1", "the network's gateway"),
                          ("10.253.0.2", "auxiliary address 'r'"), ("fd00::1", "not an IPv4 address"),
                          ("10.253.0", "not an IPv4 address")):
        with pytest.raises(InvalidInput, match=text) as err:
            check_static(ipam, address, "networks.ipv4_address")
        assert err.value.field == "networks.ipv4_address"
