"""Names on overlay networks: one small DNS resolver per overlay network per
host, served by the container monitor on ``<this host's slice gateway>:53``
(UDP and TCP) — the address containers on that network have as their first
nameserver.

What it answers, for a query from a container:

1. a name or alias of a container of THIS host running on the network
   (also ``<name>.<network>`` and ``<name>.<search domain>``): its addresses,
   from the container records (``names``), re-read at most every
   ``NAMES_TTL`` seconds and at once when the monitor starts or stops one;
2. otherwise it asks every peer's resolver (their slice gateways, from the
   network record's ``overlay.slices``) in parallel, with a query marked by an
   EDNS option so a peer answers only its own names and never forwards
   (one round, no loops). The first positive answer wins; a peer that does
   not answer within ``PEER_TIMEOUT`` counts as not knowing the name;
3. otherwise it forwards to the host's nameservers (one after the other),
   or answers NXDOMAIN (SERVFAIL when a peer did not answer) when there are none.

Nothing is cached beyond ``NAMES_TTL`` and answers carry a TTL of 1 s, so
when ``web`` is recreated on host A with a new address, lookups on host B
follow within about a second, without anything run on B: each host answers
for its own containers, the inventory's peers list is the only shared state.

The logic (``Resolver``) is sans-IO and reads an injected clock, so it is
unit-tested with fake sockets; ``Endpoint`` is the sockets of one network,
non-blocking in the monitor's selector (a lookup never blocks the monitor's
loop: forwarded queries end on a timer) and ``Resolvers`` the set the monitor
keeps, reloaded from the network records (both in dnsserver.py).
"""

from __future__ import annotations

import random
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, ip_address
from typing import Any, Protocol

from . import dnswire as wire

PORT = 53
PEER_TIMEOUT = 0.3      # seconds a peer has to answer before it counts as not knowing the name
UPSTREAM_TIMEOUT = 1.5  # seconds per upstream nameserver
NAMES_TTL = 1.0         # seconds the local name table is reused (the whole cache)
ANSWER_TTL = 1
MAX_PENDING = 512       # queries in flight per network; past that SERVFAIL at once
RELOAD_EVERY = 10.0     # seconds between re-reads of the network records (a missed reload request heals)
ANY_TYPE = 255
_RANDOM = random.SystemRandom()   # transaction ids of our queries: not guessable by a spoofer

Reply = Callable[[bytes], None]
Names = dict[str, list[str]]   # lower-case name -> IPv4 addresses


@dataclass(frozen=True)
class Config:
    network: str
    network_id: str
    gateway: str                 # this host's slice gateway: where the resolver listens
    peers: tuple[str, ...]       # every other host's slice gateway
    subnet: str                  # the network's whole address space: who may ask for recursion
    port: int = PORT


def slice_gateway(subnet: str) -> str:
    """The first host address of a slice (held by the network's local bridge)."""
    network = IPv4Network(subnet, strict=False)
    return str(network.network_address + 1)


def config_of(record: dict[str, Any], port: int = PORT) -> Config | None:
    """The resolver an overlay network's record asks for on this host (None: not an overlay network)."""
    overlay = record.get("overlay")
    if record.get("driver") != "overlay" or not isinstance(overlay, dict) or not overlay.get("host_subnet"):
        return None
    gateway = slice_gateway(overlay["host_subnet"])
    slices = overlay.get("slices") or {}
    peers = sorted({slice_gateway(s) for host, s in slices.items() if host != overlay.get("local_address")} - {gateway},
                   key=IPv4Address)
    return Config(network=record["name"], network_id=record["id"], gateway=gateway, peers=tuple(peers),
                  subnet=str(record.get("subnet") or overlay["host_subnet"]), port=port)


def host_resolvers(resolv_conf: str, upstream_conf: str = "") -> tuple[list[str], list[str]]:
    """(nameservers, search domains) of the host. The monitor runs in the host's network namespace, so a
    loopback resolver (systemd-resolved's 127.0.0.53) answers it too; the non-loopback ones come first."""
    servers, search = [], []
    for text in (resolv_conf, upstream_conf):
        for line in text.splitlines():
            words = line.split()
            if len(words) > 1 and words[0] == "nameserver" and words[1] not in servers:
                servers.append(words[1])
            elif words and words[0] in ("search", "domain") and text is resolv_conf:
                search.extend(w.lower().rstrip(".") for w in words[1:] if w.rstrip("."))
    ipv4 = [s for s in servers if _ipv4(s)]
    return sorted(ipv4, key=lambda s: ip_address(s).is_loopback), search


def _ipv4(text: str) -> bool:
    try:
        return ip_address(text).version == 4
    except ValueError:
        return False


class Clock(Protocol):
    def monotonic(self) -> float: ...


class Wire(Protocol):
    """Where a Resolver's own queries go (Endpoint; a fake in unit tests). False: could not send."""

    def send_peer(self, peer: str, data: bytes) -> bool: ...
    def send_upstream(self, server: str, data: bytes) -> bool: ...


@dataclass
class Pending:
    """One client query we asked others about."""

    query: wire.Query
    reply: Reply
    limit: int
    ident: int
    deadline: float
    waiting: set[str] = field(default_factory=set)   # peers not answered yet
    silent: bool = False                             # a peer did not answer in time
    upstream: int = -1                               # index of the upstream asked (-1: the peers' round)


class Resolver:
    def __init__(self, config: Config, names: Callable[[], Names], upstreams: list[str], clock: Clock,
                 out: Wire, search: tuple[str, ...] = (), log: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.names = names
        self.clock = clock
        self.out = out
        self.set_upstreams(upstreams, list(search))
        self.log = log or log_stderr
        self.subnet = IPv4Network(config.subnet, strict=False)
        self.pending: dict[int, Pending] = {}
        self._table: Names = {}
        self._loaded: float | None = None

    def set_upstreams(self, upstreams: list[str], search: list[str]) -> None:
        """The host's nameservers (never a resolver of ours: no loops) and its search domains."""
        self.upstreams = [s for s in upstreams if s != self.config.gateway and s not in self.config.peers]
        self.suffixes = tuple(dict.fromkeys([self.config.network.lower(), *search]))

    # -- the local names -----------------------------------------------------------------------
    def invalidate(self) -> None:
        self._loaded = None

    def table(self) -> Names:
        clock = self.clock.monotonic()
        if self._loaded is None or clock - self._loaded >= NAMES_TTL:
            try:
                self._table = {name.lower(): list(ips) for name, ips in self.names().items()}
            except Exception as err:  # the last table serves on; the monitor must not die of it
                self.log(f"names of network {self.config.network}: {err!r}")
            self._loaded = clock
        return self._table

    def local(self, name: str) -> list[str] | None:
        table = self.table()
        if name in table:
            return table[name]
        for suffix in self.suffixes:
            if name.endswith("." + suffix) and name[: -len(suffix) - 1] in table:
                return table[name[: -len(suffix) - 1]]
        return None

    # -- a client's query ------------------------------------------------------------------------
    def query(self, data: bytes, source: str, reply: Reply, *, tcp: bool = False) -> None:
        try:
            query = wire.parse_query(data)
        except wire.Malformed as err:
            if err.header is not None:   # readable enough to answer; anything else is dropped
                opcode = err.header[1] & wire.OPCODE_MASK
                reply(wire.error_reply(err.header, wire.NOTIMP if opcode else wire.FORMERR))
            return
        limit = 65535 if tcp else query.udp_size
        if query.qclass not in (wire.CLASS_IN, ANY_TYPE):
            reply(wire.build_reply(query, wire.REFUSED, limit=limit))
            return
        addresses = self.local(query.name)
        if addresses is not None:
            reply(self._positive(query, addresses, limit, trim=query.marked))
        elif query.marked:   # a peer asks for our own names only
            reply(wire.build_reply(query, wire.NXDOMAIN, limit=limit))
        elif not self._inside(source):
            reply(wire.build_reply(query, wire.REFUSED, limit=limit))   # not an open resolver for the host
        elif len(self.pending) >= MAX_PENDING:
            reply(wire.build_reply(query, wire.SERVFAIL, limit=limit))
        else:
            self._ask_peers(query, reply, limit)

    def _positive(self, query: wire.Query, addresses: list[str] | tuple[str, ...], limit: int, *,
                  trim: bool = False) -> bytes:
        """A known name: its A records; for AAAA and the rest an empty NOERROR (no stall waiting for IPv6).
        To a peer (``trim``) as many as fit one datagram: a positive answer, never a truncated one."""
        shown = addresses if query.qtype in (wire.TYPE_A, ANY_TYPE) else ()
        return wire.build_reply(query, wire.NOERROR, tuple(shown), ttl=ANSWER_TTL, limit=limit, trim=trim)

    def _inside(self, source: str) -> bool:
        try:
            return ip_address(source) in self.subnet
        except ValueError:
            return False

    def _new_id(self) -> int:
        while True:
            ident = _RANDOM.randrange(1 << 16)
            if ident not in self.pending:
                return ident

    def _ask_peers(self, query: wire.Query, reply: Reply, limit: int) -> None:
        pending = Pending(query=query, reply=reply, limit=limit, ident=self._new_id(),
                          deadline=self.clock.monotonic() + PEER_TIMEOUT)
        self.pending[pending.ident] = pending
        reverse = query.name.endswith((".in-addr.arpa", ".ip6.arpa"))
        if self.config.peers and not reverse:
            marked = wire.build_query(pending.ident, query.question, recursion=False, marked=True)
            pending.waiting = {peer for peer in self.config.peers if self.out.send_peer(peer, marked)}
        if not pending.waiting:
            self._next_upstream(pending)

    def _next_upstream(self, pending: Pending) -> None:
        pending.upstream += 1
        pending.waiting.clear()
        while pending.upstream < len(self.upstreams):
            server = self.upstreams[pending.upstream]
            data = wire.build_query(pending.ident, pending.query.question,
                                    recursion=bool(pending.query.flags & wire.RD), marked=False)
            if self.out.send_upstream(server, data):
                pending.deadline = self.clock.monotonic() + UPSTREAM_TIMEOUT
                return
            pending.upstream += 1
        asked = pending.upstream > 0   # an upstream was asked and failed: the name may exist
        rcode = wire.SERVFAIL if pending.silent or asked else wire.NXDOMAIN
        self._finish(pending, wire.build_reply(pending.query, rcode, limit=pending.limit))

    def _finish(self, pending: Pending, data: bytes) -> None:
        self.pending.pop(pending.ident, None)
        pending.reply(data)

    # -- their answers -----------------------------------------------------------------------------
    def _matching(self, data: bytes) -> tuple[Pending, wire.Answer] | None:
        try:
            answer = wire.parse_answer(data)
        except wire.Malformed:
            return None
        pending = self.pending.get(answer.id)
        if pending is None or not wire.same_question(answer.question, pending.query.question):
            return None
        return pending, answer

    def peer_answer(self, peer: str, data: bytes) -> None:
        found = self._matching(data)
        if found is None:
            return
        pending, answer = found
        if pending.upstream >= 0 or peer not in pending.waiting:
            return   # late, or not from a peer we asked
        if answer.rcode == wire.NOERROR and not answer.truncated:
            self._finish(pending, self._positive(pending.query, answer.addresses, pending.limit))
            return
        self._peer_done(pending, peer)

    def peer_refused(self, peer: str) -> None:
        """The peer's host has no resolver listening (ICMP port unreachable): it knows no name."""
        for pending in list(self.pending.values()):
            if pending.upstream < 0 and peer in pending.waiting:
                self._peer_done(pending, peer)

    def _peer_done(self, pending: Pending, peer: str) -> None:
        pending.waiting.discard(peer)
        if not pending.waiting:
            self._next_upstream(pending)

    def upstream_answer(self, server: str, data: bytes) -> None:
        found = self._matching(data)
        if found is None:
            return
        pending, _answer = found
        if pending.upstream < 0 or self.upstreams[pending.upstream] != server:
            return
        try:
            relayed = wire.relay(data, pending.query.id, pending.limit)
        except (wire.Malformed, struct.error):
            return
        self._finish(pending, relayed)

    # -- time -----------------------------------------------------------------------------------------
    def deadlines(self) -> list[float]:
        return [pending.deadline for pending in self.pending.values()]

    def timers(self) -> None:
        clock = self.clock.monotonic()
        for pending in [p for p in self.pending.values() if p.deadline <= clock]:
            if pending.upstream < 0:
                pending.silent = True
            self._next_upstream(pending)

    def close(self) -> None:
        """Queries still in flight get SERVFAIL (the network went, or the monitor stops)."""
        for pending in list(self.pending.values()):
            self._finish(pending, wire.build_reply(pending.query, wire.SERVFAIL, limit=pending.limit))


def log_stderr(message: str) -> None:
    sys.stderr.write(f"berth monitor: dns: {message}\n")
