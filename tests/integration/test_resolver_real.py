"""Overlay resolvers on real sockets in real network namespaces: hosts A and
B (two namespaces joined by a veth pair, slice gateways 10.250.0.1 and
10.250.1.1 routed to each other), each running network/dnsserver.Endpoint
in a process of its own bound to its gateway:53, with the container records
simulated by a names file per host. A client in B resolves A's names through
B's resolver (B asks A), a recreated container on A is followed by B without
anything done on B, AAAA does not stall, unknown names go to an upstream (a
fake one in A), a peer host with no resolver costs nothing, and TCP works.
The overlay's kernel side (VXLAN) is not under test here."""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.network import dnswire as wire
from tests.support.isolation import netns_name

HOST_A, HOST_B = netns_name("dnsa"), netns_name("dnsb")
GATEWAY_A, GATEWAY_B, GATEWAY_C = "10.250.0.1", "10.250.1.1", "10.250.2.1"   # C: a peer with no resolver
UPSTREAM = "10.250.0.53"
PEERS = (GATEWAY_A, GATEWAY_B, GATEWAY_C)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


# -- what runs inside the namespaces -------------------------------------------------------------------------
def serve(gateway: str, names_path: str, upstreams: str) -> None:
    """A host's resolver: an Endpoint in a selector loop, until stdin closes (the test ended)."""
    from ansible_collections.berth.engine.plugins.module_utils.network.dnsserver import Endpoint
    from ansible_collections.berth.engine.plugins.module_utils.network.resolver import Config

    class Clock:
        def monotonic(self) -> float:
            return time.monotonic()

    def names() -> dict[str, list[str]]:
        return json.loads(Path(names_path).read_text())

    config = Config("shop", "n1", gateway, tuple(p for p in PEERS if p != gateway), "10.250.0.0/16")
    sel = selectors.DefaultSelector()
    endpoint = Endpoint(config, sel, Clock(), names, [u for u in upstreams.split(",") if u], [],
                        lambda message: print(message, file=sys.stderr, flush=True))
    sel.register(sys.stdin, selectors.EVENT_READ, ("stdin", None))
    print("ready", flush=True)
    while True:
        soonest = min(endpoint.deadlines(), default=time.monotonic() + 1)
        for key, mask in sel.select(max(0.0, min(1.0, soonest - time.monotonic()))):
            if key.data[0] == "stdin":
                endpoint.close()
                return
            key.data[1](mask)
        endpoint.timers()


def upstream(address: str) -> None:
    """A fake upstream nameserver: every A query is 192.0.2.99."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((address, 53))
    print("ready", flush=True)
    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ)
    sel.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _mask in sel.select():
            if key.fileobj is sys.stdin:
                return
            data, client = server.recvfrom(4096)
            server.sendto(wire.build_reply(wire.parse_query(data), wire.NOERROR, ["192.0.2.99"]), client)


def ask(server: str, name: str, qtype: int, tcp: bool) -> None:
    data = wire.HEADER.pack(4242, wire.RD, 1, 0, 0, 0) + wire.encode_name(name) + qtype.to_bytes(2, "big") + b"\0\1"
    if tcp:
        with socket.create_connection((server, 53), timeout=5) as conn:
            conn.sendall(len(data).to_bytes(2, "big") + data)
            size = int.from_bytes(conn.recv(2), "big")
            reply = b""
            while len(reply) < size:
                reply += conn.recv(size - len(reply))
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as conn:
            conn.settimeout(5)
            conn.sendto(data, (server, 53))
            reply = conn.recv(4096)
    answer = wire.parse_answer(reply)
    print(json.dumps({"rcode": answer.rcode, "addresses": list(answer.addresses), "id": answer.id}))


# -- the test's side ------------------------------------------------------------------------------------------
def in_netns(namespace: str, call: str, *, stdin: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
    code = f"import tests.integration.test_resolver_real as t; t.{call}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, "-c", code], stdin=stdin,
                            stdout=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).resolve().parents[2])


def lookup(name: str, qtype: int = wire.TYPE_A, *, tcp: bool = False) -> dict[str, Any]:
    client = in_netns(HOST_B, f"ask({GATEWAY_B!r}, {name!r}, {qtype}, {tcp})")
    out, _err = client.communicate(timeout=30)
    assert client.returncode == 0, out
    return json.loads(out)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[dict[str, Path]]:
    ip("netns", "add", HOST_A)
    ip("netns", "add", HOST_B)
    started: list[subprocess.Popen[str]] = []
    try:
        ip("link", "add", "bdnsa", "netns", HOST_A, "type", "veth", "peer", "name", "bdnsb", "netns", HOST_B)
        for namespace, link, address, other in ((HOST_A, "bdnsa", GATEWAY_A, "10.250.1.0/24"),
                                                (HOST_B, "bdnsb", GATEWAY_B, "10.250.0.0/24")):
            ip("-n", namespace, "link", "set", "lo", "up")
            ip("-n", namespace, "addr", "add", f"{address}/24", "dev", link)
            ip("-n", namespace, "link", "set", link, "up")
            ip("-n", namespace, "route", "add", other, "dev", link)
        ip("-n", HOST_A, "addr", "add", f"{UPSTREAM}/32", "dev", "lo")
        ip("-n", HOST_B, "route", "add", f"{UPSTREAM}/32", "dev", "bdnsb")
        names = {"a": tmp_path / "a.json", "b": tmp_path / "b.json"}
        names["a"].write_text(json.dumps({"web": ["10.240.0.2"], "frontend": ["10.240.0.2"]}))
        names["b"].write_text(json.dumps({"db": ["10.240.1.2"]}))
        for namespace, call in ((HOST_A, f"serve({GATEWAY_A!r}, {str(names['a'])!r}, '')"),
                                (HOST_B, f"serve({GATEWAY_B!r}, {str(names['b'])!r}, {UPSTREAM!r})"),
                                (HOST_A, f"upstream({UPSTREAM!r})")):
            process = in_netns(namespace, call, stdin=subprocess.PIPE)
            started.append(process)
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield names
    finally:
        for process in started:
            if process.stdin is not None:
                process.stdin.close()   # its loop ends
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        subprocess.run(["ip", "netns", "del", HOST_A], check=False)
        subprocess.run(["ip", "netns", "del", HOST_B], check=False)


def test_names_resolve_across_hosts_and_follow_a_recreated_container(hosts: dict[str, Path]) -> None:
    assert lookup("db") == {"rcode": wire.NOERROR, "addresses": ["10.240.1.2"], "id": 4242}, "B's own"
    assert lookup("web")["addresses"] == ["10.240.0.2"], "A's, through B's resolver"
    assert lookup("frontend.shop")["addresses"] == ["10.240.0.2"], "an alias, with the network as domain"
    assert lookup("web", wire.TYPE_AAAA) == {"rcode": wire.NOERROR, "addresses": [], "id": 4242}
    assert lookup("web", tcp=True)["addresses"] == ["10.240.0.2"]
    # web is recreated on A with a new address: only A's records change, nothing runs on B
    hosts["a"].write_text(json.dumps({"web": ["10.240.0.7"], "frontend": ["10.240.0.7"]}))
    recreated = time.monotonic()
    seen = lookup("web")["addresses"]
    while seen != ["10.240.0.7"] and time.monotonic() - recreated < 15:
        time.sleep(0.2)
        seen = lookup("web")["addresses"]
    assert seen == ["10.240.0.7"]
    print(f"B followed the recreated web after {time.monotonic() - recreated:.2f}s")
    hosts["a"].write_text(json.dumps({}))   # removed on A: B's lookups now end at the upstream
    found = lookup("web")
    while found["addresses"] == ["10.240.0.7"] and time.monotonic() - recreated < 30:
        time.sleep(0.2)
        found = lookup("web")
    assert found["addresses"] == ["192.0.2.99"]


def test_other_names_go_upstream(hosts: dict[str, Path]) -> None:
    assert lookup("example.test") == {"rcode": wire.NOERROR, "addresses": ["192.0.2.99"], "id": 4242}
