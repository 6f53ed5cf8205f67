"""A client for the OCI distribution / Docker Registry HTTP API v2.

Only what the engine needs: manifests (get/head/put), blobs (head/stream/
upload with cross-repository mount). Every call goes through the auth flow
and retries transient failures (connection errors, 429, 5xx) with
exponential backoff; answers are mapped onto the engine's error kinds with
the registry and repository named.

Documents are read with bounds (``limits.py``): a manifest past 4 MiB, an
error body past 64 KiB is never buffered. Upload locations the registry
hands out are followed without its credentials when they leave its origin,
and never from https to plain http.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import ssl
import time
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import urlencode, urljoin

from ..errors import BerthError, InvalidInput, InvalidState, NotFound
from .auth import AuthFlow, Credentials
from .limits import MAX_ERROR_BYTES, MAX_MANIFEST_BYTES
from .tls import TlsPolicy
from .transport import HttpTransport, Origin, Request, Response, Transport, origin_of, refuse_downgrade

TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"


class RegistryClient:
    def __init__(self, registry: str, *, credentials: Credentials | None = None,
                 tls: TlsPolicy | None = None, transport: Transport | None = None,
                 retries: int = 4, backoff: float = 0.25, sleep: Callable[[float], None] = time.sleep) -> None:
        self.registry = registry
        self.tls = tls or TlsPolicy()
        self.transport = transport or HttpTransport(self._ssl_context_for)
        self.auth = AuthFlow(credentials, registry, plain_http_allowed=self.tls.plain_http(registry))
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._base: str | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}

    def _ssl_context_for(self, netloc: str) -> ssl.SSLContext:
        if netloc not in self._contexts:  # loading CAs costs milliseconds: once per host
            self._contexts[netloc] = self.tls.ssl_context_for(netloc, self.registry)
        return self._contexts[netloc]

    # -- endpoint ---------------------------------------------------------
    def base_url(self) -> str:
        """https://host/v2/, or http:// for a registry allowed to be insecure
        that does not speak TLS (probed once: GET /v2/)."""
        if self._base is None:
            host = DOCKER_HUB_ENDPOINT if self.registry == "docker.io" else self.registry
            self._base = f"https://{host}/v2/"
            if self.tls.plain_http(self.registry):
                try:
                    self.transport.send(Request("GET", self._base, timeout=10)).discard()
                except (ssl.SSLError, ConnectionError, OSError, http.client.HTTPException):
                    self._base = f"http://{host}/v2/"
        return self._base

    def ping(self) -> None:
        """GET /v2/ through the auth flow: proves the registry is reachable
        and, with credentials, that it accepts them (what ``docker login`` does)."""
        self._call("GET", "", "", what="the API root", scope="").discard()

    def origin(self) -> Origin:
        """(scheme, host, port) of the registry: where its credentials may go."""
        return origin_of(self.base_url())

    # -- manifests --------------------------------------------------------
    def get_manifest(self, repository: str, reference: str, accept: list[str]) -> tuple[bytes, str, str]:
        """Return (bytes, media type, digest of the bytes); at most MAX_MANIFEST_BYTES."""
        what = f"manifest {repository}:{reference}" if ":" not in reference else f"manifest {repository}@{reference}"
        response = self._call("GET", f"{repository}/manifests/{reference}", repository,
                              headers={"Accept": ", ".join(accept)}, what=what)
        data = response.read_bounded(MAX_MANIFEST_BYTES, source=f"registry {self.registry}", what=what)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        media_type = (response.header("content-type") or "").split(";")[0].strip()
        return data, media_type, digest

    def head_manifest(self, repository: str, reference: str, accept: list[str]) -> str | None:
        response = self._call("HEAD", f"{repository}/manifests/{reference}", repository, allow_404=True,
                              headers={"Accept": ", ".join(accept)}, what=f"manifest {repository}:{reference}")
        response.discard()
        return None if response.status == 404 else response.header("docker-content-digest")

    def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str) -> str:
        response = self._call("PUT", f"{repository}/manifests/{reference}", repository, push=True,
                              headers={"Content-Type": media_type}, body=data,
                              what=f"manifest {repository}:{reference}")
        response.discard()
        return response.header("docker-content-digest") or "sha256:" + hashlib.sha256(data).hexdigest()

    # -- blobs ------------------------------------------------------------
    def blob_exists(self, repository: str, digest: str) -> bool:
        response = self._call("HEAD", f"{repository}/blobs/{digest}", repository, allow_404=True,
                              what=f"blob {digest}")
        response.discard()
        return response.status != 404

    def open_blob(self, repository: str, digest: str) -> Response:
        """A streaming response; the caller reads and closes it."""
        return self._call("GET", f"{repository}/blobs/{digest}", repository, stream=True, what=f"blob {digest}")

    def mount_blob(self, repository: str, digest: str, source_repository: str) -> bool:
        """Cross-repository mount; False when the registry starts an upload instead."""
        query = urlencode({"mount": digest, "from": source_repository})
        response = self._call("POST", f"{repository}/blobs/uploads/?{query}", repository, push=True,
                              extra_scope=f"repository:{source_repository}:pull", what=f"mount {digest}")
        response.discard()
        if response.status == 201:
            return True
        location = response.header("location")
        if location:  # an upload session was opened instead; cancel it (best effort: sessions expire)
            with contextlib.suppress(BerthError):
                self._call("DELETE", self._location(location), repository, push=True, absolute=True,
                           allow_404=True, what="upload session").discard()
        return False

    def upload_blob(self, repository: str, digest: str, size: int, open_data: Callable[[], BinaryIO]) -> None:
        """Monolithic upload: POST to open a session, PUT the bytes with ?digest=."""
        response = self._call("POST", f"{repository}/blobs/uploads/", repository, push=True,
                              what=f"upload of {digest}")
        response.discard()
        location = response.header("location")
        if not location:
            raise InvalidState(f"registry {self.registry} opened an upload without a Location", field="registry")
        url = self._location(location)
        url += ("&" if "?" in url else "?") + urlencode({"digest": digest})
        with open_data() as data:
            body = data.read() if size <= 8 << 20 else data
            self._call("PUT", url, repository, push=True, absolute=True, body=body,
                       headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                       what=f"upload of {digest}", retry=size <= 8 << 20).discard()

    def _location(self, location: str) -> str:
        """An upload Location made absolute; one that leaves https for http is refused
        (off the registry's origin it is still followed, without credentials: auth.py)."""
        url = urljoin(self.base_url(), location)
        refuse_downgrade(self.base_url(), url, what=f"upload location of registry {self.registry}")
        return url

    # -- plumbing ---------------------------------------------------------
    def _call(self, method: str, path: str, repository: str, *, headers: dict[str, str] | None = None,
              body: bytes | BinaryIO | None = None, push: bool = False, stream: bool = False,
              allow_404: bool = False, absolute: bool = False, extra_scope: str | None = None,
              what: str = "", retry: bool = True, scope: str | None = None) -> Response:
        url = path if absolute else self.base_url() + path
        if scope is None:
            scope = f"repository:{repository}:{'pull,push' if push else 'pull'}"
        if extra_scope:
            scope += f" {extra_scope}"
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            try:
                response = self._send_with_auth(Request(method, url, dict(headers or {}), body, stream=stream), scope)
            except ssl.SSLCertVerificationError as err:  # retrying cannot help: say which option fixes it
                raise InvalidInput(f"registry {self.registry} presented a certificate that is not trusted: "
                                   f"{err.verify_message or err}", field="ca_cert",
                                   hint="give the registry's CA certificate with ca_cert, or set validate_certs: "
                                        "false for a registry you trust") from None
            except (ConnectionError, TimeoutError, OSError, http.client.HTTPException) as err:
                if attempt + 1 >= attempts:
                    raise InvalidState(f"cannot reach registry {self.registry} for {what}: {err}", field="registry",
                                       hint="check that the registry is up and reachable") from None
                self._sleep(self.backoff * 2 ** attempt)
                continue
            if response.status in TRANSIENT_STATUS and attempt + 1 < attempts:
                response.discard()
                self._sleep(_retry_after(response) or self.backoff * 2 ** attempt)
                continue
            return self._check(response, what, repository, allow_404)
        raise AssertionError("unreachable")

    def _send_with_auth(self, request: Request, scope: str) -> Response:
        flow = self.auth.flow(request, scope, self.origin())
        outgoing = next(flow)
        while True:
            response = self.transport.send(outgoing)
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return response

    def _check(self, response: Response, what: str, repository: str, allow_404: bool) -> Response:
        status = response.status
        if status < 300 or (status == 404 and allow_404):
            return response
        detail = _error_detail(response)
        if status == 404:
            raise NotFound(f"{what} not found in {self.registry}/{repository}{detail}", field="name",
                           hint="check the repository name and tag")
        if status in (401, 403):
            raise InvalidInput(f"registry {self.registry} denied access to {what}{detail}",
                               field="registry_credentials", hint="log in with berth.engine.login")
        if 400 <= status < 500:
            raise InvalidInput(f"registry {self.registry} rejected {what}: HTTP {status}{detail}", field="name")
        raise InvalidState(f"registry {self.registry} failed {what}: HTTP {status}{detail}", field="registry",
                           hint="a server-side error persisted after retries; try again later")


def _retry_after(response: Response) -> float | None:
    value = response.header("retry-after")
    try:
        return min(float(value), 30.0) if value else None
    except ValueError:
        return None


def _error_detail(response: Response) -> str:
    """The registry's error messages, from a body of at most MAX_ERROR_BYTES."""
    try:
        import json

        body = response.read_bounded(MAX_ERROR_BYTES, source="registry", what="error body")
    except BerthError:
        return f" (its error body is larger than {MAX_ERROR_BYTES // 1024} KiB and was not read)"
    except OSError:
        return ""
    try:
        errors = json.loads(body or b"{}").get("errors") or []
        messages = [f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict)]
    except (ValueError, AttributeError):
        return ""
    return f" ({'; '.join(messages)[:1024]})" if messages else ""
