"""A scripted registry on 127.0.0.1, for the tests a real registry cannot play.

docker-registry is honest; these tests need one that is not: a Bearer realm
or an upload ``Location`` on another port (another origin), redirects from
https to http, bodies of hundreds of MiB, manifests with 200 layers. A
``Listener`` is one ``http.server`` in a thread (https with a test CA's
certificate when given one) that records every request it sees; a
``FakeRegistry`` is a Listener that speaks just enough of the distribution
API (Basic or Bearer auth, manifests, blobs, uploads), with ``routes`` to
script any answer. A second Listener stands for "another host" and proves,
by its ``requests``, what berth sent there.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import itertools
import json
import re
import secrets
import ssl
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .tls import TestCA, serve_tls

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass
class Seen:
    """One request as the server received it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def carries(self, secret: str) -> bool:
        """Whether ``secret`` appears anywhere in the request, plain or base64'd in a header."""
        text = " ".join([self.path, *self.headers.values()]) + self.body.decode("latin-1")
        decoded = ""
        for value in self.headers.values():
            for word in value.split():
                with contextlib.suppress(ValueError):
                    decoded += base64.b64decode(word, validate=True).decode("latin-1")
        return secret in text or secret in decoded


@dataclass
class Reply:
    """An answer; an iterable body is streamed with no Content-Length (the
    connection closes at its end), so a huge body costs the server nothing."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""


Handler = Callable[[Seen], Reply]


def endless(total: int, chunk: bytes = b" " * (1 << 16)) -> Iterator[bytes]:
    """``total`` bytes of filler, produced lazily."""
    sent = 0
    while sent < total:
        piece = chunk[:total - sent]
        sent += len(piece)
        yield piece


class Listener:
    """An HTTP(S) server on a free 127.0.0.1 port that answers with ``handler``
    (404 by default) and records every request."""

    def __init__(self, handler: Handler | None = None, *, tls: TestCA | None = None) -> None:
        self.handler = handler or (lambda _seen: Reply(404))
        self.requests: list[Seen] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        if tls is not None:
            serve_tls(self._server, tls)
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"{'https' if tls else 'http'}://{self.host}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def saw(self, secret: str) -> bool:
        return any(seen.carries(secret) for seen in self.requests)

    def authorization_headers(self) -> list[str]:
        return [seen.headers["authorization"] for seen in self.requests if "authorization" in seen.headers]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: berth's connection reuse is exercised too

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                listener.requests.append(seen)
                reply = listener.handler(seen)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    self._answer(reply)

            def _answer(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                streamed = not isinstance(reply.body, bytes)
                if streamed:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                elif "content-length" not in {k.lower() for k in reply.headers}:
                    self.send_header("Content-Length", str(len(reply.body)))  # type: ignore[arg-type]
                self.end_headers()
                if self.command == "HEAD":
                    return
                for piece in ([reply.body] if not streamed else reply.body):  # type: ignore[list-item]
                    self.wfile.write(piece)  # type: ignore[arg-type]

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _serve

            def log_message(self, *_args: object) -> None:
                pass

        return Handler


@dataclass
class Image:
    manifest: bytes
    config: bytes
    layers: list[bytes]

    @property
    def blobs(self) -> dict[str, bytes]:
        return {digest_of(b): b for b in (self.config, *self.layers)}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tiny_layer(name: str = "hello", data: bytes = b"hello\n") -> bytes:
    """An uncompressed tar with one file."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def make_image(layers: list[bytes] | None = None, *, config_extra: dict[str, Any] | None = None,
               fake_layers: int = 0) -> Image:
    """An OCI image of ``layers`` (one tiny layer by default); ``fake_layers``
    adds descriptors of layers that exist nowhere (for tests that must stop
    before any blob is fetched)."""
    layers = [tiny_layer()] if layers is None else layers
    diff_ids = [digest_of(layer) for layer in layers]
    descriptors = [{"mediaType": OCI_LAYER, "digest": d, "size": len(layer)}
                   for d, layer in zip(diff_ids, layers, strict=True)]
    for i in range(fake_layers):
        fake = digest_of(f"missing layer {i}".encode())
        descriptors.append({"mediaType": OCI_LAYER, "digest": fake, "size": 1024})
        diff_ids.append(fake)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}, **(config_extra or {})}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
                           "layers": descriptors}).encode()
    return Image(manifest, config, layers)


_MANIFEST = re.compile(r"/v2/(?P<repo>.+)/manifests/(?P<ref>[^/?]+)$")
_BLOB = re.compile(r"/v2/(?P<repo>.+)/blobs/(?P<digest>sha256:[0-9a-f]{64})$")
_UPLOADS = re.compile(r"/v2/(?P<repo>.+)/blobs/uploads/(?P<session>[^/?]*)$")


class FakeRegistry(Listener):
    """Just enough of the distribution API. ``auth`` is None, "basic" or
    "bearer"; the Bearer realm is this listener's /token unless ``realm`` names
    another. ``upload_location`` and ``blob_redirect`` send uploads and blob
    downloads to another base URL; ``routes`` (path → handler, checked after
    auth) script anything else."""

    def __init__(self, *, auth: str | None = "basic", username: str = "alice",
                 password: str | None = None, realm: str | None = None, tls: TestCA | None = None) -> None:
        super().__init__(self._answer, tls=tls)
        self.auth = auth
        self.username = username
        self.password = password or "pw-" + secrets.token_hex(8)
        self.realm = realm or f"{self.url}/token"
        self.token = "tok-" + secrets.token_hex(8)
        self.manifests: dict[tuple[str, str], bytes] = {}
        self.blobs: dict[str, bytes] = {}
        self.routes: dict[str, Handler] = {}
        self.upload_location: str | None = None
        self.blob_redirect: str | None = None
        self._sessions = itertools.count(1)

    def put(self, repo: str, tag: str, image: Image) -> None:
        self.manifests[(repo, tag)] = image.manifest
        self.manifests[(repo, digest_of(image.manifest))] = image.manifest
        self.blobs.update(image.blobs)

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def blob_requests(self) -> list[Seen]:
        return [seen for seen in self.requests if "/blobs/" in seen.path]

    def _authorized(self, seen: Seen) -> bool:
        given = seen.headers.get("authorization")
        if self.auth is None:
            return True
        return given == (self.basic() if self.auth == "basic" else f"Bearer {self.token}")

    def _challenge(self, seen: Seen) -> Reply:
        if self.auth == "basic":
            return Reply(401, {"WWW-Authenticate": 'Basic realm="fake"'})
        repo = _repo_of(seen.path)
        scope = f',scope="repository:{repo}:pull"' if repo else ""
        return Reply(401, {"WWW-Authenticate": f'Bearer realm="{self.realm}",service="fake"{scope}'})

    def _answer(self, seen: Seen) -> Reply:
        path = urlsplit(seen.path).path
        if path == "/token":
            return self.routes.get("/token", lambda s: token_reply(s, self.basic(), self.token))(seen)
        if not self._authorized(seen):
            return self._challenge(seen)
        if path in self.routes:
            return self.routes[path](seen)
        return self._api(seen, path)

    def _api(self, seen: Seen, path: str) -> Reply:
        if path == "/v2/":
            return Reply(200, {"Docker-Distribution-API-Version": "registry/2.0"}, b"{}")
        if m := _MANIFEST.match(path):
            if seen.method == "PUT":
                self.manifests[(m["repo"], m["ref"])] = seen.body
                return Reply(201, {"Docker-Content-Digest": digest_of(seen.body)})
            data = self.manifests.get((m["repo"], m["ref"]))
            if data is None:
                return Reply(404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            return Reply(200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest_of(data)}, data)
        if m := _BLOB.match(path):
            if m["digest"] not in self.blobs:
                return Reply(404)
            if self.blob_redirect and seen.method == "GET":
                return Reply(307, {"Location": f"{self.blob_redirect}/storage/{m['digest']}?sig=s3cr3t-sig"})
            return Reply(200, {"Content-Type": "application/octet-stream"}, self.blobs[m["digest"]])
        if m := _UPLOADS.match(path):
            return self._upload(seen, m["repo"], m["session"])
        return Reply(404)

    def _upload(self, seen: Seen, repo: str, session: str) -> Reply:
        if seen.method == "POST":
            number = next(self._sessions)
            base = self.upload_location or ""
            return Reply(202, {"Location": f"{base}/v2/{repo}/blobs/uploads/{number}", "Content-Length": "0"})
        if seen.method == "PUT":
            digest = seen.query.get("digest", [""])[0]
            self.blobs[digest] = seen.body
            return Reply(201, {"Docker-Content-Digest": digest})
        return Reply(204)


def token_reply(seen: Seen, expected_basic: str, token: str, *, anonymous: bool = False) -> Reply:
    """A token service: a token for the right Basic credentials (or for anyone
    when ``anonymous``), 401 otherwise."""
    if seen.headers.get("authorization") == expected_basic or anonymous:
        return Reply(200, {"Content-Type": "application/json"}, json.dumps({"token": token}).encode())
    return Reply(401, {"Content-Type": "application/json"}, b'{"details":"credentials required"}')


def _repo_of(path: str) -> str | None:
    for pattern in (_MANIFEST, _BLOB, _UPLOADS):
        if m := pattern.match(urlsplit(path).path):
            return m["repo"]
    return None
