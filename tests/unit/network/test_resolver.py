"""The overlay resolver's logic (network/resolver.py) with a fake clock and
fake sockets: own names answered, the peers asked in one marked round (first
positive wins, silence and refusals count as "not here"), then the upstream
nameservers; nothing cached past NAMES_TTL, so a recreated container is
followed; hostile packets never raise."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.network import dnswire as wire
from ansible_collections.berth.engine.plugins.module_utils.network import resolver
from ansible_collections.berth.engine.plugins.module_utils.network.resolver import (
    NAMES_TTL,
    PEER_TIMEOUT,
    UPSTREAM_TIMEOUT,
    Config,
    Resolver,
    config_of,
    host_resolvers,
)
from tests.support.fake_monitor import FakeClock
from tests.unit.network.test_resolver_wire import mutations, query

CONFIG = Config(network="shop", network_id="n1", gateway="10.240.1.1", peers=("10.240.0.1", "10.240.2.1"),
                subnet="10.240.0.0/16")
CLIENT = "10.240.1.5"


class FakeWire:
    def __init__(self) -> None:
        self.peers: list[tuple[str, bytes]] = []
        self.upstream: list[tuple[str, bytes]] = []
        self.down: set[str] = set()

    def send_peer(self, peer: str, data: bytes) -> bool:
        self.peers.append((peer, data))
        return peer not in self.down

    def send_upstream(self, server: str, data: bytes) -> bool:
        self.upstream.append((server, data))
        return True


class Rig:
    def __init__(self, upstreams: list[str] | None = None, config: Config = CONFIG) -> None:
        self.clock = FakeClock()
        self.wire = FakeWire()
        self.table: dict[str, list[str]] = {"web": ["10.240.1.2"], "shop-db": ["10.240.1.3"],
                                            "cache": ["10.240.1.4", "10.240.1.9"]}
        self.reads = 0
        self.replies: list[bytes] = []
        self.logged: list[str] = []
        self.resolver = Resolver(config, self.names, upstreams or [], self.clock, self.wire, ("corp.example",),
                                 self.logged.append)

    def names(self) -> dict[str, list[str]]:
        self.reads += 1
        return self.table

    def ask(self, name: str, qtype: int = wire.TYPE_A, source: str = CLIENT, **kwargs: Any) -> None:
        self.resolver.query(query(name, qtype, **kwargs), source, self.replies.append)

    def answer(self) -> wire.Answer:
        assert len(self.replies) == 1, self.replies
        return wire.parse_answer(self.replies.pop())

    def peer_says(self, peer: str, rcode: int, addresses: tuple[str, ...] = (), *, index: int = -1) -> None:
        sent = [data for p, data in self.wire.peers if p == peer][index]
        reply = wire.build_reply(wire.parse_query(sent), rcode, addresses)
        self.resolver.peer_answer(peer, reply)


@pytest.fixture
def rig() -> Rig:
    return Rig()


@pytest.mark.parametrize("name", ["web", "WEB", "web.shop", "web.corp.example", "web."])
def test_own_names_are_answered_at_once(rig: Rig, name: str) -> None:
    rig.ask(name)
    answer = rig.answer()
    assert answer.rcode == wire.NOERROR and answer.addresses == ("10.240.1.2",) and answer.id == 0x1234
    assert not rig.wire.peers and not rig.wire.upstream


def test_aaaa_of_an_own_name_is_empty_noerror(rig: Rig) -> None:
    rig.ask("cache", wire.TYPE_AAAA)
    answer = rig.answer()
    assert answer.rcode == wire.NOERROR and answer.addresses == ()


def test_an_alias_shared_by_two_containers_has_both(rig: Rig) -> None:
    rig.ask("cache")
    assert rig.answer().addresses == ("10.240.1.4", "10.240.1.9")


def test_a_marked_query_is_answered_from_own_names_only(rig: Rig) -> None:
    rig.ask("elsewhere", marked=True)
    assert rig.answer().rcode == wire.NXDOMAIN
    rig.ask("web", marked=True)
    assert rig.answer().addresses == ("10.240.1.2",)
    assert not rig.wire.peers and not rig.wire.upstream, "a marked query is never forwarded"


def test_the_peers_are_asked_in_parallel_and_the_first_positive_wins(rig: Rig) -> None:
    rig.ask("api")
    assert [peer for peer, _data in rig.wire.peers] == ["10.240.0.1", "10.240.2.1"]
    sent = wire.parse_query(rig.wire.peers[0][1])
    assert sent.marked and sent.name == "api" and sent.id != 0x1234
    assert not rig.replies
    rig.peer_says("10.240.2.1", wire.NOERROR, ("10.240.2.7",))
    answer = rig.answer()
    assert answer.addresses == ("10.240.2.7",) and answer.id == 0x1234
    rig.peer_says("10.240.0.1", wire.NOERROR, ("10.240.0.9",))
    assert not rig.replies and not rig.resolver.pending, "a late answer is dropped"


def test_no_peer_knows_it_and_no_upstream_is_nxdomain(rig: Rig) -> None:
    rig.ask("nothing")
    rig.peer_says("10.240.0.1", wire.NXDOMAIN)
    assert not rig.replies
    rig.peer_says("10.240.2.1", wire.NXDOMAIN)
    assert rig.answer().rcode == wire.NXDOMAIN


def test_a_silent_peer_costs_the_timeout_then_servfail(rig: Rig) -> None:
    rig.ask("api")
    rig.peer_says("10.240.0.1", wire.NXDOMAIN)
    rig.clock.advance(PEER_TIMEOUT / 2)
    rig.resolver.timers()
    assert not rig.replies and min(rig.resolver.deadlines()) > rig.clock.now
    rig.clock.advance(PEER_TIMEOUT)
    rig.resolver.timers()
    assert rig.answer().rcode == wire.SERVFAIL   # it may have been there: the client may ask elsewhere


def test_a_refusing_or_unreachable_peer_counts_as_not_there(rig: Rig) -> None:
    rig.wire.down.add("10.240.2.1")
    rig.ask("api")
    rig.resolver.peer_refused("10.240.0.1")
    assert rig.answer().rcode == wire.NXDOMAIN


def test_other_names_go_upstream_one_server_after_the_other() -> None:
    rig = Rig(upstreams=["192.0.2.53", "10.240.1.1", "198.51.100.53"])   # our own gateway is no upstream
    rig.ask("example.org")
    rig.peer_says("10.240.0.1", wire.NXDOMAIN)
    rig.peer_says("10.240.2.1", wire.NXDOMAIN)
    (server, data), = rig.wire.upstream
    forwarded = wire.parse_query(data)
    assert server == "192.0.2.53" and not forwarded.marked and forwarded.flags & wire.RD
    rig.clock.advance(UPSTREAM_TIMEOUT + 0.01)
    rig.resolver.timers()
    server, data = rig.wire.upstream[-1]
    assert server == "198.51.100.53" and len(rig.wire.upstream) == 2
    rig.resolver.upstream_answer("192.0.2.53", wire.build_reply(wire.parse_query(data), wire.NOERROR, ["1.2.3.4"]))
    assert not rig.replies, "only the server asked now may answer"
    rig.resolver.upstream_answer(server, wire.build_reply(wire.parse_query(data), wire.NOERROR, ["192.0.2.80"]))
    answer = rig.answer()
    assert answer.addresses == ("192.0.2.80",) and answer.id == 0x1234


def test_every_upstream_silent_is_servfail() -> None:
    rig = Rig(upstreams=["192.0.2.53"], config=Config("shop", "n1", "10.240.1.1", (), "10.240.0.0/16"))
    rig.ask("example.org")
    assert len(rig.wire.upstream) == 1, "no peers: straight upstream"
    rig.clock.advance(UPSTREAM_TIMEOUT + 0.01)
    rig.resolver.timers()
    assert rig.answer().rcode == wire.SERVFAIL and not rig.resolver.pending


def test_reverse_lookups_skip_the_peers() -> None:
    rig = Rig(upstreams=["192.0.2.53"])
    rig.ask("5.1.240.10.in-addr.arpa", 12)
    assert not rig.wire.peers and len(rig.wire.upstream) == 1


def test_spoofed_answers_are_ignored(rig: Rig) -> None:
    rig.ask("api")
    sent = wire.parse_query(rig.wire.peers[0][1])
    wrong_id = wire.build_reply(wire.parse_query(query("api", ident=(sent.id + 1) % 65536)), wire.NOERROR,
                                ["6.6.6.6"])
    wrong_name = wire.build_reply(wire.parse_query(query("evil", ident=sent.id)), wire.NOERROR, ["6.6.6.6"])
    good = wire.build_reply(sent, wire.NOERROR, ["6.6.6.6"])
    rig.resolver.peer_answer("10.240.0.1", wrong_id)
    rig.resolver.peer_answer("10.240.0.1", wrong_name)
    rig.resolver.peer_answer("10.240.9.1", good)          # not a peer we asked
    rig.resolver.upstream_answer("10.240.0.1", good)       # not the upstream round
    rig.resolver.peer_answer("10.240.0.1", b"\x00garbage")
    assert not rig.replies and len(rig.resolver.pending) == 1


def test_recursion_is_only_for_the_network(rig: Rig) -> None:
    rig.ask("example.org", source="192.0.2.9")
    assert rig.answer().rcode == wire.REFUSED
    rig.ask("web", source="192.0.2.9")
    assert rig.answer().addresses == ("10.240.1.2",), "own names are no secret to a peer's host"


def test_broken_queries(rig: Rig) -> None:
    rig.resolver.query(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01", CLIENT,
                       rig.replies.append)
    answer = wire.HEADER.unpack(rig.replies.pop())
    assert answer[0] == 0x1234 and answer[1] & wire.RCODE_MASK == wire.FORMERR
    rig.resolver.query(b"\x12\x34\x28\x00" + b"\x00" * 8, CLIENT, rig.replies.append)   # opcode UPDATE
    assert wire.HEADER.unpack(rig.replies.pop())[1] & wire.RCODE_MASK == wire.NOTIMP
    rig.resolver.query(b"\x12", CLIENT, rig.replies.append)
    rig.resolver.query(wire.build_reply(wire.parse_query(query("web")), wire.NOERROR), CLIENT, rig.replies.append)
    assert not rig.replies, "no header, or a response: no answer at all"


def test_the_name_table_lives_at_most_names_ttl(rig: Rig) -> None:
    rig.ask("web")
    rig.answer()
    rig.table = {"web": ["10.240.1.40"]}   # web was recreated on this host with a new address
    rig.ask("web")
    assert rig.answer().addresses == ("10.240.1.2",)
    rig.clock.advance(NAMES_TTL)
    rig.ask("web")
    assert rig.answer().addresses == ("10.240.1.40",)
    rig.table = {}
    rig.resolver.invalidate()   # the monitor saw it exit
    rig.ask("web", marked=True)
    assert rig.answer().rcode == wire.NXDOMAIN


def test_a_failing_name_table_keeps_the_last_one(rig: Rig) -> None:
    rig.ask("web")
    rig.answer()

    def broken() -> dict[str, list[str]]:
        raise OSError("records unreadable")
    rig.resolver.names = broken
    rig.clock.advance(NAMES_TTL)
    rig.ask("web")
    assert rig.answer().addresses == ("10.240.1.2",) and "records unreadable" in rig.logged[0]


def test_queries_in_flight_are_bounded(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolver, "MAX_PENDING", 3)
    for index in range(4):
        rig.ask(f"name{index}", ident=index)
    assert rig.answer().rcode == wire.SERVFAIL and len(rig.resolver.pending) == 3
    rig.resolver.close()
    assert len(rig.replies) == 3 and not rig.resolver.pending


def test_fuzzed_queries_never_raise(rig: Rig) -> None:
    rig.resolver.config = CONFIG
    for data in mutations(61, 3000):
        rig.resolver.query(data, CLIENT, rig.replies.append)
        rig.resolver.peer_answer("10.240.0.1", data)
        rig.resolver.upstream_answer("192.0.2.53", data)
    rig.clock.advance(5)
    rig.resolver.timers()
    assert not rig.resolver.pending


def test_the_network_record_names_the_gateways() -> None:
    record = {"id": "n1", "name": "shop", "driver": "overlay", "subnet": "10.240.0.0/16",
              "overlay": {"local_address": "192.0.2.2", "host_subnet": "10.240.1.0/24",
                          "peers": ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
                          "slices": {"192.0.2.1": "10.240.0.0/24", "192.0.2.2": "10.240.1.0/24",
                                     "192.0.2.3": "10.240.2.0/24"}}}
    assert config_of(record) == CONFIG
    assert config_of({**record, "driver": "bridge"}) is None
    assert config_of({"id": "n2", "name": "x", "driver": "overlay"}) is None


def test_the_hosts_nameservers() -> None:
    text = "search corp.example lab.\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver ::1\noptions x\n"
    assert host_resolvers(text, "nameserver 198.51.100.1\n") == (
        ["192.0.2.53", "198.51.100.1", "127.0.0.53"], ["corp.example", "lab"])
