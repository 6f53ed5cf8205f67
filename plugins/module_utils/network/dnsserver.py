"""The sockets of the overlay resolvers (resolver.py holds their logic): per
overlay network one ``Endpoint`` — UDP and TCP on the slice gateway, one
connected UDP socket per peer, one for the upstream nameservers — all
non-blocking in the container monitor's selector, and ``Resolvers``, the set
the monitor keeps and reloads from the network records.

Hostile input is expected here: every handler's failure is logged, never
raised into the monitor's loop; reads are bounded per turn; a TCP client
that sends no DNS framing, stays silent or does not read is dropped.
"""

from __future__ import annotations

import contextlib
import functools
import selectors
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import dnswire as wire
from .resolver import PORT, RELOAD_EVERY, Clock, Config, Names, Reply, Resolver, config_of, log_stderr

# -- the sockets -------------------------------------------------------------------------------------------
IP_FREEBIND = 15        # bind the slice gateway before its bridge holds it (the bridge may come later)
UDP_BURST = 64          # datagrams read per readiness event (the rest wait a turn: no starving the monitor)
MAX_TCP = 32            # TCP clients per network at once
TCP_IDLE = 10.0         # seconds a TCP client may stay silent
TCP_BUFFER = 1 << 17    # bytes of answers a TCP client may leave unread before it is dropped


class Source(Protocol):
    """What the resolvers read from the engine (monitor_host.RuntimeHost; a fake in unit tests)."""

    def dns_networks(self) -> list[dict[str, Any]]: ...
    def dns_names(self, network_id: str) -> Names: ...
    def dns_upstreams(self) -> tuple[list[str], list[str]]: ...


@dataclass(eq=False)
class _TcpClient:
    sock: socket.socket
    source: str
    seen: float
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    writing: bool = False
    closed: bool = False


class Endpoint:
    """One overlay network's sockets on this host, non-blocking, in the monitor's selector
    (registered as ``("dns", handler)``; the monitor calls ``handler(events)``)."""

    def __init__(self, config: Config, sel: selectors.BaseSelector, clock: Clock, names: Callable[[], Names],
                 upstreams: list[str], search: list[str], log: Callable[[str], None],
                 upstream_port: int = PORT) -> None:
        self.sel, self.clock, self.log, self.upstream_port = sel, clock, log, upstream_port
        self.resolver = Resolver(config, names, upstreams, clock, self, tuple(search), log)
        self.socks: list[socket.socket] = []
        self.peers: dict[str, socket.socket] = {}
        self.clients: set[_TcpClient] = set()
        self.connected: set[str] = set()   # peers whose socket is connected (no route yet: connect at a send)
        try:
            self.udp = self._bound(socket.SOCK_DGRAM, config.gateway, config.port)
            self.listener = self._bound(socket.SOCK_STREAM, config.gateway, config.port)
            self.listener.listen(64)
            self.upstream = self._socket(socket.SOCK_DGRAM)
            for peer in config.peers:   # connected: a peer with no resolver answers ECONNREFUSED at once
                sock = self._bound(socket.SOCK_DGRAM, config.gateway, 0)
                self.peers[peer] = sock
                self._watch(sock, self._peer_handler(peer, sock))
            self._watch(self.udp, self._on_udp)
            self._watch(self.listener, self._on_accept)
            self._watch(self.upstream, self._on_upstream)
        except BaseException:
            self.close()
            raise

    @property
    def config(self) -> Config:
        return self.resolver.config

    def _socket(self, kind: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, kind)
        self.socks.append(sock)
        sock.setblocking(False)
        return sock

    def _bound(self, kind: int, host: str, port: int) -> socket.socket:
        sock = self._socket(kind)
        sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        return sock

    def _watch(self, sock: socket.socket, handler: Callable[[int], None]) -> None:
        self.sel.register(sock, selectors.EVENT_READ, ("dns", self._guarded(handler)))

    def _guarded(self, handler: Callable[..., None]) -> Callable[..., None]:
        """Hostile input must never take the monitor down: whatever a handler raises is logged."""
        def run(*args: Any) -> None:
            try:
                handler(*args)
            except Exception as err:  # the loop serves every container of the host
                self.log(f"network {self.config.network}: {err!r}")
        return run

    # -- Wire (the resolver's queries out) ---------------------------------------------------------------
    def send_peer(self, peer: str, data: bytes) -> bool:
        if peer not in self.connected:
            try:
                self.peers[peer].connect((peer, self.config.port))
            except OSError:
                return False   # no route to its slice (yet): it counts as not knowing the name
            self.connected.add(peer)
        for _attempt in range(2):   # a refusal from an earlier ICMP is reported once, on this send: retry
            try:
                self.peers[peer].send(data)
                return True
            except ConnectionRefusedError:
                continue
            except OSError:
                return False
        return False

    def send_upstream(self, server: str, data: bytes) -> bool:
        try:
            self.upstream.sendto(data, (server, self.upstream_port))
            return True
        except OSError:
            return False

    # -- readable sockets ------------------------------------------------------------------------------
    def _on_udp(self, _events: int = selectors.EVENT_READ) -> None:
        for _burst in range(UDP_BURST):
            try:
                data, address = self.udp.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue
            self.resolver.query(data, address[0], self._udp_reply(address))

    def _udp_reply(self, address: tuple[str, int]) -> Reply:
        def send(data: bytes) -> None:
            with contextlib.suppress(OSError):   # the client went away
                self.udp.sendto(data, address)
        return send

    def _peer_handler(self, peer: str, sock: socket.socket) -> Callable[[int], None]:
        def readable(_events: int = selectors.EVENT_READ) -> None:
            for _burst in range(UDP_BURST):
                try:
                    data = sock.recv(4096)
                except (BlockingIOError, InterruptedError):
                    return
                except ConnectionRefusedError:
                    self.resolver.peer_refused(peer)
                    continue
                self.resolver.peer_answer(peer, data)
        return readable

    def _on_upstream(self, _events: int = selectors.EVENT_READ) -> None:
        for _burst in range(UDP_BURST):
            try:
                data, address = self.upstream.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue
            if address[1] == self.upstream_port:
                self.resolver.upstream_answer(address[0], data)

    # -- TCP clients (a truncated answer's retry) ------------------------------------------------------------
    def _on_accept(self, _events: int = selectors.EVENT_READ) -> None:
        try:
            conn, address = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        if len(self.clients) >= MAX_TCP:
            conn.close()
            return
        conn.setblocking(False)
        client = _TcpClient(conn, address[0], self.clock.monotonic())
        self.clients.add(client)
        self.sel.register(conn, selectors.EVENT_READ, ("dns", self._guarded(self._tcp_handler(client))))

    def _tcp_handler(self, client: _TcpClient) -> Callable[[int], None]:
        def ready(events: int = selectors.EVENT_READ) -> None:
            if events & selectors.EVENT_WRITE:
                self._flush(client)
            if events & selectors.EVENT_READ and not client.closed:
                self._tcp_read(client)
        return ready

    def _tcp_read(self, client: _TcpClient) -> None:
        try:
            chunk = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(client)
            return
        client.seen = self.clock.monotonic()
        client.inbuf += chunk
        while len(client.inbuf) >= 2 and not client.closed:
            size = int.from_bytes(client.inbuf[:2], "big")
            if size < wire.HEADER.size:
                self._drop(client)   # not a DNS message: no way to find the next one
                return
            if len(client.inbuf) < 2 + size:
                return
            message = bytes(client.inbuf[2:2 + size])
            del client.inbuf[:2 + size]
            self.resolver.query(message, client.source, self._tcp_reply(client), tcp=True)

    def _tcp_reply(self, client: _TcpClient) -> Reply:
        def send(data: bytes) -> None:
            if not client.closed:
                client.outbuf += len(data).to_bytes(2, "big") + data
                self._flush(client)
        return send

    def _flush(self, client: _TcpClient) -> None:
        try:
            sent = client.sock.send(client.outbuf) if client.outbuf else 0
            del client.outbuf[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._drop(client)
            return
        if len(client.outbuf) > TCP_BUFFER:
            self._drop(client)   # it does not read its answers
            return
        writing = bool(client.outbuf)
        if writing != client.writing:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if writing else 0)
            self.sel.modify(client.sock, events, self.sel.get_key(client.sock).data)
            client.writing = writing

    def _drop(self, client: _TcpClient) -> None:
        if client.closed:
            return
        client.closed = True
        self.clients.discard(client)
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(client.sock)
        client.sock.close()

    # -- time, and the end ----------------------------------------------------------------------------------
    def deadlines(self) -> list[float]:
        return [*self.resolver.deadlines(), *(client.seen + TCP_IDLE for client in self.clients)]

    def timers(self) -> None:
        self.resolver.timers()
        clock = self.clock.monotonic()
        for client in [c for c in self.clients if c.seen + TCP_IDLE <= clock]:
            self._drop(client)

    def close(self) -> None:
        if self.socks and hasattr(self, "udp"):
            self.resolver.close()
        for client in list(self.clients):
            self._drop(client)
        for sock in self.socks:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(sock)
            sock.close()
        self.socks.clear()


class Resolvers:
    """The monitor's resolvers: one Endpoint per overlay network the records hold on this host."""

    def __init__(self, sel: selectors.BaseSelector, clock: Clock, source: Source | None,
                 log: Callable[[str], None] | None = None, *, port: int = PORT, upstream_port: int = PORT) -> None:
        self.sel, self.clock, self.source = sel, clock, source
        self.log = log or log_stderr
        self.port, self.upstream_port = port, upstream_port
        self.endpoints: dict[str, Endpoint] = {}   # network id -> its endpoint
        self.failed: dict[str, str] = {}           # network name -> why it does not serve
        self.next_reload: float | None = None
        self.seen: set[str] = set()                # network ids the last reload read (overlay or not)

    def reload(self) -> dict[str, list[str]]:
        """Serve exactly the overlay networks the records hold now (a changed one is served anew)."""
        if self.source is None:
            return self.status()
        self.next_reload = self.clock.monotonic() + RELOAD_EVERY
        try:
            records = self.source.dns_networks()
            upstreams, search = self.source.dns_upstreams()
        except Exception as err:  # keep serving what serves; the next reload tries again
            self.log(f"reading the overlay networks: {err!r}")
            return self.status()
        self.seen = {str(r.get("id")) for r in records}
        wanted = {c.network_id: c for c in (config_of(r, self.port) for r in records) if c is not None}
        for network_id, endpoint in list(self.endpoints.items()):
            if wanted.get(network_id) != endpoint.config:
                endpoint.close()
                del self.endpoints[network_id]
        self.failed = {}
        for network_id, config in wanted.items():
            endpoint = self.endpoints.get(network_id)
            if endpoint is not None:
                endpoint.resolver.set_upstreams(upstreams, search)
                continue
            try:
                names = functools.partial(self.source.dns_names, network_id)
                self.endpoints[network_id] = Endpoint(config, self.sel, self.clock, names, upstreams, search,
                                                      self.log, self.upstream_port)
            except OSError as err:
                self.failed[config.network] = f"{config.gateway}:{config.port}: {err.strerror or err}"
        return self.status()

    def status(self) -> dict[str, list[str]]:
        serving = [f"{e.config.network} {e.config.gateway}:{e.config.port}" for e in self.endpoints.values()]
        return {"serving": sorted(serving), "failed": sorted(f"{n}: {why}" for n, why in self.failed.items())}

    def invalidate(self) -> None:
        """A container of this host started or stopped: the next lookup reads the records again."""
        for endpoint in self.endpoints.values():
            endpoint.resolver.invalidate()

    def joined(self, network_ids: list[str]) -> None:
        """A container of this host started on these networks: a network the last reload did not see (created
        since, its reload request lost) is served now, and the names are read again at the next lookup."""
        self.invalidate()
        if self.source is not None and any(n not in self.seen for n in network_ids):
            self.reload()

    def deadlines(self) -> list[float]:
        found = [when for endpoint in self.endpoints.values() for when in endpoint.deadlines()]
        return found if self.next_reload is None else [*found, self.next_reload]

    def timers(self) -> None:
        if self.next_reload is not None and self.clock.monotonic() >= self.next_reload:
            self.reload()
        for endpoint in list(self.endpoints.values()):
            endpoint.timers()

    def close(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.close()
        self.endpoints.clear()
