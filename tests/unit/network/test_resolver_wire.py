"""The DNS codec of the overlay resolvers (network/dnswire.py): queries read,
answers built, and hostile bytes — truncated, looping, oversized, random —
always end as Malformed or a parsed message, never another exception."""

from __future__ import annotations

import random
import struct

import pytest

from ansible_collections.berth.engine.plugins.module_utils.network import dnswire as wire


def question(name: str, qtype: int = wire.TYPE_A) -> bytes:
    return wire.encode_name(name) + struct.pack("!HH", qtype, wire.CLASS_IN)


def query(name: str, qtype: int = wire.TYPE_A, *, ident: int = 0x1234, marked: bool = False,
          edns: bool = True) -> bytes:
    if edns:
        return wire.build_query(ident, question(name, qtype), recursion=True, marked=marked)
    return wire.HEADER.pack(ident, wire.RD, 1, 0, 0, 0) + question(name, qtype)


def test_a_query_reads_back() -> None:
    parsed = wire.parse_query(query("Web.Shop", marked=True))
    assert (parsed.id, parsed.name, parsed.qtype, parsed.qclass) == (0x1234, "web.shop", wire.TYPE_A, wire.CLASS_IN)
    assert parsed.marked and parsed.edns and parsed.udp_size == wire.UDP_OURS
    plain = wire.parse_query(query("web", edns=False))
    assert not plain.marked and not plain.edns and plain.udp_size == wire.UDP_PLAIN


def test_an_answer_carries_the_addresses_and_echoes_the_question() -> None:
    parsed = wire.parse_query(query("web"))
    data = wire.build_reply(parsed, wire.NOERROR, ["10.240.0.5", "10.240.1.7"], ttl=1)
    answer = wire.parse_answer(data)
    assert answer.id == 0x1234 and answer.rcode == wire.NOERROR and not answer.truncated
    assert answer.addresses == ("10.240.0.5", "10.240.1.7")
    assert wire.same_question(answer.question, parsed.question)
    flags = struct.unpack_from("!H", data, 2)[0]
    assert flags & wire.QR and flags & wire.AA and flags & wire.RD


def test_too_many_records_for_udp_set_tc_and_drop_them() -> None:
    parsed = wire.parse_query(query("many", edns=False))
    addresses = [f"10.240.{i // 250}.{i % 250 + 1}" for i in range(100)]
    data = wire.build_reply(parsed, wire.NOERROR, addresses, limit=parsed.udp_size)
    assert len(data) <= 512
    answer = wire.parse_answer(data)
    assert answer.truncated and answer.addresses == ()
    assert wire.parse_answer(wire.build_reply(parsed, wire.NOERROR, addresses, limit=65535)).addresses[99]


def test_compressed_names_are_followed_backwards_only() -> None:
    header = wire.HEADER.pack(1, 0, 1, 0, 0, 0)
    # the question's name points at itself: a loop
    looping = header + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    with pytest.raises(wire.Malformed) as caught:
        wire.parse_query(looping)
    assert caught.value.header == (1, 0)   # readable header: the resolver answers FORMERR
    name, end = wire.read_name(b"\x03web\x00\xc0\x00", 5)
    assert (name, end) == ("web", 7)


@pytest.mark.parametrize("packet", [
    b"", b"\x00" * 11,                                                  # shorter than a header
    wire.HEADER.pack(1, 0, 1, 0, 0, 0) + b"\x40abc",                   # an extended label type
    wire.HEADER.pack(1, 0, 1, 0, 0, 0) + b"\x3fabc",                   # a label past the end
    wire.HEADER.pack(1, 0, 1, 0, 0, 0) + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01",   # > 255 bytes
    wire.HEADER.pack(1, 0, 2, 0, 0, 0) + question("a") * 2,            # two questions
    wire.HEADER.pack(1, 0, 1, 0, 0, 0) + wire.encode_name("a"),        # no type and class
    wire.HEADER.pack(1, 0, 1, 0, 0, 1) + question("a") + b"\x00\x00\x29",   # an OPT record cut short
    wire.HEADER.pack(1, 0, 1, 0, 0, 999) + question("a"),              # more records than we read
])
def test_malformed_queries_are_refused(packet: bytes) -> None:
    with pytest.raises(wire.Malformed):
        wire.parse_query(packet)


def test_a_response_is_never_taken_for_a_query() -> None:
    parsed = wire.parse_query(query("web"))
    with pytest.raises(wire.Malformed) as caught:
        wire.parse_query(wire.build_reply(parsed, wire.NXDOMAIN))
    assert caught.value.header is None   # never answered: two resolvers cannot ping-pong


def test_a_dotted_label_is_never_a_plain_name() -> None:
    packet = wire.HEADER.pack(1, 0, 1, 0, 0, 0) + b"\x07web.abc\x00" + struct.pack("!HH", 1, 1)
    assert wire.parse_query(packet).name == "web\\.abc"


def test_relay_keeps_the_answer_and_takes_the_clients_id() -> None:
    parsed = wire.parse_query(query("example.org", ident=7))
    upstream = wire.build_reply(parsed, wire.NOERROR, ["192.0.2.1"] * 60)
    relayed = wire.relay(upstream, 99, 65535)
    assert wire.parse_answer(relayed).id == 99 and relayed[2:] == upstream[2:]
    cut = wire.parse_answer(wire.relay(upstream, 99, 512))
    assert cut.truncated and cut.addresses == () and cut.id == 99


def mutations(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    bases = [query("web"), query("a.b.c.example", wire.TYPE_AAAA, marked=True),
             wire.build_reply(wire.parse_query(query("web")), wire.NOERROR, ["10.0.0.1", "10.0.0.2"])]
    found = []
    for _i in range(count):
        data = bytearray(rng.choice(bases))
        for _edit in range(rng.randint(1, 6)):
            where = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.5:
                data[where] = rng.randrange(256)
            elif choice < 0.7:
                del data[where:]
                if not data:
                    data.append(0)
            elif choice < 0.85:
                data[where:where] = bytes(rng.randrange(256) for _i in range(rng.randint(1, 8)))
            else:
                data[where:where] = b"\xc0" + bytes([rng.randrange(256)])   # a pointer anywhere
        found.append(bytes(data))
    found += [bytes(rng.randrange(256) for _i in range(rng.randint(0, 600))) for _i in range(count // 4)]
    return found


def test_fuzzed_packets_end_as_malformed_or_parsed() -> None:
    for data in mutations(16, 6000):
        for parse in (wire.parse_query, wire.parse_answer):
            try:
                parsed = parse(data)
            except wire.Malformed:
                continue
            if isinstance(parsed, wire.Query):   # a query we take can be answered, whatever it holds
                wire.build_reply(parsed, wire.NXDOMAIN, limit=parsed.udp_size)
