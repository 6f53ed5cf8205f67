"""Registry authentication as a flow that does no I/O itself.

``AuthFlow.flow(request)`` is a generator (the shape of httpx's ``auth_flow``):
it yields requests, the client sends them and sends back responses. On a 401
it reads ``WWW-Authenticate``: ``Basic`` → retry with the credentials;
``Bearer realm=…,service=…,scope=…`` → ask the realm for a token (with the
credentials, if any) → retry with it. Tokens are cached per (realm, service,
scope), so a pull's many blob requests cost one token request.

Credentials are bound to the registry's origin (scheme, host, port), the
unit a browser binds secrets to:

- a request to another origin (an upload ``Location``, a mount's session)
  carries no Authorization, and a 401 from there is an error, not a
  challenge to answer with the registry's secrets;
- the Basic credentials go to a Bearer realm on the registry's own origin,
  to a realm on any origin over https (token services live elsewhere:
  Docker Hub's is auth.docker.io), and to a realm on the registry's own
  host:port over plain http only where the registry itself may be spoken to
  over plain http (``TlsPolicy.plain_http``). Otherwise the token request
  is made anonymously, and if that is refused the error says why the
  credentials were withheld;
- tokens go only to the registry's origin.

containerd and Docker send the credentials to whatever realm the registry
names, over http too; berth does not (see ``realm_refusal``).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Generator
from dataclasses import dataclass
from urllib.parse import urlencode

from ..errors import InvalidInput, InvalidState
from .limits import MAX_TOKEN_BYTES
from .transport import Origin, Request, Response, host_port, origin_of, shown

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def basic_header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def __repr__(self) -> str:  # never let a password reach a log or traceback
        return f"Credentials(username={self.username!r}, password=***)"


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split a WWW-Authenticate header into (scheme, params)."""
    scheme, _sp, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM.finditer(rest)}
    return scheme.lower(), params


def realm_refusal(realm: Origin, registry: Origin, *, plain_http_allowed: bool) -> str | None:
    """None when a Bearer realm may receive the registry's Basic credentials,
    else the reason they are withheld (for the error message)."""
    if realm == registry or realm[0] == "https":
        return None
    if realm[1:] == registry[1:]:
        if plain_http_allowed:
            return None
        return "the registry is served over https but names its token service over plain http"
    return f"the token service is on another host ({host_port(realm)}) and over plain http"


class AuthFlow:
    def __init__(self, credentials: Credentials | None, registry: str, *, plain_http_allowed: bool = False) -> None:
        self.credentials = credentials
        self.registry = registry
        self.plain_http_allowed = plain_http_allowed
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._scheme: dict[str, str] = {}  # realm or "basic" chosen, reused for later requests
        self._lock = threading.Lock()

    def flow(self, request: Request, scope: str, origin: Origin) -> Generator[Request, Response, None]:
        """Yield the request (with any known authorization); on 401, obtain
        authorization and yield it again. ``origin`` is the registry's."""
        if origin_of(request.url) != origin:
            yield from self._foreign(request)
            return
        known = self._known_authorization(scope)
        if known:
            request.headers["Authorization"] = known
        response = yield request
        if response.status != 401:
            return
        challenge = response.header("www-authenticate")
        response.discard()
        if not challenge:
            raise InvalidState(f"registry {self.registry} answered 401 without a WWW-Authenticate challenge",
                               field="registry")
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if self.credentials is None:
                raise _unauthorized(self.registry)
            authorization = self.credentials.basic_header()
            with self._lock:
                self._scheme["*"] = authorization
        elif scheme == "bearer":
            authorization = yield from self._bearer(params, scope, origin)
        else:
            raise InvalidState(f"registry {self.registry} asks for unsupported auth scheme {scheme!r}",
                               field="registry")
        request.headers["Authorization"] = authorization
        final = yield request
        if final.status == 401:
            raise _unauthorized(self.registry, rejected=self.credentials is not None)

    def _known_authorization(self, scope: str) -> str | None:
        with self._lock:
            if "*" in self._scheme:
                return self._scheme["*"]
            for (_realm, _service, cached_scope), token in self._tokens.items():
                if cached_scope == scope:
                    return f"Bearer {token}"
        return None

    def _foreign(self, request: Request) -> Generator[Request, Response, None]:
        """A request to another origin: sent bare; a challenge from there is refused."""
        request.headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        response = yield request
        if response.status == 401:
            response.discard()
            raise InvalidInput(f"{shown(request.url)}, where registry {self.registry} sent berth, asks for "
                               f"credentials; berth sends the credentials for {self.registry} only to "
                               f"{self.registry} itself", field="registry",
                               hint="the registry must keep uploads on its own host and port, or let its "
                                    "storage accept requests without the registry's credentials")

    def _bearer(self, params: dict[str, str], scope: str, origin: Origin) -> Generator[Request, Response, str]:
        realm = params.get("realm")
        if not realm:
            raise InvalidState(f"registry {self.registry} sent a Bearer challenge without a realm", field="registry")
        realm_origin = origin_of(realm)
        if realm_origin[0] not in ("http", "https") or not realm_origin[1]:
            raise InvalidInput(f"registry {self.registry} names the token service {realm!r}, not an http(s) URL",
                               field="registry")
        refusal = realm_refusal(realm_origin, origin, plain_http_allowed=self.plain_http_allowed)
        service = params.get("service", "")
        wanted = params.get("scope") or scope
        query = {k: v for k, v in (("service", service), ("scope", wanted)) if v}
        headers = {"Accept": "application/json"}
        withheld = self.credentials is not None and refusal is not None
        if self.credentials is not None and refusal is None:
            headers["Authorization"] = self.credentials.basic_header()
        response = yield Request("GET", f"{realm}{'&' if '?' in realm else '?'}{urlencode(query)}", headers)
        if response.status in (401, 403):
            response.discard()
            if withheld:
                raise self._withheld(realm, refusal or "", response.status)
            raise _unauthorized(self.registry, rejected=self.credentials is not None)
        if response.status != 200:
            response.discard()
            raise InvalidState(f"token service {shown(realm)} answered HTTP {response.status}", field="registry")
        body = response.read_bounded(MAX_TOKEN_BYTES, source=f"token service {shown(realm)} of registry "
                                                             f"{self.registry}", what="the token answer")
        token = _token_from(body, realm)
        with self._lock:
            self._tokens[(realm, service, scope)] = token
        return f"Bearer {token}"

    def _withheld(self, realm: str, refusal: str, status: int) -> InvalidInput:
        return InvalidInput(
            f"registry {self.registry} sends clients to the token service {shown(realm)}: {refusal}, so berth "
            f"withheld the credentials for {self.registry} (they would cross the network in clear text, "
            f"to a host other than the registry) and the anonymous token request was refused (HTTP {status})",
            field="registry_credentials",
            hint="serve the registry's token service (its auth realm) over https, or on the registry's own "
                 "host and port")


def _token_from(body: bytes, realm: str) -> str:
    try:
        doc = json.loads(body)
        token = doc.get("token") or doc.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise InvalidInput(f"token service {shown(realm)} returned no token", field="registry",
                           hint="the registry's auth server answered with an unexpected document")
    return token


def _unauthorized(registry: str, *, rejected: bool = False) -> InvalidInput:
    if rejected:
        return InvalidInput(f"registry {registry} rejected the credentials", field="registry_credentials",
                            hint="check username/password, or log in again with berth.engine.login")
    return InvalidInput(f"registry {registry} requires authentication", field="registry_credentials",
                        hint="log in first with berth.engine.login, or pass username and password")
