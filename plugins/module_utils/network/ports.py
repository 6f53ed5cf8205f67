"""Docker's port publishing syntax, parsed once into ``PortSpec`` values.

``published_ports`` entries follow ``docker run -p``:
``[ip:][host_port[-end]:]container_port[-end][/proto]``, e.g. ``8080:80``,
``127.0.0.1:8080:80``, ``127.0.0.1::80`` (a random host port on that
address), ``80`` (a random host port on every address), ``8000-8010:80-90``
(ranges of equal length, port by port), ``8000-8010:80`` (Docker's "any one
free port of the host range") and ``53:53/udp``. IPv4 only: ``[::1]:80:80`` is
refused. An unstated address is normalised to ``0.0.0.0`` so that a stated
``0.0.0.0`` and an omitted address compare equal (community.docker's
flip-flopping port bug).

Also here: an image's ``ExposedPorts`` keys (``80/tcp``) for
``publish_all_ports``, and the random host-port chooser.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from ..errors import Conflict, InvalidInput
from ..strict import brief, is_ascii_digits

FIELD = "published_ports"
ANY_ADDRESS = "0.0.0.0"
PROTOCOLS = ("tcp", "udp")
DEFAULT_EPHEMERAL = (32768, 60999)  # Docker's fallback when the kernel's range cannot be read
EPHEMERAL_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
SYNTAX = "use [ip:][host_port:]container_port[/tcp|/udp], e.g. 8080:80, 127.0.0.1:8080:80, 127.0.0.1::80 or 53:53/udp"

Proto = Literal["tcp", "udp"]


@dataclass(frozen=True)
class PortSpec:
    """One container port published on the host.

    ``host_port`` None means "choose a free port": from ``host_range`` when
    given (``8000-8010:80``), else from the kernel's ephemeral range.
    """

    host_ip: str
    host_port: int | None
    container_port: int
    proto: Proto = "tcp"
    host_range: tuple[int, int] | None = None

    def __str__(self) -> str:
        if self.host_port is not None:
            host = str(self.host_port)
        elif self.host_range is not None:
            host = f"{self.host_range[0]}-{self.host_range[1]}"
        else:
            host = ""
        return f"{self.host_ip}:{host}:{self.container_port}/{self.proto}"


def _bad(entry: object, why: str, hint: str = SYNTAX) -> InvalidInput:
    return InvalidInput(f"{brief(entry)}: {why}", field=FIELD, hint=hint)


def parse_published_ports(entries: Iterable[str | int]) -> list[PortSpec]:
    """Every entry expanded (ranges become one spec per port), in order;
    a host port asked for twice on overlapping addresses is refused."""
    specs: list[PortSpec] = []
    for entry in entries:
        specs.extend(parse_port_spec(entry))
    check_duplicates(specs)
    return specs


def parse_port_spec(entry: str | int) -> list[PortSpec]:
    """One ``-p`` entry; a range gives one PortSpec per port."""
    if isinstance(entry, bool) or not isinstance(entry, str | int):
        raise _bad(entry, "is not a port specification")
    if isinstance(entry, int) and not 0 < entry <= 65535:  # and str() of a huge int would raise
        raise _bad(entry, "is out of range", "use 1-65535")
    text = str(entry).strip(" \t")
    if not text:
        raise _bad(entry, "is empty")
    if "[" in text or text.count(":") > 2:
        raise _bad(entry, "IPv6 addresses are not supported (berth networks are IPv4 only)",
                   "publish on an IPv4 address such as 127.0.0.1 or 0.0.0.0, or leave the address out")
    body, _slash, proto_text = text.partition("/")
    proto = _proto(entry, proto_text) if _slash else "tcp"
    parts = body.split(":")
    host_ip, host_text, container_text = _split(entry, parts)
    container = _required_range(entry, container_text, "container port")
    host = _port_range(entry, host_text, "host port", allow_empty=True)
    return _expand(entry, host_ip, host, container, proto)


def _proto(entry: object, text: str) -> Proto:
    proto = text.strip(" \t").lower()
    if proto not in PROTOCOLS:
        raise _bad(entry, f"protocol {text!r} is not supported", "use /tcp or /udp (tcp when left out)")
    return proto  # type: ignore[return-value]


def _split(entry: object, parts: list[str]) -> tuple[str, str, str]:
    """(host_ip, host_port text, container_port text) from the colon parts."""
    if len(parts) == 1:
        return ANY_ADDRESS, "", parts[0]
    if len(parts) == 2:
        return ANY_ADDRESS, parts[0], parts[1]
    return _address(entry, parts[0]), parts[1], parts[2]


def _address(entry: object, text: str) -> str:
    if text == "":
        return ANY_ADDRESS
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise _bad(entry, f"{text!r} is not an IPv4 address",
                   "give the host address as dotted IPv4 (e.g. 127.0.0.1), or leave it out for every address") \
            from None


def _port_range(entry: object, text: str, what: str, *, allow_empty: bool) -> tuple[int, int] | None:
    text = text.strip(" \t")
    if text == "":
        if allow_empty:
            return None
        raise _bad(entry, f"the {what} is missing")
    first, dash, last = text.partition("-")
    if dash and not (first.strip() and last.strip()):
        raise _bad(entry, f"the {what} range {text!r} is incomplete", "write ranges low-high, e.g. 8000-8010")
    start = _port(entry, first, what)
    end = _port(entry, last, what) if dash else start
    if end < start:
        raise _bad(entry, f"the {what} range {text!r} ends before it starts", "write ranges low-high, e.g. 8000-8010")
    if start == 0 and (not allow_empty or end != 0):
        raise _bad(entry, f"{what} 0 is not a port", "use 1-65535")
    return start, end


def _required_range(entry: object, text: str, what: str) -> tuple[int, int]:
    bounds = _port_range(entry, text, what, allow_empty=False)
    if bounds is None:  # _port_range raises instead; this keeps the type exact
        raise _bad(entry, f"the {what} is missing")
    return bounds


def _port(entry: object, text: str, what: str) -> int:
    text = text.strip(" \t")
    if not is_ascii_digits(text):  # not str.isdigit(): "²" is a digit to it, and int() refuses it
        raise _bad(entry, f"{what} {brief(text)} is not a number", "write ports with the digits 0-9")
    digits = text.lstrip("0") or "0"
    if len(digits) > 5 or int(digits) > 65535:
        raise _bad(entry, f"{what} {digits if len(digits) <= 20 else brief(text)} is out of range", "use 1-65535")
    return int(digits)


def _expand(entry: object, host_ip: str, host: tuple[int, int] | None, container: tuple[int, int],
            proto: Proto) -> list[PortSpec]:
    count = container[1] - container[0] + 1
    if host is None or host == (0, 0):  # no host port (or Docker's 0): a random one per container port
        return [PortSpec(host_ip, None, port, proto) for port in range(container[0], container[1] + 1)]
    host_count = host[1] - host[0] + 1
    if count == 1 and host_count > 1:  # Docker: any one free port of the host range
        return [PortSpec(host_ip, None, container[0], proto, host_range=host)]
    if host_count != count:
        raise _bad(entry, f"the host range has {host_count} ports and the container range {count}",
                   "give ranges of equal length (8000-8010:80-90), or one container port for 'any free port of the "
                   "host range' (8000-8010:80)")
    return [PortSpec(host_ip, host[0] + i, container[0] + i, proto) for i in range(count)]


def check_duplicates(specs: Iterable[PortSpec]) -> None:
    """A fixed host port may be published once per protocol; 0.0.0.0 covers every address."""
    seen: dict[tuple[int, str], str] = {}
    for spec in specs:
        if spec.host_port is None:
            continue
        key = (spec.host_port, spec.proto)
        other = seen.get(key)
        if other is not None and (other == spec.host_ip or ANY_ADDRESS in (other, spec.host_ip)):
            raise InvalidInput(f"host port {spec.host_port}/{spec.proto} is published twice "
                               f"({other} and {spec.host_ip})", field=FIELD,
                               hint="publish each host port once, or on distinct addresses")
        seen[key] = spec.host_ip


def parse_exposed_ports(keys: Iterable[str]) -> list[tuple[int, Proto]]:
    """An image config's ``ExposedPorts`` keys (``80/tcp``, ``53/udp``, ``8080``,
    ``7000-7002/tcp``) as sorted (port, proto) pairs, for ``publish_all_ports``.
    A key berth cannot publish (sctp) is skipped, as it cannot be honoured."""
    found: set[tuple[int, Proto]] = set()
    for key in keys:
        port_text, slash, proto_text = str(key).partition("/")
        proto = proto_text.strip(" \t").lower() if slash else "tcp"
        if proto not in PROTOCOLS:
            continue
        low, high = _required_range(key, port_text, "exposed port")
        found.update((port, proto) for port in range(low, high + 1))  # type: ignore[misc]
    return sorted(found)


def publish_all(exposed: Iterable[str], host_ip: str = ANY_ADDRESS) -> list[PortSpec]:
    """``publish_all_ports``: every exposed port on a random host port."""
    return [PortSpec(host_ip, None, port, proto) for port, proto in parse_exposed_ports(exposed)]


def ephemeral_range() -> tuple[int, int]:
    """The kernel's ephemeral port range (Docker reads the same file)."""
    try:
        low, high = (int(v) for v in EPHEMERAL_FILE.read_text().split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL
    return (low, high) if 0 < low <= high <= 65535 else DEFAULT_EPHEMERAL


def choose_port(is_taken: Callable[[int], bool], port_range: tuple[int, int] | None = None,
                *, rng: random.Random | None = None) -> int:
    """A port of ``port_range`` (default: the ephemeral range) for which
    ``is_taken`` is false: a random start, then every port once, wrapping."""
    low, high = port_range or ephemeral_range()
    size = high - low + 1
    start = (rng or random).randrange(size)
    for offset in range(size):
        port = low + (start + offset) % size
        if not is_taken(port):
            return port
    raise Conflict(f"every port in {low}-{high} is taken", field=FIELD,
                   hint="free a port, publish fewer random ports, or give host ports explicitly")


def assign_host_ports(specs: Iterable[PortSpec], is_taken: Callable[[str, int, str], bool],
                      *, rng: random.Random | None = None) -> list[PortSpec]:
    """Specs with every random host port chosen: free on the host
    (``is_taken(host_ip, port, proto)``) and not used by an earlier spec of
    the same list."""
    specs = list(specs)
    used = {(s.host_port, s.proto) for s in specs if s.host_port is not None}
    chosen: list[PortSpec] = []
    for spec in specs:
        if spec.host_port is None:
            def taken(port: int, spec: PortSpec = spec) -> bool:
                return (port, spec.proto) in used or is_taken(spec.host_ip, port, spec.proto)

            port = choose_port(taken, spec.host_range, rng=rng)
            used.add((port, spec.proto))
            spec = replace(spec, host_port=port)
        chosen.append(spec)
    return chosen
