"""The monitor's overlay resolvers and its engine digest, against the fake
host (records in a dict) with real sockets on loopback: a Reload serves the
overlay networks the records hold, a started container's names are answered
at once and go when it exits, a removed network's sockets go, resolvers never
keep an idle monitor alive; Ping carries the digest and monitor_skew words a
difference; reload_resolvers never spawns a monitor."""

from __future__ import annotations

import dataclasses
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.containers import monitor_client, protocol
from ansible_collections.berth.engine.plugins.module_utils.containers.monitor import IDLE_EXIT, Monitor
from ansible_collections.berth.engine.plugins.module_utils.containers.watch import Facts, Launched
from ansible_collections.berth.engine.plugins.module_utils.network import dnswire as wire
from ansible_collections.berth.engine.plugins.module_utils.network.dnsserver import Resolvers
from tests.support.fake_monitor import Answers, FakeClock, FakeHost
from tests.unit.network.test_resolver_sockets import free_port
from tests.unit.network.test_resolver_wire import query

SHOP = {"id": "n1", "name": "shop", "driver": "overlay", "subnet": "127.0.0.0/8",
        "overlay": {"local_address": "192.0.2.1", "host_subnet": "127.0.0.0/24",
                    "slices": {"192.0.2.1": "127.0.0.0/24", "192.0.2.2": "127.0.9.0/24"}}}


class DnsHost(FakeHost):
    """The fake host, plus what the resolvers read (monitor_host.RuntimeHost's dns_* methods)."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.networks: list[dict[str, Any]] = [SHOP, {"id": "b1", "name": "plain", "driver": "bridge"}]
        self.network_reads = 0

    def dns_networks(self) -> list[dict[str, Any]]:
        self.network_reads += 1
        return self.networks

    def dns_names(self, network_id: str) -> dict[str, list[str]]:
        names: dict[str, list[str]] = {}
        for record in self.records.values():
            if record["state"]["status"] != "running":
                continue
            for item in (record["state"].get("networks") or {}).values():
                if item["network_id"] == network_id:
                    for name in (record["name"], *item["aliases"]):
                        names.setdefault(name, []).append(item["ip"])
        return names

    def dns_upstreams(self) -> tuple[list[str], list[str]]:
        return [], []

    def launch(self, facts: Facts) -> Launched:
        launched = super().launch(facts)
        networks = {"shop": {"network_id": "n1", "ip": f"10.240.0.{launched.pid % 250}", "aliases": ["api"]}}
        return dataclasses.replace(launched, networks=networks)


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.clock = FakeClock()
        self.host = DnsHost(tmp)
        self.monitor = Monitor(self.host, self.clock, digest="d" * 64)
        self.port = free_port()
        self.monitor.dns = Resolvers(self.monitor.sel, self.clock, self.host, print, port=self.port,
                                     upstream_port=self.port)

    def ask(self, request: Any) -> Answers:
        answers = Answers()
        self.monitor.request(request, answers)
        return answers

    def lookup(self, name: str, **kwargs: Any) -> wire.Answer:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.setblocking(False)
            client.sendto(query(name, **kwargs), ("127.0.0.1", self.port))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                self.monitor.step(0.01)
                try:
                    return wire.parse_answer(client.recv(4096))
                except BlockingIOError:
                    continue
        raise AssertionError(f"no answer for {name}")

    def dns_keys(self) -> list[Any]:
        return [key for key in self.monitor.sel.get_map().values() if key.data[0] == "dns"]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.monitor.dns.close()
    for watch in list(made.monitor.watches.values()):
        made.monitor._forget(watch, force=True)
    made.host.close()
    assert not made.dns_keys()


def test_reload_serves_the_overlay_networks(rig: Rig) -> None:
    (reply,) = rig.ask(protocol.Reload())
    assert reply == protocol.Resolving(serving=[f"shop 127.0.0.1:{rig.port}"], failed=[])
    answers = Answers()
    rig.monitor.handle_line(b'{"op": "reload"}', answers)
    assert isinstance(answers[0], protocol.Resolving) and rig.dns_keys()


def test_a_started_containers_names_are_answered_and_go_with_it(rig: Rig) -> None:
    rig.ask(protocol.Reload())
    rig.host.add("c1")
    (started,) = rig.ask(protocol.Start(id="c1"))
    ip = f"10.240.0.{started.pid % 250}"
    assert rig.lookup("name-c1").addresses == (ip,)
    assert rig.lookup("api.shop").addresses == (ip,)
    assert rig.lookup("api", qtype=wire.TYPE_AAAA).rcode == wire.NOERROR
    rig.host.exit(started.pid, 0)
    rig.monitor.step(0)
    assert rig.host.state("c1")["status"] == "exited"
    assert rig.lookup("name-c1", marked=True).rcode == wire.NXDOMAIN, "gone at once, not a NAMES_TTL later"


def test_a_container_on_a_network_not_served_yet_reloads(rig: Rig) -> None:
    rig.host.networks = []
    rig.ask(protocol.Reload())
    assert not rig.dns_keys()
    rig.host.networks = [SHOP]   # created since; its Reload request never came
    rig.host.add("c1")
    rig.ask(protocol.Start(id="c1"))
    assert rig.dns_keys() and rig.lookup("api").rcode == wire.NOERROR
    reads = rig.host.network_reads
    rig.host.add("c2")
    rig.ask(protocol.Start(id="c2"))
    assert rig.host.network_reads == reads, "a known network costs no re-read"


def test_a_removed_network_stops_its_resolver(rig: Rig) -> None:
    rig.ask(protocol.Reload())
    rig.host.networks = []
    (reply,) = rig.ask(protocol.Reload())
    assert reply == protocol.Resolving(serving=[], failed=[]) and not rig.dns_keys()


def test_resolvers_do_not_keep_an_idle_monitor(rig: Rig) -> None:
    rig.ask(protocol.Reload())
    rig.clock.advance(IDLE_EXIT + 0.1)
    assert rig.monitor.idle()


def test_the_monitor_rereads_the_networks_on_a_timer(rig: Rig) -> None:
    rig.ask(protocol.Reload())
    rig.host.networks = []
    rig.clock.advance(11)
    rig.monitor.step(0)
    assert not rig.dns_keys()


def test_ping_carries_the_digest(rig: Rig) -> None:
    (reply,) = rig.ask(protocol.Ping())
    assert reply.digest == "d" * 64
    old = protocol.decode_reply(b'{"reply": "pong", "pid": 5}')
    assert old == protocol.Pong(pid=5, digest="")


class Engine:
    class layout:   # the shape of Engine.layout
        state_root = "/state"
        run_root = "/run/x"


def fake_monitor(monkeypatch: pytest.MonkeyPatch, reply: Any, alive: bool = True) -> list[Any]:
    asked: list[Any] = []

    def call(_self: Any, request: Any, timeout: float = 0) -> Any:
        asked.append(request)
        if isinstance(reply, Exception):
            raise reply
        return reply
    monkeypatch.setattr(monitor_client.MonitorClient, "alive", lambda _self: alive)
    monkeypatch.setattr(monitor_client.MonitorClient, "call", call)
    return asked


def test_monitor_skew_names_both_engines_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_monitor(monkeypatch, protocol.Pong(pid=42, digest="a" * 64))
    assert monitor_client.monitor_skew(Engine, "a" * 64) is None
    warning = monitor_client.monitor_skew(Engine, "b" * 64)
    assert warning is not None and "pid 42" in warning and "a" * 12 in warning and "b" * 12 in warning
    assert "stop this host's containers" in warning
    fake_monitor(monkeypatch, protocol.Pong(pid=42))
    assert "before engine digests" in (monitor_client.monitor_skew(Engine, "b" * 64) or "")
    asked = fake_monitor(monkeypatch, protocol.Pong(pid=1), alive=False)
    assert monitor_client.monitor_skew(Engine, "b" * 64) is None and not asked
    assert len(monitor_client.running_digest()) == 64


def test_reload_resolvers(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_monitor(monkeypatch, protocol.Resolving(serving=["shop 10.240.1.1:53"], failed=[]))
    assert monitor_client.reload_resolvers(Engine) == [] and asked == [protocol.Reload()]
    fake_monitor(monkeypatch, protocol.Resolving(serving=[], failed=["shop: 10.240.1.1:53: Address in use"]))
    assert "Address in use" in monitor_client.reload_resolvers(Engine)[0]
    fake_monitor(monkeypatch, protocol.Error(kind="invalid_input", message="unknown request 'reload'"))
    assert "without overlay name resolvers" in monitor_client.reload_resolvers(Engine)[0]
    fake_monitor(monkeypatch, ConnectionRefusedError())
    assert "did not reload" in monitor_client.reload_resolvers(Engine)[0]
    asked = fake_monitor(monkeypatch, protocol.Ok(), alive=False)
    assert monitor_client.reload_resolvers(Engine) == [] and not asked, "no monitor: none is spawned"


def test_dispatch_passes_the_events(rig: Rig) -> None:
    seen: list[int] = []
    reader, writer = socket.socketpair()
    try:
        rig.monitor.sel.register(reader, selectors.EVENT_READ | selectors.EVENT_WRITE, ("dns", seen.append))
        rig.monitor.step(0)
        assert seen and seen[0] & selectors.EVENT_WRITE
        rig.monitor.sel.unregister(reader)
    finally:
        reader.close()
        writer.close()
