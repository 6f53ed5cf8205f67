"""The overlay resolvers' sockets (network/dnsserver.py) on loopback: two
hosts' endpoints (127.0.0.1 and 127.0.0.2 as slice gateways, 127.0.0.3 a
peer with no resolver) in one selector, stepped as the monitor steps it;
UDP, TCP after a truncation, an upstream, hostile clients, and a reload that
starts and stops endpoints with no socket left behind."""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.network import dnswire as wire
from ansible_collections.berth.engine.plugins.module_utils.network.dnsserver import Endpoint, Resolvers
from ansible_collections.berth.engine.plugins.module_utils.network.resolver import Config
from tests.unit.network.test_resolver_wire import mutations, query

SUBNET = "127.0.0.0/8"


def free_port() -> int:
    """A port free for UDP and TCP on the loopback addresses used here."""
    for _attempt in range(50):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        try:
            for host in ("127.0.0.1", "127.0.0.2", "127.0.0.4"):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(socket.AF_INET, kind) as check:
                        check.bind((host, port))
            return port
        except OSError:
            continue
    raise AssertionError("no free port")


class Clock:
    def monotonic(self) -> float:
        return time.monotonic()


class Loop:
    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.clock = Clock()
        self.timed: list[Any] = []   # what has timers, as the monitor's loop runs them

    def step(self, wait: float = 0.01) -> None:
        for key, mask in self.sel.select(wait):
            kind, handler = key.data
            assert kind == "dns"
            handler(mask)
        for each in self.timed:
            each.timers()

    def until(self, ready: Any, seconds: float = 5.0) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.step()
            found = ready()
            if found:
                return found
        raise AssertionError("nothing came")


def udp_ask(loop: Loop, gateway: str, port: int, data: bytes, source: str = "127.0.0.9") -> wire.Answer:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind((source, 0))
        client.setblocking(False)
        client.sendto(data, (gateway, port))

        def received() -> bytes | None:
            try:
                return client.recv(65535)
            except BlockingIOError:
                return None
        return wire.parse_answer(loop.until(received))


def endpoint(loop: Loop, gateway: str, peers: tuple[str, ...], port: int, names: dict[str, list[str]],
             upstreams: list[str] | None = None) -> Endpoint:
    config = Config(network="shop", network_id="n1", gateway=gateway, peers=peers, subnet=SUBNET, port=port)
    made = Endpoint(config, loop.sel, loop.clock, lambda: names, upstreams or [], [], print, upstream_port=port)
    loop.timed.append(made)
    return made


@pytest.fixture
def fleet() -> Iterator[tuple[Loop, int, dict[str, list[str]], dict[str, list[str]], list[Endpoint]]]:
    loop, port = Loop(), free_port()
    names_a: dict[str, list[str]] = {"web": ["10.240.0.2"], "many": [f"10.240.0.{i}" for i in range(2, 80)]}
    names_b: dict[str, list[str]] = {"db": ["10.240.1.2"]}
    made = [endpoint(loop, "127.0.0.1", ("127.0.0.2", "127.0.0.3"), port, names_a),
            endpoint(loop, "127.0.0.2", ("127.0.0.1", "127.0.0.3"), port, names_b, upstreams=["127.0.0.4"])]
    yield loop, port, names_a, names_b, made
    for made_endpoint in made:
        made_endpoint.close()
    assert not loop.sel.get_map(), "every socket unregistered"
    loop.sel.close()


def test_a_name_on_another_host_resolves_over_udp(fleet: Any) -> None:
    loop, port, names_a, _names_b, _made = fleet
    answer = udp_ask(loop, "127.0.0.2", port, query("web", ident=77))
    assert answer.rcode == wire.NOERROR and answer.addresses == ("10.240.0.2",) and answer.id == 77
    names_a["web"] = ["10.240.0.33"]   # recreated on A: B follows once A's table was re-read
    answer = loop.until(lambda: (a := udp_ask(loop, "127.0.0.2", port, query("web"))).addresses != ("10.240.0.2",)
                        and a)
    assert answer.addresses == ("10.240.0.33",)


def test_truncated_over_udp_then_whole_over_tcp(fleet: Any) -> None:
    loop, port, _a, _b, _made = fleet
    answer = udp_ask(loop, "127.0.0.2", port, query("many", edns=False))
    assert answer.truncated and answer.addresses == ()
    with socket.create_connection(("127.0.0.2", port)) as client:
        client.setblocking(False)
        data = query("many", ident=5, edns=False)
        client.sendall(struct.pack("!H", len(data)) + data)
        got = bytearray()

        def whole() -> bool:
            with contextlib.suppress(BlockingIOError):
                got.extend(client.recv(65535))
            return len(got) >= 2 and len(got) >= 2 + struct.unpack_from("!H", got)[0]
        loop.until(whole)
    answer = wire.parse_answer(bytes(got[2:]))
    # a peer answers a peer with what fits its UDP (1232 bytes): a shared alias's addresses, not all 78
    assert answer.id == 5 and answer.rcode == wire.NOERROR and 60 < len(answer.addresses) < 78


def test_an_unknown_name_goes_upstream(fleet: Any) -> None:
    loop, port, _a, _b, _made = fleet
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
        upstream.bind(("127.0.0.4", port))
        upstream.setblocking(False)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.setblocking(False)
            client.sendto(query("example.org", ident=9), ("127.0.0.2", port))

            def forwarded() -> tuple[bytes, Any] | None:
                try:
                    return upstream.recvfrom(4096)
                except BlockingIOError:
                    return None
            data, address = loop.until(forwarded)
            asked = wire.parse_query(data)
            assert asked.name == "example.org" and not asked.marked
            upstream.sendto(wire.build_reply(asked, wire.NOERROR, ["192.0.2.80"]), address)

            def answered() -> bytes | None:
                try:
                    return client.recv(4096)
                except BlockingIOError:
                    return None
            answer = wire.parse_answer(loop.until(answered))
    assert answer.id == 9 and answer.addresses == ("192.0.2.80",)


def test_hostile_clients_do_not_stop_the_service(fleet: Any) -> None:
    loop, port, _a, _b, made = fleet
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spammer:
        for data in mutations(7, 400):
            spammer.sendto(data or b"\0", ("127.0.0.1", port))
        loop.step(0.05)
        loop.step(0.05)
    junk = socket.create_connection(("127.0.0.1", port))
    junk.sendall(b"\x00\x03abc")   # a "message" shorter than a header
    loop.until(lambda: not made[0].clients and True)
    junk.close()
    silent = [socket.create_connection(("127.0.0.1", port)) for _i in range(40)]
    loop.until(lambda: len(made[0].clients) == 32)
    for conn in silent:
        conn.close()
    loop.until(lambda: not made[0].clients and True)
    assert udp_ask(loop, "127.0.0.1", port, query("web")).addresses == ("10.240.0.2",)


class Source:
    def __init__(self, port: int) -> None:
        self.networks: list[dict[str, Any]] = []
        self.port = port

    def dns_networks(self) -> list[dict[str, Any]]:
        return self.networks

    def dns_names(self, network_id: str) -> dict[str, list[str]]:
        return {"web": ["10.240.0.2"]} if network_id == "n1" else {}

    def dns_upstreams(self) -> tuple[list[str], list[str]]:
        return [], []


def overlay(network_id: str, name: str, host_subnet: str) -> dict[str, Any]:
    return {"id": network_id, "name": name, "driver": "overlay", "subnet": "127.0.0.0/8",
            "overlay": {"local_address": "192.0.2.1", "host_subnet": host_subnet,
                        "slices": {"192.0.2.1": host_subnet, "192.0.2.2": "127.0.9.0/24"}}}


def test_reload_serves_exactly_the_overlay_networks_of_the_records() -> None:
    loop, port = Loop(), free_port()
    source = Source(port)
    resolvers = Resolvers(loop.sel, loop.clock, source, print, port=port, upstream_port=port)
    loop.timed.append(resolvers)
    assert resolvers.reload() == {"serving": [], "failed": []}
    source.networks = [overlay("n1", "shop", "127.0.0.0/24"), {"id": "b", "name": "plain", "driver": "bridge"}]
    assert resolvers.reload()["serving"] == [f"shop 127.0.0.1:{port}"]
    first = resolvers.endpoints["n1"]
    assert resolvers.reload()["serving"] == [f"shop 127.0.0.1:{port}"] and resolvers.endpoints["n1"] is first
    assert udp_ask(loop, "127.0.0.1", port, query("web")).addresses == ("10.240.0.2",)
    source.networks = [overlay("n1", "shop", "127.0.0.0/24"), overlay("n2", "other", "127.0.0.0/24")]
    status = resolvers.reload()   # the same gateway twice: the second cannot bind
    assert status["serving"] == [f"shop 127.0.0.1:{port}"] and "other: 127.0.0.1" in status["failed"][0]
    source.networks = []
    assert resolvers.reload() == {"serving": [], "failed": []}
    assert not loop.sel.get_map()
    resolvers.close()
    loop.sel.close()
