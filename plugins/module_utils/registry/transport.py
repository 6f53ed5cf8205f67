"""HTTP for the registry client, behind a small interface.

``Transport.send(Request) -> Response`` is all the client needs; production
uses ``HttpTransport`` (stdlib http.client, one keep-alive connection per
thread and host, streaming bodies, TLS decided per host), unit tests use a
fake. Keeping the engine's host dependencies to pydantic/pyroute2 is why this
is not httpx.

Redirects (blob downloads sent to storage backends) are followed for GET and
HEAD only; the Authorization header follows a redirect only within the same
origin (scheme, host, port), and a redirect from https to plain http is
refused: Go's net/http, which Docker and containerd use, strips credentials
across hosts but lets such a downgrade through.

Bodies are never read whole without a bound: ``read_bounded`` for documents
(manifests, tokens, error messages), ``discard`` for bodies read only to
free the connection; a body left unread closes its connection, so the
next request never reads the tail of the last one as its answer.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol
from urllib.parse import urljoin, urlsplit

from ..errors import InvalidInput
from .limits import MAX_DISCARD_BYTES, check_claim, read_bounded

MAX_REDIRECTS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | BinaryIO | Iterable[bytes] | None = None
    timeout: float = 60.0
    # A streamed response (a layer) gets its own connection, so the thread
    # can make other requests while the body is still being read.
    stream: bool = False


class Response:
    """A response whose body is read lazily (layers stream through it)."""

    def __init__(self, status: int, headers: Mapping[str, str], body: BinaryIO, url: str,
                 on_close: http.client.HTTPConnection | None = None,
                 pooled: http.client.HTTPConnection | None = None) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        self.url = url
        self._own_connection = on_close
        self._pooled = pooled

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def content_length(self) -> int | None:
        value = self.header("content-length")
        return int(value) if value and value.isascii() and value.isdigit() else None

    def read_bounded(self, limit: int, *, source: str, what: str) -> bytes:
        """The whole body if it is at most ``limit`` bytes; a larger claim
        (Content-Length) or body fails (InvalidInput) without buffering it."""
        try:
            check_claim(self.content_length(), limit, source=source, what=what)
            return read_bounded(self.body, limit, source=source, what=what)
        finally:
            self.close()

    def discard(self) -> None:
        """Drop the body: a short one is drained so the connection is reused,
        a long one is left unread and its connection closed."""
        try:
            claimed = self.content_length()
            if claimed is None or claimed <= MAX_DISCARD_BYTES:
                self.body.read(MAX_DISCARD_BYTES)
        finally:
            self.close()

    def close(self) -> None:
        drained = getattr(self.body, "isclosed", lambda: True)()
        self.body.close()
        if self._own_connection is not None:
            self._own_connection.close()
        elif self._pooled is not None and not drained:
            self._pooled.close()  # the unread rest must not become the next answer; reconnects on demand


class Transport(Protocol):
    def send(self, request: Request) -> Response: ...


class HttpTransport:
    """http.client transport; ``ssl_context`` is one context for every host,
    or a function of ``host[:port]`` that decides TLS per host."""

    def __init__(self, ssl_context: ssl.SSLContext | Callable[[str], ssl.SSLContext] | None = None) -> None:
        if ssl_context is None or isinstance(ssl_context, ssl.SSLContext):
            context = ssl_context or ssl.create_default_context()
            self._context_for: Callable[[str], ssl.SSLContext] = lambda _netloc: context
        else:
            self._context_for = ssl_context
        self._local = threading.local()

    def send(self, request: Request) -> Response:
        url, headers, method = request.url, dict(request.headers), request.method
        origin = origin_of(url)
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send_once(Request(method, url, headers, request.body, request.timeout, request.stream))
            if response.status not in (301, 302, 303, 307, 308) or method not in ("GET", "HEAD"):
                return response
            location = response.header("location")
            response.discard()
            if not location:
                return response
            previous, url = url, urljoin(url, location)
            refuse_downgrade(previous, url, what="redirect")
            if origin_of(url) != origin:
                # Blob redirects point at storage backends with signed URLs:
                # the registry's credentials must not follow.
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        raise http.client.HTTPException(f"too many redirects fetching {request.url}")

    def _send_once(self, request: Request) -> Response:
        parts = urlsplit(request.url)
        if request.stream:
            conn = self._new_connection(parts.scheme, parts.netloc, request.timeout)
        else:
            conn = self._pooled(parts.scheme, parts.netloc, request.timeout)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(request.method, path or "/", body=request.body, headers=request.headers)
            raw = conn.getresponse()
        except (OSError, http.client.HTTPException):
            if request.stream:
                conn.close()
            else:
                self._drop(parts.scheme, parts.netloc)
            raise
        return Response(raw.status, dict(raw.getheaders()), raw, request.url,  # type: ignore[arg-type]
                        on_close=conn if request.stream else None, pooled=None if request.stream else conn)

    def _new_connection(self, scheme: str, netloc: str, timeout: float) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=timeout, context=self._context_for(netloc))
        if scheme != "http":
            raise InvalidInput(f"{scheme}://{netloc} is not an http or https address", field="registry",
                               hint="a registry, its token service and its redirects must use http(s)")
        return http.client.HTTPConnection(netloc, timeout=timeout)

    def _pooled(self, scheme: str, netloc: str, timeout: float) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        conn = pool.get((scheme, netloc))
        if conn is None:
            conn = pool[(scheme, netloc)] = self._new_connection(scheme, netloc, timeout)
        return conn

    def _drop(self, scheme: str, netloc: str) -> None:
        pool = self._local.__dict__.get("pool", {})
        conn = pool.pop((scheme, netloc), None)
        if conn is not None:
            conn.close()


def origin_of(url: str) -> Origin:
    """(scheme, host, port) with the scheme's default port filled in: the unit
    the registry's credentials are bound to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(f"{url!r} has an invalid port", field="registry") from None
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme, 0)


def host_port(origin: Origin) -> str:
    """``host:port`` of an origin, as TLS policy and messages name hosts."""
    host = f"[{origin[1]}]" if ":" in origin[1] else origin[1]
    return f"{host}:{origin[2]}"


def shown(url: str) -> str:
    """A URL fit for a message: without its query (signed URLs carry secrets there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def refuse_downgrade(previous: str, url: str, *, what: str) -> None:
    """A hop from https to plain http would expose what https protected."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidInput(f"{what} to {shown(url)} refused: only http and https addresses are followed",
                           field="registry")
    if urlsplit(previous).scheme.lower() == "https" and scheme == "http":
        raise InvalidInput(f"{what} from {shown(previous)} to {shown(url)} refused: it downgrades https "
                           "to plain http",
                           field="registry", hint="the registry must redirect to https addresses; "
                                                  "berth never follows https to http")
