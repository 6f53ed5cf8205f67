"""The DNS wire format, as much as the overlay resolver (resolver.py) needs:
read a query, build an answer, build the queries it sends to its peers and
upstream, and read their answers. Standard library only (no dnspython).

Everything here reads hostile bytes: a container, or anything that reaches a
slice gateway, may send anything. So every read is bounded (names ≤ 255
bytes, labels ≤ 63, compression pointers only backwards, a fixed number of
records), and any malformed packet raises ``Malformed`` (a ValueError) —
never IndexError or struct.error — which the resolver answers with FORMERR
when the header was readable and ignores otherwise.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER = struct.Struct("!HHHHHH")
RR_FIXED = struct.Struct("!HHIH")    # type, class, ttl, rdlength
QR, AA, TC, RD, RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080
OPCODE_MASK, RCODE_MASK = 0x7800, 0x000F
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
TYPE_A, TYPE_AAAA, TYPE_OPT = 1, 28, 41
CLASS_IN = 1
MAX_NAME = 255
MAX_LABEL = 63
MAX_RECORDS = 64          # records a query may hold; more is not a query we take
MAX_ANSWERS = 1024        # A records read from an answer (each costs >= 16 bytes of it anyway)
UDP_PLAIN = 512           # a UDP answer's limit without EDNS
UDP_OURS = 1232           # the payload size we advertise (the DNS flag day's)
# An EDNS option (code in the local/experimental range 65001-65534) on the queries one berth resolver
# sends another: "answer only the names of your own containers". A peer never forwards a marked query,
# so a lookup costs one round to the peers and can never loop between hosts.
MARK_OPTION = 65287


class Malformed(ValueError):
    """Not a DNS message we take. ``header``: (id, flags) when those were readable (then FORMERR)."""

    def __init__(self, why: str, header: tuple[int, int] | None = None) -> None:
        super().__init__(why)
        self.header = header


@dataclass(frozen=True)
class Query:
    id: int
    flags: int
    name: str            # lower case, no trailing dot; a label holding a dot is escaped (never one of ours)
    qtype: int
    qclass: int
    question: bytes      # the question section as the client sent it (echoed in the answer)
    udp_size: int        # the largest UDP answer the client takes
    edns: bool
    marked: bool         # sent by a peer's resolver: answer own names only


@dataclass(frozen=True)
class Answer:
    id: int
    rcode: int
    truncated: bool
    question: bytes
    addresses: tuple[str, ...]   # the A records' addresses


def read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` and the offset after it (after its first pointer, if compressed)."""
    labels: list[str] = []
    length, end, cursor = 1, None, offset
    while True:
        if cursor >= len(data):
            raise Malformed("a name runs past the message")
        size = data[cursor]
        if size & 0xC0 == 0xC0:
            if cursor + 1 >= len(data):
                raise Malformed("a compression pointer runs past the message")
            target = ((size & 0x3F) << 8) | data[cursor + 1]
            if target >= cursor:   # only backwards: no loop, and each jump shortens what is left
                raise Malformed("a compression pointer points forwards")
            end = cursor + 2 if end is None else end
            cursor = target
            continue
        if size & 0xC0:
            raise Malformed("an extended label type")
        cursor += 1
        if size == 0:
            return ".".join(labels), (cursor if end is None else end)
        if size > MAX_LABEL or cursor + size > len(data):
            raise Malformed("a label is too long or runs past the message")
        length += size + 1
        if length > MAX_NAME:
            raise Malformed("a name is longer than 255 bytes")
        label = data[cursor:cursor + size].decode("latin-1").lower()
        labels.append(label.replace("\\", "\\\\").replace(".", "\\."))
        cursor += size


def encode_name(name: str) -> bytes:
    """A plain dotted name (ours: ASCII, no escapes) in wire form."""
    out = bytearray()
    for label in name.rstrip(".").split(".") if name.strip(".") else []:
        raw = label.encode("ascii")
        if not raw or len(raw) > MAX_LABEL:
            raise Malformed(f"cannot encode name {name!r}")
        out += bytes([len(raw)]) + raw
    out += b"\0"
    if len(out) > MAX_NAME:
        raise Malformed(f"cannot encode name {name!r}")
    return bytes(out)


def _header(data: bytes) -> tuple[int, ...]:
    if len(data) < HEADER.size:
        raise Malformed("shorter than a DNS header")
    return HEADER.unpack_from(data)


def _skip_record(data: bytes, offset: int) -> tuple[int, int, bytes, int]:
    """(type, class, rdata, offset after) of the resource record at ``offset``."""
    _name, offset = read_name(data, offset)
    if offset + RR_FIXED.size > len(data):
        raise Malformed("a record runs past the message")
    rtype, rclass, _ttl, size = RR_FIXED.unpack_from(data, offset)
    offset += RR_FIXED.size
    if offset + size > len(data):
        raise Malformed("a record's data runs past the message")
    return rtype, rclass, data[offset:offset + size], offset + size


def _question(data: bytes, header: tuple[int, int]) -> tuple[str, int, int, int]:
    try:
        name, offset = read_name(data, HEADER.size)
    except Malformed as err:
        raise Malformed(str(err), header) from None
    if offset + 4 > len(data):
        raise Malformed("the question runs past the message", header)
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    return name, qtype, qclass, offset + 4


def parse_query(data: bytes) -> Query:
    """The query in ``data``; Malformed otherwise (a response is Malformed without header: never answered)."""
    ident, flags, qdcount, ancount, nscount, arcount = _header(data)
    if flags & QR:
        raise Malformed("a response, not a query")
    header = (ident, flags)
    if flags & OPCODE_MASK:
        raise Malformed("not a standard query", header)
    if qdcount != 1:
        raise Malformed("not exactly one question", header)
    if ancount + nscount + arcount > MAX_RECORDS:
        raise Malformed("too many records", header)
    name, qtype, qclass, offset = _question(data, header)
    question = data[HEADER.size:offset]
    udp_size, edns, marked = UDP_PLAIN, False, False
    try:
        for index in range(ancount + nscount + arcount):
            rtype, rclass, rdata, offset = _skip_record(data, offset)
            if rtype == TYPE_OPT and index >= ancount + nscount:
                edns, udp_size = True, max(UDP_PLAIN, min(rclass, UDP_OURS))
                marked = marked or MARK_OPTION in _options(rdata)
    except Malformed as err:
        raise Malformed(str(err), header) from None
    return Query(id=ident, flags=flags, name=name, qtype=qtype, qclass=qclass, question=question,
                 udp_size=udp_size, edns=edns, marked=marked)


def _options(rdata: bytes) -> set[int]:
    codes, offset = set(), 0
    while offset + 4 <= len(rdata):
        code, size = struct.unpack_from("!HH", rdata, offset)
        codes.add(code)
        offset += 4 + size
    return codes


def parse_answer(data: bytes) -> Answer:
    """A peer's or an upstream's answer: its rcode and A addresses; Malformed otherwise."""
    ident, flags, qdcount, ancount, _nscount, _arcount = _header(data)
    if not flags & QR or qdcount != 1 or ancount > MAX_ANSWERS:
        raise Malformed("not an answer to one question")
    _name, _qtype, _qclass, offset = _question(data, (ident, flags))
    question = data[HEADER.size:offset]
    addresses = []
    for _index in range(ancount):
        rtype, rclass, rdata, offset = _skip_record(data, offset)
        if rtype == TYPE_A and rclass == CLASS_IN and len(rdata) == 4:
            addresses.append(".".join(str(byte) for byte in rdata))
    return Answer(id=ident, rcode=flags & RCODE_MASK, truncated=bool(flags & TC), question=question,
                  addresses=tuple(addresses))


def same_question(one: bytes, other: bytes) -> bool:
    """DNS names compare case-insensitively (0x20 randomisation may change the case)."""
    return one.lower() == other.lower()


def _opt(marked: bool) -> bytes:
    rdata = struct.pack("!HH", MARK_OPTION, 0) if marked else b""
    return b"\0" + RR_FIXED.pack(TYPE_OPT, UDP_OURS, 0, len(rdata)) + rdata


def build_query(ident: int, question: bytes, *, recursion: bool, marked: bool) -> bytes:
    """A fresh query for ``question`` (never the client's bytes relayed: only what we parsed leaves us)."""
    flags = RD if recursion else 0
    return HEADER.pack(ident, flags, 1, 0, 0, 1) + question + _opt(marked)


def build_reply(query: Query, rcode: int, addresses: tuple[str, ...] | list[str] = (), *, ttl: int = 1,
                limit: int | None = None, trim: bool = False) -> bytes:
    """Our answer to ``query``: authoritative, the A records given (none for an error), and
    TC with no records when they do not fit ``limit`` (the client then asks over TCP) — or, with
    ``trim``, as many records as fit (a peer's answer to a peer: some addresses of a shared alias)."""
    if trim and limit is not None:
        room = (limit - HEADER.size - len(query.question) - (11 if query.edns else 0)) // 16
        addresses = tuple(addresses)[:max(0, room)]
    records = b"".join(b"\xc0\x0c" + RR_FIXED.pack(TYPE_A, CLASS_IN, ttl, 4) + bytes(int(p) for p in a.split("."))
                       for a in addresses)
    opt = _opt(False) if query.edns else b""
    flags = QR | AA | RA | (query.flags & RD) | rcode
    body = query.question + records + opt
    if limit is not None and HEADER.size + len(body) > limit:
        flags |= TC
        return HEADER.pack(query.id, flags, 1, 0, 0, 1 if opt else 0) + query.question + opt
    return HEADER.pack(query.id, flags, 1, len(addresses), 0, 1 if opt else 0) + body


def error_reply(header: tuple[int, int], rcode: int) -> bytes:
    """An answer with no question (a message too broken to echo its question): FORMERR, NOTIMP."""
    ident, flags = header
    return HEADER.pack(ident, QR | RA | (flags & (RD | OPCODE_MASK)) | rcode, 0, 0, 0, 0)


def relay(data: bytes, ident: int, limit: int) -> bytes:
    """An upstream's answer handed to our client: its id, and cut to TC when too big for the client's UDP."""
    if len(data) > limit:
        _ident, flags, qdcount, *_rest = HEADER.unpack_from(data)
        _name, offset = read_name(data, HEADER.size)
        return HEADER.pack(ident, flags | TC, qdcount, 0, 0, 0) + data[HEADER.size:offset + 4]
    return struct.pack("!H", ident) + data[2:]
