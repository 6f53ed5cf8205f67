"""The options about names: ``etc_hosts`` (Docker's --add-host), ``dns_servers``,
``dns_search_domains`` and ``dns_opts`` (--dns, --dns-search, --dns-option).

Each is checked here, once, whichever surface gave it (the ``container``
module, ``berth run``'s flags, a Compose service), and normalised so that the
same wish always compares equal: addresses in their canonical form, several
addresses of one host joined by commas (Compose's ``host=ip1,ip2``), the
brackets of ``host:[::1]`` dropped. The lines the options write into a
container's hosts file are made here too (``host_lines``); networking.py
writes the files. Standard library only, imported only when an option is given
(``berth run`` builds specs in the CLI's fast lane).
"""

from __future__ import annotations

import re

from ..errors import InvalidInput
from ..strict import brief

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOST_GATEWAY = "host-gateway"   # Docker's special address: the host, as the container's network reaches it
ADD_HOST_HINT = "write HOST:IP or HOST=IP (IPv6 as HOST:[::1]; IP may be host-gateway)"
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?", re.ASCII)
# Docker's rule for a search domain: dot-separated labels of letters, digits and inner hyphens
_LABEL = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?", re.ASCII)
_DNS_OPT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]*", re.ASCII)   # ndots:2, timeout:1, use-vc, edns0 ...


def split_host_entry(text: Any, field: str = "etc_hosts") -> tuple[str, str]:
    """(host, address) of ``host:ip``, ``host=ip`` or ``host:[::1]`` (the first '='
    wins, else the first ':', so ``host:::1`` is ``::1`` as Docker reads it)."""
    if not isinstance(text, str):
        raise InvalidInput(f"{brief(text)} is not a HOST:IP entry", field=field, hint=ADD_HOST_HINT)
    host, sep, address = text.partition("=")
    if not sep:
        host, sep, address = text.partition(":")
    if not sep or not host.strip() or not address.strip():
        raise InvalidInput(f"{brief(text)} is not a HOST:IP entry", field=field, hint=ADD_HOST_HINT)
    return host.strip(), address.strip()


def host_entries(items: list[Any], field: str = "etc_hosts") -> dict[str, str]:
    """``HOST:IP`` entries as an ``etc_hosts`` mapping; a host given twice keeps both addresses."""
    found: dict[str, str] = {}
    for item in items:
        host, address = split_host_entry(item, field)
        found[host] = f"{found[host]},{address}" if host in found else address
    return found


def etc_hosts(values: Any) -> dict[str, str]:
    """The ``etc_hosts`` mapping, host names and addresses checked."""
    if not isinstance(values, dict):
        raise InvalidInput(f"{brief(values)} is not a mapping of host names to addresses", field="etc_hosts",
                           hint="give e.g. {db.local: 192.0.2.10, gw: host-gateway}")
    checked = {}
    for key, value in values.items():
        host = str(key)
        if not _HOSTNAME.fullmatch(host) or ".." in host:
            raise InvalidInput(f"etc_hosts: {brief(host)} is not a host name", field="etc_hosts",
                               hint="use letters, digits, '.', '-' and '_' (e.g. db.local)")
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        if isinstance(value, bool) or not isinstance(value, str):
            raise InvalidInput(f"etc_hosts.{host}: {brief(value)} is not an address", field=f"etc_hosts.{host}",
                               hint="give an IP address as a string, or host-gateway")
        checked[host] = ",".join(_address(part.strip(), host) for part in value.split(","))
    return checked


def _address(text: str, host: str) -> str:
    if text == HOST_GATEWAY:
        return text
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    address = _ip(bare)
    if address is None:
        raise InvalidInput(f"etc_hosts.{host}: {brief(text)} is not an IP address", field=f"etc_hosts.{host}",
                           hint="give an IPv4 or IPv6 address (e.g. 192.0.2.10 or ::1), or host-gateway")
    return address


def _ip(text: str) -> str | None:
    """The canonical form of an IPv4 or IPv6 address; None when it is none."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def dns_servers(values: Any) -> tuple[str, ...]:
    found = []
    for index, value in enumerate(_strings(values, "dns_servers")):
        address = _ip(value.strip())
        if address is None:
            raise InvalidInput(f"dns_servers[{index}]: {brief(value)} is not an IP address", field="dns_servers",
                               hint="give nameservers by address, e.g. 192.0.2.53 or 2001:db8::53")
        found.append(address)
    return tuple(found)


def dns_search_domains(values: Any) -> tuple[str, ...]:
    """Domains as Docker checks them; ``.`` alone means "no search domain"."""
    found = tuple(v.strip() for v in _strings(values, "dns_search_domains"))
    for index, domain in enumerate(found):
        if domain != "." and (len(domain) > 253 or not _DOMAIN.fullmatch(domain)):
            raise InvalidInput(f"dns_search_domains[{index}]: {brief(domain)} is not a domain",
                               field="dns_search_domains",
                               hint="give domains such as example.com ('.' alone: no search domain)")
    if "." in found and len(found) > 1:
        raise InvalidInput("dns_search_domains: '.' (no search domain) cannot be combined with domains",
                           field="dns_search_domains", hint="give '.' alone, or only domains")
    return found


def dns_opts(values: Any) -> tuple[str, ...]:
    found = tuple(v.strip() for v in _strings(values, "dns_opts"))
    for index, option in enumerate(found):
        if not _DNS_OPT.fullmatch(option):
            raise InvalidInput(f"dns_opts[{index}]: {brief(option)} is not a resolver option", field="dns_opts",
                               hint="give resolv.conf options such as ndots:2, timeout:1 or use-vc")
    return found


def _strings(values: Any, field: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise InvalidInput(f"{brief(values)} is not a list of strings", field=field, hint="give a list of strings")
    return list(values)


def check_with_network(spec: Any) -> None:
    """What the options cannot mean with the container's network mode (Docker refuses the same)."""
    mode = spec.network_mode or ""
    named = [n for n in ("etc_hosts", "dns_servers", "dns_search_domains", "dns_opts") if getattr(spec, n)]
    if named and mode.startswith("container:"):
        raise InvalidInput(f"{named[0]} conflicts with network_mode {mode}", field=named[0],
                           hint="the container uses the other container's hosts and resolv.conf; set them there")
    if mode == "none" and any(HOST_GATEWAY in v.split(",") for v in spec.etc_hosts.values()):
        raise InvalidInput("etc_hosts: host-gateway needs a network, and network_mode is none", field="etc_hosts",
                           hint="give an address instead of host-gateway, or attach the container to a network")


def host_lines(hosts: dict[str, str] | None, gateway: str | None) -> str:
    """The hosts-file lines of ``etc_hosts`` (one per address, as Docker writes
    them); host-gateway is ``gateway``, and is left out when there is none."""
    lines = []
    for host, addresses in (hosts or {}).items():
        for address in addresses.split(","):
            if address == HOST_GATEWAY:
                if gateway is None:
                    continue
                address = gateway
            lines.append(f"{address}\t{host}\n")
    return "".join(lines)
