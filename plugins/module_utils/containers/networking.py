"""A container's networks around its lifecycle.

At create the wishes are fixed in the record (``config.network_mode``,
``config.networks`` = [{name, ipv4_address, aliases}], ``config.ports``).
The monitor calls ``attach`` after the runtime made the container's network
namespace and before its process runs: each network is realized (bridge +
firewall, again after a reboot), an address allocated (kept until the
container is removed, so a restart keeps it), a veth pair made (eth0, eth1, …;
default route via the first non-internal network's gateway) and the ports
published. ``detach`` undoes the kernel side when the process exits.

Name resolution is a hosts file per container (``<container dir>/hosts``,
bind-mounted on /etc/hosts and rewritten in place, so the mount keeps its
inode): the container's own name, and on user-defined networks every running
peer's name and aliases. A start, stop, connect or disconnect rewrites the
hosts files of the running peers, so membership changes reach running
containers. resolv.conf carries the host's nameservers (loopback ones, which
cannot answer inside another network namespace, are replaced like Docker's).

A container's ``etc_hosts`` go into its hosts file after the header, on every
rewrite (``host-gateway``: its first network's gateway; the host's loopback
under network_mode host). ``dns_servers``, ``dns_search_domains`` and
``dns_opts`` replace the nameserver, search and options lines, as Docker's
do on its default bridge. Local networks have no resolver of their own here
(names are in the hosts file), so the given servers are the container's
nameservers on user-defined networks too, where Docker would keep 127.0.0.11
and forward to them; an overlay network's resolver stays the first nameserver
(it alone knows the other hosts' names) and the given servers follow it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import BerthError, Conflict, NotFound
from ..fsutil import atomic_write_json, read_json
from .nameopts import host_lines
from .netwishes import DEFAULT_NETWORK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .record import ContainerRecord

FALLBACK_DNS = ("8.8.8.8", "8.8.4.4")   # Docker's, when the host has only loopback resolvers
HOSTS_HEADER = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")

# container id -> (its record, its attachments by network name): the peers a hosts file lists
Peers = dict[str, tuple["ContainerRecord", dict[str, Any]]]


# network name -> (container id, its hosts line) for every running member
Members = dict[str, list[tuple[str, str]]]


# -- the wishes (pure) -----------------------------------------------------------------


def network_members(running: Peers) -> Members:
    """Each network's hosts lines, made once: a peer's file is its networks' lines but its own."""
    members: Members = {}
    for other_id, (other, networks) in running.items():
        for name, peer in networks.items():
            names = " ".join([other.name, *peer.get("aliases", [])])
            members.setdefault(name, []).append((other_id, f"{peer['ip']}\t{names}\n"))
    return members


def missing_networks(engine: Engine, config: dict[str, Any]) -> list[str]:
    """User-defined networks the container names that do not exist (check mode reports them)."""
    named = [n["name"] for n in config["networks"] if n["name"] != DEFAULT_NETWORK]
    if not named:
        return []
    from ..network.store import NetworkStore

    store = NetworkStore(engine)
    return [name for name in named if store.by_name(name) is None]


def require_networks(engine: Engine, network: dict[str, Any]) -> None:
    """A create needs its user-defined networks to exist (the default one is made on first use)."""
    missing = missing_networks(engine, network)
    if missing:
        raise NotFound(f"network {missing[0]!r} does not exist", field="networks",
                       hint="create it first with berth.engine.network (in check mode an earlier task may)")


# -- the bundle ---------------------------------------------------------------------------
def shape_bundle(config: dict[str, Any], directory: Path, mode: str, hostname: str,
                 wishes: dict[str, Any] | None = None) -> None:
    """/etc/hosts, /etc/resolv.conf and /etc/hostname from the container's dir
    (Docker's way); network_mode host shares the host's network namespace.
    ``wishes``: the container's config (its etc_hosts and dns options)."""
    write_files(directory, hostname, mode, wishes)
    mounts = [{"destination": f"/etc/{name}", "type": "bind", "source": str(directory / name),
               "options": ["rbind", "rprivate"]} for name in ("hosts", "resolv.conf", "hostname")]
    taken = {m["destination"] for m in config["mounts"]}
    config["mounts"] += [m for m in mounts if m["destination"] not in taken]
    if mode == "host":
        namespaces = config["linux"]["namespaces"]
        config["linux"]["namespaces"] = [n for n in namespaces if n["type"] != "network"]


def write_files(directory: Path, hostname: str, mode: str, wishes: dict[str, Any] | None = None) -> None:
    """The files bind-mounted into the container (hosts is rewritten at each start)."""
    directory.mkdir(parents=True, exist_ok=True)
    wishes = wishes or {}
    if mode == "host":
        hosts = _read("/etc/hosts")
        separator = "\n" if hosts and not hosts.endswith("\n") else ""
        hosts += separator + host_lines(wishes.get("etc_hosts"), "127.0.0.1")
        resolv = _read("/etc/resolv.conf")
        if any(dns_wishes(wishes).values()):   # the host's own file, unless the container has its own dns
            resolv = with_dns(resolv, **dns_wishes(wishes))
    else:
        hosts = HOSTS_HEADER + host_lines(wishes.get("etc_hosts"), None) + (
            f"127.0.1.1\t{hostname}\n" if mode == "none" else "")
        resolv = resolv_conf(_read("/etc/resolv.conf"), _read("/run/systemd/resolve/resolv.conf"),
                             **dns_wishes(wishes))
    for name, text in (("hosts", hosts), ("resolv.conf", resolv), ("hostname", hostname + "\n")):
        _write_in_place(directory / name, text)


def detach(engine: Engine, record: ContainerRecord, networking: Networking | None = None, *,
           namespace_gone: bool = False) -> None:
    if record.state.networks or record.state.ports:
        (networking or Networking(engine)).detach(record, namespace_gone=namespace_gone)


def release(engine: Engine, record: ContainerRecord) -> None:
    if record.config.get("networks"):
        Networking(engine).release(record)


def resolv_conf(host: str, upstream: str = "", first: list[str] | tuple[str, ...] = (), *,
                servers: list[str] | tuple[str, ...] = (), search: list[str] | tuple[str, ...] = (),
                options: list[str] | tuple[str, ...] = ()) -> str:
    """The host's resolv.conf without loopback nameservers (systemd-resolved's
    upstream file, or Docker's public fallback, when none is left); ``first``:
    nameservers asked before those (the resolvers of the container's overlay networks).
    ``servers``, ``search``, ``options``: the container's own, replacing the host's lines."""
    kept = list(servers) or [s for s in _servers(host) if not s.startswith("127.") and s != "::1"]
    if not kept:
        kept = [s for s in _servers(upstream) if not s.startswith("127.")] or list(FALLBACK_DNS)
    kept = [*dict.fromkeys(first), *(s for s in kept if s not in first)]
    return with_dns(host, kept, search, options)


def with_dns(host: str, servers: list[str] | tuple[str, ...] = (), search: list[str] | tuple[str, ...] = (),
             options: list[str] | tuple[str, ...] = ()) -> str:
    """``host`` with its nameserver, search (and domain) or options lines
    replaced by those given; ``search`` ['.'] means no search domain (Docker's)."""
    def replaced(line: str) -> bool:
        word = line.split()[0] if line.split() else ""
        return (word == "nameserver" and bool(servers)) or (word in ("search", "domain") and bool(search)) or (
            word == "options" and bool(options))

    lines = [f"{line}\n" for line in host.splitlines() if line.strip() and not replaced(line)]
    if search and list(search) != ["."]:
        lines.append(f"search {' '.join(search)}\n")
    if options:
        lines.append(f"options {' '.join(options)}\n")
    return "".join(lines) + "".join(f"nameserver {s}\n" for s in servers)


def dns_wishes(config: dict[str, Any]) -> dict[str, list[str]]:
    """The container's dns options, as resolv_conf's keywords."""
    return {"servers": config.get("dns_servers") or [], "search": config.get("dns_search_domains") or [],
            "options": config.get("dns_opts") or []}


def _servers(text: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines()
            if line.startswith("nameserver") and len(line.split()) > 1]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _write_in_place(path: Path, text: str) -> None:
    """Truncate and write, keeping the inode a running container has bind-mounted.
    0644 whatever the umask: a non-root container user must read them (the
    dir around them is private to root; inside the container only the file counts)."""
    with open(path, "a+") as handle:
        os.fchmod(handle.fileno(), 0o644)
        handle.seek(0)
        if handle.read() == text:
            return
        handle.seek(0)
        handle.truncate()
        handle.write(text)


# -- attach / detach (the monitor) -----------------------------------------------------------
class Networking:
    def __init__(self, engine: Engine) -> None:
        from ..network.service import NetworkService

        self.engine = engine
        self.networks = NetworkService(engine)
        self.containers = engine.metadata("containers")
        self.root = engine.layout.state_root / "containers"
        # The monitor keeps one instance: networks it realized (bridge + rules) are only re-checked for their
        # bridge, and container records are re-read only when their file changed (hosts files need them all).
        self.realized: set[str] = set()
        self.parsed: dict[str, tuple[tuple[int, int], ContainerRecord]] = {}
        # The monitor defers the peers' rewrite until it has answered the start or stop
        # (`flush_peers`, from its loop): at 200 peers it is most of a start's time.
        self.defer_peers = False
        self.peers_dirty = False

    def prepare_bundle(self, record: ContainerRecord) -> None:
        """network_mode container:<name>: join that container's namespace as it is now."""
        mode = record.config.get("network_mode") or DEFAULT_NETWORK
        if not mode.startswith("container:"):
            return
        other = self._running(mode.partition(":")[2])
        bundle = self.root / record.id / "bundle" / "config.json"
        config = read_json(bundle)
        for namespace in config["linux"]["namespaces"]:
            if namespace["type"] == "network":
                namespace["path"] = f"/proc/{other.state.pid}/ns/net"
        atomic_write_json(bundle, config)

    def _running(self, ref: str) -> ContainerRecord:
        from .store import ContainerStore

        other = ContainerStore(self.engine).record(ref)
        if not other.running or not other.state.pid:
            raise Conflict(f"container {ref} is not running", field="network_mode",
                           hint="start it first: network_mode container:<name> joins its network namespace")
        return other

    def attach(self, record: ContainerRecord, pid: int) -> dict[str, Any]:
        """Connect the container's namespace to its networks and publish its
        ports; the state to record (``networks``, ``ports``). On failure
        everything made here is undone."""
        self.engine.require_writable(f"attach container {record.name} to its networks")
        config = record.config
        mode = config.get("network_mode") or DEFAULT_NETWORK
        if mode in ("host", "none") or mode.startswith("container:"):
            self._files(record, {})
            return {"networks": {}, "ports": []}
        attached: dict[str, dict[str, Any]] = {}
        try:
            for index, entry in enumerate(config.get("networks") or []):
                attached[entry["name"]] = self._connect(record, pid, entry, index, gateway=not attached)
            ports = self._publish(record, attached)
        except BaseException:
            self._undo(record.id, attached)
            raise
        state = {"networks": attached, "ports": ports}
        self._files(record, attached)
        return state

    def _connect(self, record: ContainerRecord, pid: int, entry: dict[str, Any], index: int,
                 gateway: bool) -> dict[str, Any]:
        from ..network import links
        from ..network.overlay_kernel import container_routes

        name = entry["name"]
        network = self.networks.ensure_default() if name == DEFAULT_NETWORK else self.networks.require(name)
        if network["id"] not in self.realized or not links.bridge_exists(network["bridge"]):
            self.networks.realize(network)
            self.realized.add(network["id"])
        ip = self.networks.allocate(name, record.id, entry.get("ipv4_address"))
        prefix = network["subnet"].split("/")[1]
        host_if = links.host_ifname(record.id, network["id"])
        mac = links.mac_for(ip)
        route = network["gateway"] if gateway and not network.get("internal") else None
        links.attach(f"/proc/{pid}/ns/net", network["bridge"], host_if, f"eth{index}", f"{ip}/{prefix}", route, mac,
                     network.get("mtu"), routes=container_routes(network, route is not None))
        return {"network_id": network["id"], "ip": ip, "prefix": int(prefix), "mac": mac, "ifname": f"eth{index}",
                "host_if": host_if, "gateway": network["gateway"], "bridge": network["bridge"],
                "aliases": entry.get("aliases") or [], "default": bool(network.get("default"))}

    def _publish(self, record: ContainerRecord, attached: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        wanted = list(record.config.get("ports") or [])
        if record.config.get("publish_all_ports"):
            wanted += self._exposed(record, wanted)
        if not wanted or not attached:
            return []
        from ..network import firewall, ports

        first = next(iter(attached.values()))
        chosen: list[firewall.Published] = []
        # a random host port already held (a live connect re-publishes) is kept
        held = {(p["host_ip"], p["container_port"], p["proto"]): p["host_port"]
                for p in record.state.ports}
        for spec in wanted:
            host_ip, proto = spec["host_ip"] or "", spec["proto"]

            def taken(port: int, host_ip: str = host_ip, proto: str = proto) -> bool:
                return firewall.port_in_use(host_ip, port, proto, exclude=record.id) or any(
                    c.host_port == port and c.proto == proto for c in chosen)

            port = spec["host_port"]
            kept = held.get((host_ip or "0.0.0.0", spec["container_port"], proto))
            if port is None and kept is not None and not taken(kept):
                port = kept
            elif port is None:
                port = ports.choose_port(taken, tuple(spec["host_range"]) if spec.get("host_range") else None)
            elif taken(port):
                raise Conflict(f"host port {host_ip or '0.0.0.0'}:{port}/{proto} is already in use",
                               field="published_ports",
                               hint="stop what listens there, or publish on another host port")
            chosen.append(firewall.Published(host_ip, port, proto, first["ip"], spec["container_port"]))
        firewall.publish(record.id, first["bridge"], chosen)
        return [{"host_ip": p.host_ip or "0.0.0.0", "host_port": p.host_port, "container_port": p.container_port,
                 "proto": p.proto} for p in chosen]

    def _exposed(self, record: ContainerRecord, stated: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """publish_all_ports: the image's EXPOSE ports not published already, on random host ports."""
        import json

        from ..network.ports import parse_exposed_ports

        image = json.loads(self.engine.blobs.read_bytes(record.image_id or "")).get("config") or {}
        done = {(p["container_port"], p["proto"]) for p in stated}
        return [{"host_ip": "", "host_port": None, "container_port": port, "proto": proto, "host_range": None}
                for port, proto in parse_exposed_ports(image.get("ExposedPorts") or {}) if (port, proto) not in done]

    def reconnect(self, before: ContainerRecord, after: ContainerRecord) -> dict[str, Any]:
        """Live connect/disconnect: the running container's attachments made to
        match ``after``'s networks (changed entries re-attached); the new state."""
        self.engine.require_writable(f"reconnect container {before.name}")
        state = after.state
        attached = dict(state.networks)
        wanted = {e["name"]: e for e in after.config.get("networks") or []}
        previous = {e["name"]: e for e in before.config.get("networks") or []}
        from ..network import links

        for name in list(attached):
            if wanted.get(name) != previous.get(name):
                with contextlib.suppress(BerthError, OSError):
                    links.detach(attached.pop(name)["host_if"])
                if name not in wanted:
                    with contextlib.suppress(BerthError):
                        self.networks.release(name, after.id)
        for name, entry in wanted.items():
            if name not in attached and state.pid:
                used = {int(a["ifname"][3:]) for a in attached.values()}
                index = next(i for i in range(len(used) + 1) if i not in used)
                attached[name] = self._connect(after, state.pid, entry, index, gateway=index == 0)
        if attached:
            ports = self._publish(after, attached)   # replaces the earlier rules (the first network may differ)
        else:
            from ..network import firewall

            firewall.unpublish(after.id)             # no network left to publish on
            ports = []
        self._files(after, attached)
        return {"networks": attached, "ports": ports}

    def detach(self, record: ContainerRecord, *, namespace_gone: bool = False) -> None:
        """The process exited: ports and veths go (addresses stay allocated), peers forget it.
        With ``namespace_gone`` (the monitor reaped the init, so its network namespace dies)
        the kernel deletes the veth pairs itself: an explicit delete would cost ~20 ms of
        the monitor's time, which the next container start would wait for."""
        self.engine.require_writable(f"detach container {record.name} from its networks")
        self._undo(record.id, {} if namespace_gone else record.state.networks)
        self._refresh_peers(record.id)

    def _undo(self, container_id: str, attached: dict[str, dict[str, Any]]) -> None:
        from ..network import firewall, links

        with contextlib.suppress(BerthError):
            firewall.unpublish(container_id)
        for item in attached.values():
            with contextlib.suppress(BerthError, OSError):
                links.detach(item["host_if"])

    def release(self, record: ContainerRecord) -> None:
        """The container is removed: its addresses go back to the pools."""
        self.engine.require_writable(f"release the addresses of container {record.name}")
        for entry in record.config.get("networks") or []:
            with contextlib.suppress(BerthError):
                self.networks.release(entry["name"], record.id)

    # -- hosts files ---------------------------------------------------------------------
    def _files(self, record: ContainerRecord, attached: dict[str, dict[str, Any]]) -> None:
        directory = self.root / record.id
        if not (directory / "hosts").exists():
            return
        if (record.config.get("network_mode") or DEFAULT_NETWORK) != "host":
            _write_in_place(directory / "hosts", self._hosts(record, attached))
            self._resolv(directory, attached, record.config)
        self._refresh_peers(record.id, extra={record.id: attached})

    def _resolv(self, directory: Path, attached: dict[str, dict[str, Any]], wishes: dict[str, Any]) -> None:
        """An overlay network's resolver (the monitor's, on this host's slice gateway) comes first: it knows
        the names on the other hosts. Written at each attach, so a disconnect takes it away again."""
        from ..network.resolver import config_of

        gateways = []
        for name in attached:
            network = self.networks.get(name)
            config = config_of(network) if network else None
            if config is not None:
                gateways.append(config.gateway)
        text = resolv_conf(_read("/etc/resolv.conf"), _read("/run/systemd/resolve/resolv.conf"), gateways,
                           **dns_wishes(wishes))
        with contextlib.suppress(OSError):
            _write_in_place(directory / "resolv.conf", text)

    def _hosts(self, record: ContainerRecord, attached: dict[str, dict[str, Any]],
               running: Peers | None = None, members: Members | None = None) -> str:
        hostname = record.config.get("hostname") or record.id[:12]
        first = next(iter(attached.values()), None)
        lines = [HOSTS_HEADER, host_lines(record.config.get("etc_hosts"), first["gateway"] if first else None)]
        for item in attached.values():
            lines.append(f"{item['ip']}\t{hostname}\n")
        if members is None:
            members = network_members(running if running is not None else self._running_networks())
        for item_name, item in attached.items():
            if item.get("default"):
                continue   # Docker's default network resolves no container names
            lines.extend(line for other_id, line in members.get(item_name, ()) if other_id != record.id)
        return "".join(lines)

    def _running_networks(self, extra: dict[str, dict[str, Any]] | None = None) -> Peers:
        found = {}
        for other in self._records():
            networks = (extra or {}).get(other.id)
            if networks is None and other.running:
                networks = other.state.networks
            if networks:
                found[other.id] = (other, networks)
        return found

    def _records(self) -> list[ContainerRecord]:
        """Every container record, parsed again only when its file changed."""
        from .record import ContainerRecord

        seen: dict[str, tuple[tuple[int, int], ContainerRecord]] = {}
        with contextlib.suppress(FileNotFoundError), os.scandir(self.containers.dir) as entries:
            for entry in entries:
                if not entry.name.endswith(".json") or entry.name.startswith("."):
                    continue
                # a record half-written by hand (or by an older berth) names no peer rather than failing
                with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
                    stat = entry.stat()
                    key = (stat.st_mtime_ns, stat.st_size)
                    cached = self.parsed.get(entry.name)
                    seen[entry.name] = cached if cached and cached[0] == key else (
                        key, ContainerRecord.load(read_json(Path(entry.path))))
        self.parsed = seen
        return [record for _key, record in seen.values()]

    def peer_renamed(self, container_id: str, networks: dict[str, dict[str, Any]]) -> None:
        """A running container got a new name (``berth rename``): its peers' hosts files name it anew."""
        self._refresh_peers(container_id, {container_id: networks})

    def _refresh_peers(self, changed_id: str, extra: dict[str, dict[str, Any]] | None = None) -> None:
        """Rewrites the running peers' hosts files after ``changed_id`` came, went or
        was renamed. Each network's lines are made once per change, not once per
        peer and network (that made a change cost N² peer lookups at N containers);
        an unchanged file is read and left alone."""
        if self.defer_peers:
            self.peers_dirty = True   # the records will say it all by the time the monitor flushes
            return
        running = self._running_networks(extra)
        if changed_id not in (extra or {}):
            running.pop(changed_id, None)
        self._rewrite_hosts(running, skip=changed_id)

    def flush_peers(self) -> None:
        """The deferred rewrite: every running container's hosts file from the
        records as they are now (its own entry included: unchanged, so not written)."""
        if not self.peers_dirty:
            return
        self.peers_dirty = False
        self._rewrite_hosts(self._running_networks())

    def _rewrite_hosts(self, running: Peers, skip: str | None = None) -> None:
        members = network_members(running)
        for other_id, (other, networks) in running.items():
            path = self.root / other_id / "hosts"
            if other_id != skip and path.exists():
                with contextlib.suppress(OSError):
                    _write_in_place(path, self._hosts(other, networks, members=members))
