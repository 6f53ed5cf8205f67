"""HTTP for the registry client, behind a small interface.

``Transport.send(Request) -> Response`` is all the client needs; production
uses ``HttpTransport`` (stdlib http.client, one keep-alive connection per
thread and host, streaming bodies, redirects followed without leaking
credentials to other hosts), unit tests use a fake. Keeping the engine's host
dependencies to pydantic/pyroute2 is why this is not httpx.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol
from urllib.parse import urljoin, urlsplit

MAX_REDIRECTS = 5


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
                 on_close: http.client.HTTPConnection | None = None) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        self.url = url
        self._own_connection = on_close

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def read(self) -> bytes:
        try:
            return self.body.read()
        finally:
            self.close()

    def close(self) -> None:
        self.body.close()
        if self._own_connection is not None:
            self._own_connection.close()


class Transport(Protocol):
    def send(self, request: Request) -> Response: ...


class HttpTransport:
    """http.client transport; ``ssl_context_for(host)`` decides TLS per registry."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._local = threading.local()

    def send(self, request: Request) -> Response:
        url, headers, method = request.url, dict(request.headers), request.method
        origin = _origin(url)
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send_once(Request(method, url, headers, request.body, request.timeout, request.stream))
            if response.status not in (301, 302, 303, 307, 308) or method not in ("GET", "HEAD"):
                return response
            location = response.header("location")
            response.read()
            if not location:
                return response
            url = urljoin(url, location)
            if _origin(url) != origin:
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
                        on_close=conn if request.stream else None)

    def _new_connection(self, scheme: str, netloc: str, timeout: float) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=timeout, context=self.ssl_context)
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


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
