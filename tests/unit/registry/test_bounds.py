"""Every document read from a registry has a bound: reached, it stops reading
at bound + 1 and fails naming the registry, the object and the bound."""

from __future__ import annotations

import hashlib
import io
import json
from types import SimpleNamespace

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, NotFound
from ansible_collections.berth.engine.plugins.module_utils.image.manifest import OCI_MANIFEST, Platform, image_manifest
from ansible_collections.berth.engine.plugins.module_utils.image.pull import Puller
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.registry import limits
from ansible_collections.berth.engine.plugins.module_utils.registry.auth import Credentials
from ansible_collections.berth.engine.plugins.module_utils.registry.client import RegistryClient
from ansible_collections.berth.engine.plugins.module_utils.registry.transport import Request, Response

HEX = "b" * 64


class CountingStream(io.RawIOBase):
    """``size`` bytes of filler that counts how much was read from it."""

    def __init__(self, size: int) -> None:
        self.size, self.served = size, 0

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.served if n is None or n < 0 else min(n, self.size - self.served)
        self.served += n
        return b" " * n


def test_the_bounds_are_the_documented_ones() -> None:
    assert limits.MAX_MANIFEST_BYTES == 4 << 20 and limits.MAX_CONFIG_BYTES == 8 << 20
    assert limits.MAX_TOKEN_BYTES == 64 << 10 and limits.MAX_ERROR_BYTES == 64 << 10
    assert limits.MAX_LAYERS == 128


def test_read_bounded_takes_the_bound_and_stops_one_past_it() -> None:
    assert len(limits.read_bounded(CountingStream(1000), 1000, source="s", what="w")) == 1000
    stream = CountingStream(50 << 20)
    with pytest.raises(InvalidInput, match="s: w is larger than berth's limit of 4 MiB"):
        limits.read_bounded(stream, 4 << 20, source="s", what="w")
    assert stream.served == (4 << 20) + 1


def test_claims_past_the_bound_are_refused_and_none_is_no_claim() -> None:
    limits.check_claim(None, 10, source="s", what="w")
    limits.check_claim(10, 10, source="s", what="w")
    with pytest.raises(InvalidInput, match=r"64 KiB \(65537 bytes\)"):
        limits.check_claim(65537, 64 << 10, source="s", what="w")


def _client(handler, credentials: Credentials | None = None) -> RegistryClient:
    class Transport:
        def send(self, request: Request) -> Response:
            status, headers, body = handler(request)
            return Response(status, headers, body, request.url)

    return RegistryClient("reg.example.com", credentials=credentials, transport=Transport(), sleep=lambda _s: None)


def test_a_manifest_past_4_mib_is_not_buffered() -> None:
    body = CountingStream(150 << 20)
    client = _client(lambda _r: (200, {"Content-Type": OCI_MANIFEST}, body))
    with pytest.raises(InvalidInput) as err:
        client.get_manifest("team/app", "v1", ["*/*"])
    assert "registry reg.example.com: manifest team/app:v1" in str(err.value) and "4 MiB" in str(err.value)
    assert body.served == (4 << 20) + 1


def test_a_manifest_of_exactly_4_mib_is_fine() -> None:
    client = _client(lambda _r: (200, {}, io.BytesIO(b" " * (4 << 20))))
    assert len(client.get_manifest("team/app", "v1", ["*/*"])[0]) == 4 << 20


def test_a_content_length_past_the_bound_is_refused_before_reading() -> None:
    body = CountingStream(150 << 20)
    client = _client(lambda _r: (200, {"Content-Length": str(150 << 20)}, body))
    with pytest.raises(InvalidInput, match=r"\(157286400 bytes\)"):
        client.get_manifest("team/app", f"sha256:{HEX}", ["*/*"])
    assert body.served == 0


def test_a_token_answer_past_64_kib_is_refused() -> None:
    body = CountingStream(10 << 20)

    def handler(req: Request):
        if req.url.startswith("https://reg.example.com/token"):
            return 200, {}, body
        return 401, {"WWW-Authenticate": 'Bearer realm="https://reg.example.com/token"'}, io.BytesIO()

    with pytest.raises(InvalidInput, match=r"token service https://reg\.example\.com/token of registry "
                                           r"reg\.example\.com: the token answer is larger than .* 64 KiB"):
        _client(handler, Credentials("a", "b")).get_manifest("team/app", "v1", ["*/*"])
    assert body.served == (64 << 10) + 1


def test_an_error_body_past_64_kib_is_not_quoted() -> None:
    body = CountingStream(10 << 20)
    with pytest.raises(NotFound, match="error body is larger than 64 KiB and was not read"):
        _client(lambda _r: (404, {}, body)).get_manifest("team/app", "v1", ["*/*"])
    assert body.served == (64 << 10) + 1


def test_a_short_error_body_is_quoted() -> None:
    doc = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "no such tag"}]}).encode()
    with pytest.raises(NotFound, match="MANIFEST_UNKNOWN: no such tag"):
        _client(lambda _r: (404, {}, io.BytesIO(doc))).get_manifest("team/app", "v1", ["*/*"])


def _manifest(layers: int, config_size: int = 100) -> dict:
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": f"sha256:{HEX}",
                       "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": f"sha256:{HEX}",
                        "size": 1}] * layers}


def test_layer_count_is_bounded_when_the_manifest_is_validated() -> None:
    assert len(image_manifest(_manifest(128), "manifest of reg/app:1")[1]) == 128
    with pytest.raises(InvalidInput, match="manifest of reg/app:1 has 129 layers; berth accepts at most 128") as err:
        image_manifest(_manifest(129), "manifest of reg/app:1")
    assert "overlay" in (err.value.hint or "")


class ScriptedClient:
    """The duck-typed client Puller takes: manifests by reference, no blobs."""

    def __init__(self, documents: dict[str, bytes]) -> None:
        self.documents = documents
        self.blob_requests: list[str] = []

    def get_manifest(self, _repo: str, reference: str, _accept: list[str]) -> tuple[bytes, str, str]:
        data = self.documents[reference]
        return data, "", "sha256:" + hashlib.sha256(data).hexdigest()

    def open_blob(self, _repo: str, digest: str) -> Response:
        self.blob_requests.append(digest)
        raise AssertionError("no blob may be fetched")


def _puller(documents: dict[str, bytes]) -> tuple[Puller, ScriptedClient]:
    client = ScriptedClient(documents)
    store = SimpleNamespace(engine=None)
    return Puller(store, client, Platform("linux", "amd64")), client  # type: ignore[arg-type]


def test_resolve_refuses_a_config_claiming_more_than_8_mib() -> None:
    puller, client = _puller({"1": json.dumps(_manifest(1, config_size=(8 << 20) + 1)).encode()})
    with pytest.raises(InvalidInput, match=f"config sha256:{HEX} is larger than berth's limit of 8 MiB"):
        puller.resolve(parse_reference("reg.example.com/app:1"))
    assert client.blob_requests == []


def test_resolve_refuses_an_index_entry_claiming_more_than_4_mib() -> None:
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": OCI_MANIFEST, "digest": f"sha256:{HEX}", "size": 5 << 20,
                            "platform": {"os": "linux", "architecture": "amd64"}}]}
    puller, _client = _puller({"1": json.dumps(index).encode()})
    with pytest.raises(InvalidInput, match=f"index of .*manifest sha256:{HEX} is larger than .* 4 MiB"):
        puller.resolve(parse_reference("reg.example.com/app:1"))


def test_resolve_refuses_too_many_layers_naming_the_image() -> None:
    puller, client = _puller({"1": json.dumps(_manifest(300)).encode()})
    with pytest.raises(InvalidInput, match=r"manifest of reg\.example\.com/app:1 has 300 layers"):
        puller.resolve(parse_reference("reg.example.com/app:1"))
    assert client.blob_requests == []
