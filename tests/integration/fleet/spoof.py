"""A VXLAN packet crafted by hand, sent from a namespace on the underlay that is not a peer.

The inner frame is what fh2's VXLAN device would send to fh1's: fh2's device MAC to
fh1's, an IPv4/UDP datagram from client-fh2's address to app-fh1's port 7002. Sent
once from the rogue's own address (the firewall must drop it: not a peer) and once
with the outer source address forged to fh2's (accepted: proves the packet is right;
source-address filtering cannot stop forged sources — that is what encryption is for).
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from tests.integration.fleet import shop
from tests.support.fleet import Fleet, FleetHost

SENDER = r"""
import socket, struct, sys, time
def csum(data):
    if len(data) % 2: data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def ipv4(src, dst, proto, payload):
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))
    return head[:10] + struct.pack("!H", csum(head)) + head[12:] + payload
def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
a = {args}
def vxlan(tag):
    inner = ipv4(a["inner_src"], a["inner_dst"], 17, udp(40000, 7002, tag.encode()))
    frame = bytes.fromhex(a["dst_mac"].replace(":", "")) + bytes.fromhex(a["src_mac"].replace(":", "")) \
        + b"\x08\x00" + inner
    return struct.pack("!II", 0x08000000, a["vni"] << 8) + frame
plain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(3):
    plain.sendto(vxlan("rogue"), (a["target"], a["port"]))
    time.sleep(0.2)
for _ in range(3):
    raw.sendto(ipv4(a["peer"], a["target"], 17, udp(40001, a["port"], vxlan("peer"))), (a["target"], 0))
    time.sleep(0.2)
"""

LISTENER = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7002))
s.settimeout(4)
print("ready", flush=True)
try:
    while True:
        print(s.recv(100).decode(errors="replace"), flush=True)
except socket.timeout:
    pass
"""


def vxlan_device(host: FleetHost) -> dict[str, Any]:
    links = json.loads(host.run("ip", "-j", "-d", "link", "show", "type", "vxlan").stdout)
    assert len(links) == 1, f"{host.name}: expected shop's one VXLAN device, found {links}"
    data = links[0]["linkinfo"]["info_data"]
    return {"mac": links[0]["address"], "vni": data["id"], "port": data.get("port", 4789)}


def send_spoofed_vxlan(fleet: Fleet, target: FleetHost, peer: FleetHost, rogue_address: str) -> dict[str, int]:
    here, there = vxlan_device(target), vxlan_device(peer)
    args = {"target": target.address, "peer": peer.address, "port": here["port"], "vni": here["vni"],
            "dst_mac": here["mac"], "src_mac": there["mac"],
            "inner_src": shop.shop_address(peer, f"client-{peer.name}"),
            "inner_dst": shop.shop_address(target, f"app-{target.name}")}
    pid = shop.container_pid(target, f"app-{target.name}")
    listener = subprocess.Popen(["nsenter", "-t", str(target.init_pid), "-n", "-m", "-p", "--", "nsenter", "-t",
                                 str(pid), "-n", "/usr/bin/python3", "-c", LISTENER],
                                stdout=subprocess.PIPE, text=True)
    rogue = subprocess.Popen(["unshare", "--net", "--", "sleep", "60"])
    link = f"{fleet.bridge[:9]}-rg"
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        time.sleep(0.1)   # unshare has made its namespace
        subprocess.run(["ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", str(rogue.pid)],
                       check=True)
        subprocess.run(["ip", "link", "set", link, "master", fleet.bridge, "up"], check=True)
        for argv in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{rogue_address}/24", "dev", "eth0"],
                     ["ip", "link", "set", "eth0", "up"]):
            subprocess.run(["nsenter", "-t", str(rogue.pid), "-n", *argv], check=True)
        subprocess.run(["nsenter", "-t", str(rogue.pid), "-n", "/usr/bin/python3", "-c",
                        SENDER.replace("{args}", repr(args))], check=True, timeout=30)
        out, _err = listener.communicate(timeout=15)
    finally:
        for process in (listener, rogue):
            process.kill()
            process.wait()
        subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
    lines = out.split()
    return {"from_rogue": lines.count("rogue"), "as_peer": lines.count("peer")}
