"""Registry authentication as a flow that does no I/O itself.

``AuthFlow.flow(request)`` is a generator (the shape of httpx's ``auth_flow``):
it yields requests, the client sends them and sends back responses. On a 401
it reads ``WWW-Authenticate``: ``Basic`` → retry with the credentials;
``Bearer realm=…,service=…,scope=…`` → ask the realm for a token (with the
credentials, if any) → retry with it. Tokens are cached per (realm, service,
scope), so a pull's many blob requests cost one token request.
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
from .transport import Request, Response

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


class AuthFlow:
    def __init__(self, credentials: Credentials | None, registry: str) -> None:
        self.credentials = credentials
        self.registry = registry
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._scheme: dict[str, str] = {}  # realm or "basic" chosen, reused for later requests
        self._lock = threading.Lock()

    def flow(self, request: Request, scope: str) -> Generator[Request, Response, None]:
        """Yield the request (with any known authorization); on 401, obtain
        authorization and yield it again."""
        known = self._known_authorization(scope)
        if known:
            request.headers["Authorization"] = known
        response = yield request
        if response.status != 401:
            return
        challenge = response.header("www-authenticate")
        response.read()
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
            authorization = yield from self._bearer(params, scope)
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

    def _bearer(self, params: dict[str, str], scope: str) -> Generator[Request, Response, str]:
        realm = params.get("realm")
        if not realm:
            raise InvalidState(f"registry {self.registry} sent a Bearer challenge without a realm", field="registry")
        service = params.get("service", "")
        wanted = params.get("scope") or scope
        query = {k: v for k, v in (("service", service), ("scope", wanted)) if v}
        headers = {"Accept": "application/json"}
        if self.credentials is not None:
            headers["Authorization"] = self.credentials.basic_header()
        response = yield Request("GET", f"{realm}{'&' if '?' in realm else '?'}{urlencode(query)}", headers)
        body = response.read()
        if response.status == 401 or response.status == 403:
            raise _unauthorized(self.registry, rejected=self.credentials is not None)
        if response.status != 200:
            raise InvalidState(f"token service {realm} answered HTTP {response.status}", field="registry")
        token = _token_from(body, realm)
        with self._lock:
            self._tokens[(realm, service, scope)] = token
        return f"Bearer {token}"


def _token_from(body: bytes, realm: str) -> str:
    try:
        doc = json.loads(body)
        token = doc.get("token") or doc.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise InvalidInput(f"token service {realm} returned no token", field="registry",
                           hint="the registry's auth server answered with an unexpected document")
    return token


def _unauthorized(registry: str, *, rejected: bool = False) -> InvalidInput:
    if rejected:
        return InvalidInput(f"registry {registry} rejected the credentials", field="registry_credentials",
                            hint="check username/password, or log in again with berth.engine.login")
    return InvalidInput(f"registry {registry} requires authentication", field="registry_credentials",
                        hint="log in first with berth.engine.login, or pass username and password")
