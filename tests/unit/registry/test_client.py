from __future__ import annotations

import base64
import hashlib
import json

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, InvalidState, NotFound
from ansible_collections.berth.engine.plugins.module_utils.registry.auth import (
    Credentials,
    parse_challenge,
)
from ansible_collections.berth.engine.plugins.module_utils.registry.client import RegistryClient
from ansible_collections.berth.engine.plugins.module_utils.registry.tls import TlsPolicy, is_loopback
from ansible_collections.berth.engine.plugins.module_utils.registry.transport import Request

from .fake_transport import FakeTransport

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
CREDS = Credentials("alice", "s3cret")


def _client(handler, credentials=None) -> tuple[RegistryClient, FakeTransport]:
    transport = FakeTransport(handler)
    client = RegistryClient("registry.example.com", credentials=credentials, transport=transport,
                            sleep=lambda _s: None)
    return client, transport


def test_parse_bearer_challenge() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:team/app:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.example.com/token", "service": "registry.example.com",
                      "scope": "repository:team/app:pull"}


def test_bearer_flow_fetches_token_once_and_retries() -> None:
    def handler(req: Request):
        if req.url.startswith("https://auth.example.com/token"):
            assert req.headers["Authorization"] == CREDS.basic_header()
            assert "scope=repository%3Ateam%2Fapp%3Apull" in req.url
            return 200, {}, json.dumps({"token": "T0K"}).encode()
        if req.headers.get("Authorization") != "Bearer T0K":
            return 401, {"WWW-Authenticate": 'Bearer realm="https://auth.example.com/token",'
                                             'service="registry.example.com",scope="repository:team/app:pull"'}, b""
        return 200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, MANIFEST

    client, transport = _client(handler, CREDS)
    data, media_type, digest = client.get_manifest("team/app", "1.0", ["*/*"])
    assert (data, digest) == (MANIFEST, DIGEST)
    assert media_type == "application/vnd.oci.image.manifest.v1+json"
    client.get_manifest("team/app", "1.1", ["*/*"])
    token_calls = [r for r in transport.requests if "auth.example.com" in r.url]
    assert len(token_calls) == 1  # cached for the second request


def test_basic_auth_challenge() -> None:
    def handler(req: Request):
        if req.headers.get("Authorization") == "Basic " + base64.b64encode(b"alice:s3cret").decode():
            return 200, {}, MANIFEST
        return 401, {"WWW-Authenticate": 'Basic realm="Registry"'}, b""

    client, _transport = _client(handler, CREDS)
    assert client.get_manifest("team/app", "1.0", ["*/*"])[2] == DIGEST


def test_anonymous_on_private_registry_says_log_in() -> None:
    client, _transport = _client(lambda req: (401, {"WWW-Authenticate": 'Basic realm="x"'}, b""))
    with pytest.raises(InvalidInput, match="requires authentication") as err:
        client.get_manifest("team/app", "1.0", ["*/*"])
    assert "login" in str(err.value)


def test_rejected_credentials_are_reported_without_the_password() -> None:
    client, _transport = _client(lambda req: (401, {"WWW-Authenticate": 'Basic realm="x"'}, b""), CREDS)
    with pytest.raises(InvalidInput, match="rejected the credentials") as err:
        client.get_manifest("team/app", "1.0", ["*/*"])
    assert "s3cret" not in str(err.value) and "s3cret" not in repr(CREDS)


def test_transient_errors_are_retried_with_backoff() -> None:
    answers = iter([(503, {}, b""), (502, {}, b""), (200, {}, MANIFEST)])
    client, transport = _client(lambda req: next(answers))
    assert client.get_manifest("team/app", "1.0", ["*/*"])[0] == MANIFEST
    assert len(transport.requests) == 3


def test_persistent_5xx_names_the_registry() -> None:
    client, transport = _client(lambda req: (500, {}, b'{"errors":[{"code":"UNKNOWN","message":"boom"}]}'))
    with pytest.raises(InvalidState, match=r"registry\.example\.com failed manifest team/app:1\.0: HTTP 500"):
        client.get_manifest("team/app", "1.0", ["*/*"])
    assert len(transport.requests) == client.retries + 1


def test_404_is_not_found_with_registry_detail() -> None:
    unknown = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
    client, _transport = _client(lambda req: (404, {}, unknown))
    with pytest.raises(NotFound, match="MANIFEST_UNKNOWN"):
        client.get_manifest("team/app", "nope", ["*/*"])


def test_connection_errors_become_invalid_state() -> None:
    def handler(req: Request):
        raise ConnectionRefusedError(111, "refused")

    client, transport = _client(handler)
    with pytest.raises(InvalidState, match="cannot reach registry"):
        client.blob_exists("team/app", DIGEST)
    assert len(transport.requests) == client.retries + 1


def test_mount_falls_back_and_cancels_the_upload_session() -> None:
    def handler(req: Request):
        if req.method == "POST":
            return 202, {"Location": "/v2/team/app/blobs/uploads/abc"}, b""
        if req.method == "DELETE":
            return 204, {}, b""
        raise AssertionError(req)

    client, transport = _client(handler)
    assert client.mount_blob("team/app", DIGEST, "other/app") is False
    assert [r.method for r in transport.requests] == ["POST", "DELETE"]
    assert "mount=sha256" in transport.requests[0].url and "from=other%2Fapp" in transport.requests[0].url


@pytest.mark.parametrize("registry, loopback", [
    ("127.0.0.1:5000", True), ("localhost:5000", True), ("[::1]:5000", True), ("127.8.9.1", True),
    ("10.0.0.1:5000", False), ("registry.example.com", False), ("localhost.example.com", False),
])
def test_only_loopback_is_implicitly_insecure(registry: str, loopback: bool) -> None:
    assert is_loopback(registry) is loopback
    assert TlsPolicy().insecure(registry) is loopback
    assert TlsPolicy(insecure_registries=frozenset({registry})).insecure(registry)
    assert TlsPolicy(validate_certs=False).insecure(registry)


def test_verified_context_by_default() -> None:
    import ssl

    context = TlsPolicy().ssl_context("registry.example.com")
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_missing_ca_file_names_the_option(tmp_path) -> None:
    with pytest.raises(InvalidInput) as err:
        TlsPolicy(ca_file=str(tmp_path / "nope.pem")).ssl_context("registry.example.com")
    assert err.value.field == "ca_cert"
