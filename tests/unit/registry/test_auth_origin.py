"""Where the registry's credentials may go: the auth flow's decisions through
the fake transport, and the transport's redirect rules with a faked wire."""

from __future__ import annotations

import io
import json

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.registry.auth import Credentials, realm_refusal
from ansible_collections.berth.engine.plugins.module_utils.registry.client import RegistryClient
from ansible_collections.berth.engine.plugins.module_utils.registry.tls import TlsPolicy
from ansible_collections.berth.engine.plugins.module_utils.registry.transport import (
    HttpTransport,
    Request,
    Response,
    origin_of,
)

from .fake_transport import FakeTransport

CREDS = Credentials("alice", "s3cret")
REGISTRY = "registry.example.com"
MANIFEST = json.dumps({"schemaVersion": 2}).encode()


def _client(handler, *, tls: TlsPolicy | None = None, registry: str = REGISTRY) -> tuple[RegistryClient, FakeTransport]:
    transport = FakeTransport(handler)
    return RegistryClient(registry, credentials=CREDS, tls=tls, transport=transport, sleep=lambda _s: None), transport


def _bearer(realm: str):
    """A registry that wants a token from ``realm``; the realm hands one out
    only for alice's Basic credentials."""
    def handler(req: Request):
        if req.url.startswith(realm):
            if req.headers.get("Authorization") == CREDS.basic_header():
                return 200, {}, b'{"token": "T0K"}'
            return 401, {}, b'{"details": "who are you"}'
        if req.headers.get("Authorization") != "Bearer T0K":
            return 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="reg"'}, b""
        return 200, {}, MANIFEST
    return handler


def _sent_to(transport: FakeTransport, prefix: str) -> list[Request]:
    return [r for r in transport.requests if r.url.startswith(prefix)]


@pytest.mark.parametrize("realm, registry, plain_ok, refused", [
    ("https://reg:443/token", "https://reg", False, None),                 # the registry itself
    ("https://auth.example.com/token", "https://reg", False, None),        # another host over https
    ("http://auth.example.com/token", "https://reg", True, "another host"),  # another host over http
    ("http://auth.example.com/token", "http://reg", True, "another host"),
    ("http://reg:5000/t", "http://reg:5000", True, None),                  # same origin over http
    ("http://reg:443/t", "https://reg", True, None),                       # same host:port, http allowed
    ("http://reg:443/t", "https://reg", False, "served over https"),       # same host:port, http not allowed
    ("http://reg:80/t", "https://reg", True, "another host"),              # another port is another origin
])
def test_which_realms_get_the_basic_credentials(realm: str, registry: str, plain_ok: bool,
                                                refused: str | None) -> None:
    reason = realm_refusal(origin_of(realm), origin_of(registry), plain_http_allowed=plain_ok)
    assert (reason is None) == (refused is None) and (refused is None or refused in reason), reason


def test_https_realm_on_another_host_gets_basic_and_the_token_stays_home() -> None:
    client, transport = _client(_bearer("https://auth.example.com/token"))
    client.get_manifest("team/app", "1", ["*/*"])
    (token_request,) = _sent_to(transport, "https://auth.example.com/")
    assert token_request.headers["Authorization"] == CREDS.basic_header()
    assert all("Bearer" not in r.headers.get("Authorization", "") for r in _sent_to(transport, "https://auth."))


def test_http_realm_on_another_host_is_asked_anonymously_and_says_why() -> None:
    client, transport = _client(_bearer("http://auth.example.com/token"))
    with pytest.raises(InvalidInput, match="withheld the credentials") as err:
        client.get_manifest("team/app", "1", ["*/*"])
    (token_request,) = _sent_to(transport, "http://auth.example.com/")
    assert "Authorization" not in token_request.headers
    assert "s3cret" not in str(err.value) and "auth.example.com" in str(err.value)
    assert err.value.field == "registry_credentials" and "https" in (err.value.hint or "")


def test_http_realm_on_the_registrys_port_only_where_plain_http_is_allowed() -> None:
    realm = "http://registry.example.com:443/token"
    with pytest.raises(InvalidInput, match="served over https"):
        _client(_bearer(realm))[0].get_manifest("team/app", "1", ["*/*"])
    allowed = TlsPolicy(insecure_registries=frozenset({REGISTRY}))
    client, transport = _client(_bearer(realm), tls=allowed)
    client.get_manifest("team/app", "1", ["*/*"])  # the probe answers on https: the registry stays on https
    assert _sent_to(transport, realm)[0].headers["Authorization"] == CREDS.basic_header()


def test_a_realm_that_is_not_http_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not an http"):
        _client(_bearer("file:///etc/shadow"))[0].get_manifest("team/app", "1", ["*/*"])


def _basic_registry_with_uploads(location: str):
    def handler(req: Request):
        if req.url.startswith(f"https://{REGISTRY}/") and req.headers.get("Authorization") != CREDS.basic_header():
            return 401, {"WWW-Authenticate": 'Basic realm="r"'}, b""
        if req.method == "POST":
            return 202, {"Location": location}, b""
        if req.url.startswith("https://storage.example.net/") and "gimme" in req.url:
            return 401, {"WWW-Authenticate": 'Basic realm="storage"'}, b""
        return 201, {}, b""
    return handler


def test_upload_location_on_another_origin_gets_no_authorization() -> None:
    client, transport = _client(_basic_registry_with_uploads("https://storage.example.net/up/1?sig=x"))
    client.upload_blob("team/app", "sha256:" + "a" * 64, 3, lambda: io.BytesIO(b"abc"))
    (put,) = [r for r in transport.requests if r.method == "PUT"]
    assert put.url.startswith("https://storage.example.net/up/1?sig=x&digest=")
    assert "Authorization" not in put.headers


def test_upload_location_that_challenges_is_not_answered() -> None:
    client, transport = _client(_basic_registry_with_uploads("https://storage.example.net/gimme"))
    with pytest.raises(InvalidInput, match=f"only to {REGISTRY}"):
        client.upload_blob("team/app", "sha256:" + "a" * 64, 3, lambda: io.BytesIO(b"abc"))
    assert all("Authorization" not in r.headers for r in _sent_to(transport, "https://storage."))


def test_upload_location_from_https_to_http_is_refused_before_sending() -> None:
    client, transport = _client(_basic_registry_with_uploads("http://storage.example.net/up/1"))
    with pytest.raises(InvalidInput, match="downgrades https to plain http"):
        client.upload_blob("team/app", "sha256:" + "a" * 64, 3, lambda: io.BytesIO(b"abc"))
    assert _sent_to(transport, "http://") == []


def test_same_origin_upload_location_keeps_the_credentials() -> None:
    client, transport = _client(_basic_registry_with_uploads("/v2/team/app/blobs/uploads/7"))
    client.upload_blob("team/app", "sha256:" + "a" * 64, 3, lambda: io.BytesIO(b"abc"))
    (put,) = [r for r in transport.requests if r.method == "PUT"]
    assert put.headers["Authorization"] == CREDS.basic_header()


# -- the transport's redirects, with the wire faked below send() ----------------
class _Wire(HttpTransport):
    def __init__(self, answers: dict[str, tuple[int, dict[str, str]]]) -> None:
        super().__init__()
        self.answers = answers
        self.sent: list[Request] = []

    def _send_once(self, request: Request) -> Response:
        self.sent.append(request)
        status, headers = self.answers.get(request.url.split("?")[0], (200, {}))
        return Response(status, headers, io.BytesIO(b""), request.url)


def test_redirect_to_another_origin_drops_authorization_same_origin_keeps_it() -> None:
    wire = _Wire({"https://reg/v2/a/blobs/x": (307, {"Location": "/v2/a/blobs/y"}),
                  "https://reg/v2/a/blobs/y": (302, {"Location": "https://reg:8443/z"}),
                  "https://reg:8443/z": (307, {"Location": "https://cdn.example.net/z?sig=1"})})
    wire.send(Request("GET", "https://reg/v2/a/blobs/x", {"Authorization": "Bearer T"}))
    assert [("Authorization" in r.headers) for r in wire.sent] == [True, True, False, False]


def test_redirect_from_https_to_http_is_refused() -> None:
    wire = _Wire({"https://reg/v2/a/blobs/x": (307, {"Location": "http://cdn.example.net/z?sig=secret"})})
    with pytest.raises(InvalidInput, match="downgrades https to plain http") as err:
        wire.send(Request("GET", "https://reg/v2/a/blobs/x", {"Authorization": "Bearer T"}))
    assert "sig=secret" not in str(err.value)
    assert len(wire.sent) == 1


def test_origins_fill_in_default_ports() -> None:
    assert origin_of("https://Reg.example.com/v2/") == origin_of("https://reg.example.com:443/x")
    assert origin_of("http://reg") != origin_of("https://reg")
    assert origin_of("http://[::1]:5000/v2/") == ("http", "::1", 5000)


def test_an_unread_body_closes_its_pooled_connection() -> None:
    class Conn:
        closed = False

        def close(self) -> None:
            self.closed = True

    class Body(io.BytesIO):
        def isclosed(self) -> bool:
            return self.tell() == len(self.getvalue())

    for body, expect_closed in ((b"short", False), (b"x" * (1 << 20), True)):
        conn = Conn()
        Response(200, {"Content-Length": str(len(body))}, Body(body), "http://r/", pooled=conn).discard()  # type: ignore[arg-type]
        assert conn.closed is expect_closed
