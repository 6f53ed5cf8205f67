"""published_ports: every syntax Docker's -p takes (IPv4), every bad input
with its message, exposed ports and the random port chooser."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict, InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.network import ports
from ansible_collections.berth.engine.plugins.module_utils.network.ports import (
    PortSpec,
    assign_host_ports,
    choose_port,
    parse_exposed_ports,
    parse_port_spec,
    parse_published_ports,
    publish_all,
)

ANY = "0.0.0.0"


@pytest.mark.parametrize(("entry", "expected"), [
    ("8080:80", [PortSpec(ANY, 8080, 80, "tcp")]),
    ("127.0.0.1:8080:80", [PortSpec("127.0.0.1", 8080, 80, "tcp")]),
    ("127.0.0.1::80", [PortSpec("127.0.0.1", None, 80, "tcp")]),
    ("80", [PortSpec(ANY, None, 80, "tcp")]),
    (80, [PortSpec(ANY, None, 80, "tcp")]),
    (":80", [PortSpec(ANY, None, 80, "tcp")]),
    ("0:80", [PortSpec(ANY, None, 80, "tcp")]),
    ("0.0.0.0:8080:80", [PortSpec(ANY, 8080, 80, "tcp")]),
    (":8080:80", [PortSpec(ANY, 8080, 80, "tcp")]),
    ("53:53/udp", [PortSpec(ANY, 53, 53, "udp")]),
    ("53/udp", [PortSpec(ANY, None, 53, "udp")]),
    ("8080:80/tcp", [PortSpec(ANY, 8080, 80, "tcp")]),
    ("8080:80/TCP", [PortSpec(ANY, 8080, 80, "tcp")]),
    (" 8080:80 ", [PortSpec(ANY, 8080, 80, "tcp")]),
    ("8000-8002:80-82", [PortSpec(ANY, 8000, 80), PortSpec(ANY, 8001, 81), PortSpec(ANY, 8002, 82)]),
    ("127.0.0.1:5000-5001:6000-6001/udp", [PortSpec("127.0.0.1", 5000, 6000, "udp"),
                                           PortSpec("127.0.0.1", 5001, 6001, "udp")]),
    ("80-81", [PortSpec(ANY, None, 80), PortSpec(ANY, None, 81)]),
    ("8000-8010:80", [PortSpec(ANY, None, 80, "tcp", host_range=(8000, 8010))]),
    ("8080-8080:80", [PortSpec(ANY, 8080, 80)]),
    ("65535:1", [PortSpec(ANY, 65535, 1)]),
])
def test_syntax(entry: str | int, expected: list[PortSpec]) -> None:
    assert parse_port_spec(entry) == expected


@pytest.mark.parametrize(("entry", "text"), [
    ("[::1]:8080:80", "IPv6 addresses are not supported"),
    ("::1:8080:80", "IPv6 addresses are not supported"),
    ("1.2.3.4:1:2:3", "IPv6 addresses are not supported"),
    ("localhost:8080:80", "'localhost' is not an IPv4 address"),
    ("300.0.0.1:8080:80", "is not an IPv4 address"),
    ("", "is empty"),
    ("   ", "is empty"),
    ("8080:", "the container port is missing"),
    ("1.2.3.4:80:", "the container port is missing"),
    ("http", "container port 'http' is not a number"),
    ("x:80", "host port 'x' is not a number"),
    ("-1:80", "the host port range '-1' is incomplete"),
    ("80-", "the container port range '80-' is incomplete"),
    ("1.2.3.4:8000-:80", "the host port range '8000-' is incomplete"),
    ("70000:80", "host port 70000 is out of range"),
    ("80:70000", "container port 70000 is out of range"),
    ("0", "container port 0 is not a port"),
    ("8080:0", "container port 0 is not a port"),
    ("0-5:80-85", "host port 0 is not a port"),
    ("90-80", "range '90-80' ends before it starts"),
    ("8010-8000:80", "range '8010-8000' ends before it starts"),
    ("8000-8010:80-85", "the host range has 11 ports and the container range 6"),
    ("8000-8001:80-85", "the host range has 2 ports and the container range 6"),
    ("80/sctp", "protocol 'sctp' is not supported"),
    ("80/", "protocol '' is not supported"),
    ("80/tcp/udp", "protocol 'tcp/udp' is not supported"),
    (True, "is not a port specification"),
    (None, "is not a port specification"),
    (8.5, "is not a port specification"),
])
def test_bad_input(entry: object, text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_port_spec(entry)  # type: ignore[arg-type]
    assert err.value.field == "published_ports"
    assert text in err.value.message, err.value.message
    assert repr(entry) in err.value.message or repr(str(entry)) in err.value.message  # names the entry
    assert err.value.hint  # and says how to fix it


def test_list_keeps_order_and_refuses_a_host_port_twice() -> None:
    assert parse_published_ports(["8080:80", "127.0.0.1:9090:90", "53:53/udp", "53:53"]) == [
        PortSpec(ANY, 8080, 80), PortSpec("127.0.0.1", 9090, 90), PortSpec(ANY, 53, 53, "udp"), PortSpec(ANY, 53, 53)]
    assert len(parse_published_ports(["127.0.0.1:80:80", "127.0.0.2:80:81", "80", "80"])) == 4  # random ones may repeat
    for twice in (["8080:80", "8080:81"], ["127.0.0.1:8080:80", "8080:81"], ["8000-8002:80-82", "8001:90"],
                  ["1.2.3.4:80:80", "1.2.3.4:80:81"]):
        with pytest.raises(InvalidInput, match="published twice") as err:
            parse_published_ports(twice)
        assert err.value.field == "published_ports"


def test_str_form() -> None:
    assert str(PortSpec(ANY, 8080, 80)) == "0.0.0.0:8080:80/tcp"
    assert str(PortSpec("127.0.0.1", None, 80, "udp")) == "127.0.0.1::80/udp"
    assert str(PortSpec(ANY, None, 80, host_range=(8000, 8010))) == "0.0.0.0:8000-8010:80/tcp"


def test_exposed_ports() -> None:
    keys = ["80/tcp", "53/udp", "8080", "7000-7002/tcp", "132/sctp", "80/tcp", "443/TCP"]
    assert parse_exposed_ports(keys) == [(53, "udp"), (80, "tcp"), (443, "tcp"), (7000, "tcp"), (7001, "tcp"),
                                         (7002, "tcp"), (8080, "tcp")]
    assert publish_all(["80/tcp"], "127.0.0.1") == [PortSpec("127.0.0.1", None, 80, "tcp")]
    with pytest.raises(InvalidInput, match="'http/tcp'"):
        parse_exposed_ports(["http/tcp"])


def test_ephemeral_range(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "range"
    monkeypatch.setattr(ports, "EPHEMERAL_FILE", path)
    assert ports.ephemeral_range() == (32768, 60999)  # missing file: Docker's default
    path.write_text("40000\t40010\n")
    assert ports.ephemeral_range() == (40000, 40010)
    path.write_text("garbage\n")
    assert ports.ephemeral_range() == (32768, 60999)


def test_choose_port_skips_taken_ports_and_wraps() -> None:
    taken = set(range(1000, 1010)) - {1003}
    assert choose_port(taken.__contains__, (1000, 1009), rng=random.Random(1)) == 1003
    seen = {choose_port(lambda _p: False, (1000, 1009), rng=random.Random(seed)) for seed in range(50)}
    assert seen <= set(range(1000, 1010)) and len(seen) > 3  # random start, inside the range
    with pytest.raises(Conflict, match="every port in 1000-1009 is taken") as err:
        choose_port(lambda _p: True, (1000, 1009))
    assert err.value.field == "published_ports"
    low, high = ports.ephemeral_range()
    assert low <= choose_port(lambda _p: False) <= high


def test_assign_host_ports_never_repeats_within_a_list() -> None:
    specs = [PortSpec(ANY, 8080, 80), PortSpec(ANY, None, 81, host_range=(2000, 2003)),
             PortSpec(ANY, None, 82, host_range=(2000, 2003)), *parse_published_ports(["83/udp", "9000-9001:84"])]
    host_taken = {("0.0.0.0", 2001, "tcp")}
    chosen = assign_host_ports(specs, lambda ip, port, proto: (ip, port, proto) in host_taken, rng=random.Random(3))
    assert chosen[0] == PortSpec(ANY, 8080, 80)
    assert {chosen[1].host_port, chosen[2].host_port} <= {2000, 2002, 2003}
    assert chosen[1].host_port != chosen[2].host_port
    assert chosen[3].proto == "udp" and chosen[3].host_port is not None
    assert chosen[4].host_port in (9000, 9001) and chosen[4].container_port == 84
