"""A registry that tries to take what is not its own, or to exhaust the host.

A scripted registry (tests/support/fake_registry.py) on 127.0.0.1 names a
second listener, on another port, as its token realm, upload location or blob
storage; that second listener records every request, and the tests assert it
never saw the registry's credentials (only an https realm may get the Basic
credentials, by design: token services live on other hosts). Redirects and
Locations from https to http are refused before anything is sent there.

Oversized documents are refused with bounded memory: the client runs in a
subprocess that measures its own peak allocation with tracemalloc (the server
thread in this process streams the bodies lazily), and its answer is checked,
not its timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.image.pull import Puller
from ansible_collections.berth.engine.plugins.module_utils.image.push import push_image
from ansible_collections.berth.engine.plugins.module_utils.image.records import ImageRecord
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.registry.auth import Credentials
from ansible_collections.berth.engine.plugins.module_utils.registry.client import RegistryClient
from ansible_collections.berth.engine.plugins.module_utils.registry.limits import MAX_LAYERS
from ansible_collections.berth.engine.plugins.module_utils.registry.tls import TlsPolicy
from tests.support import tls as test_tls
from tests.support.fake_registry import FakeRegistry, Listener, Reply, endless, make_image, token_reply

MIB = 1 << 20


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> test_tls.TestCA:
    return test_tls.make_test_ca(tmp_path_factory.mktemp("hostile-ca"))


@pytest.fixture
def elsewhere() -> Iterator[Listener]:
    """Another origin (another port on 127.0.0.1), answering 404 until a test scripts it."""
    with Listener() as listener:
        yield listener


def _serve(registry: FakeRegistry) -> FakeRegistry:
    registry.put("app/web", "1", make_image())
    return registry.start()


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    reg = _serve(FakeRegistry(auth="basic"))
    yield reg
    reg.stop()


def _client(reg: FakeRegistry, *, ca: test_tls.TestCA | None = None, creds: bool = True) -> RegistryClient:
    credentials = Credentials(reg.username, reg.password) if creds else None
    return RegistryClient(reg.host, credentials=credentials, tls=TlsPolicy(ca_file=str(ca.ca_cert) if ca else None),
                          retries=0)


def _pull(tmp_path: Path, reg: FakeRegistry, name: str = "app/web:1", **options: Any) -> ImageRecord:
    store = ImageStore(Engine.open(tmp_path / "state", tmp_path / "run"))
    return Puller(store, _client(reg, **options)).pull(parse_reference(f"{reg.host}/{name}"))[0]


def _assert_clean(listener: Listener, reg: FakeRegistry) -> None:
    assert listener.authorization_headers() == []
    assert not listener.saw(reg.password)
    assert not listener.saw(reg.token)


# -- credentials stay with the registry's origin ------------------------------
def test_same_origin_realm_gets_the_credentials_and_the_pull_works(tmp_path: Path) -> None:
    reg = _serve(FakeRegistry(auth="bearer"))
    try:
        record = _pull(tmp_path, reg)
    finally:
        reg.stop()
    token_requests = [s for s in reg.requests if s.path.startswith("/token")]
    assert token_requests and token_requests[0].headers.get("authorization") == reg.basic()
    assert record.layers and any(s.headers.get("authorization") == f"Bearer {reg.token}" for s in reg.requests)


def test_realm_on_another_port_over_http_is_asked_anonymously(tmp_path: Path, elsewhere: Listener) -> None:
    reg = _serve(FakeRegistry(auth="bearer", realm=f"{elsewhere.url}/token"))
    elsewhere.handler = lambda seen: token_reply(seen, reg.basic(), reg.token)
    try:
        with pytest.raises(InvalidInput) as err:
            _pull(tmp_path, reg)
    finally:
        reg.stop()
    message = str(err.value)
    assert "withheld the credentials" in message and "plain http" in message and "https" in message, message
    assert reg.password not in message
    assert elsewhere.requests, "the anonymous token request should have been made"
    _assert_clean(elsewhere, reg)


def test_anonymous_token_from_a_foreign_http_realm_still_pulls_a_public_image(
        tmp_path: Path, elsewhere: Listener) -> None:
    reg = _serve(FakeRegistry(auth="bearer", realm=f"{elsewhere.url}/token"))
    elsewhere.handler = lambda seen: token_reply(seen, reg.basic(), reg.token, anonymous=True)
    try:
        assert _pull(tmp_path, reg).layers
    finally:
        reg.stop()
    _assert_clean(elsewhere, reg)


def test_realm_on_another_port_over_https_gets_basic_but_never_the_token(
        tmp_path: Path, test_ca: test_tls.TestCA) -> None:
    with Listener(tls=test_ca) as realm:
        reg = _serve(FakeRegistry(auth="bearer", realm=f"{realm.url}/token"))
        realm.handler = lambda seen: token_reply(seen, reg.basic(), reg.token)
        try:
            assert _pull(tmp_path, reg).layers
        finally:
            reg.stop()
    assert realm.authorization_headers() == [reg.basic()]  # Docker Hub's shape: auth.docker.io over https
    assert not realm.saw(reg.token)
    assert not any(s.headers.get("authorization") == reg.basic() for s in reg.requests)


def test_blob_redirect_to_another_port_carries_no_authorization(
        tmp_path: Path, registry: FakeRegistry, elsewhere: Listener) -> None:
    registry.blob_redirect = elsewhere.url
    elsewhere.handler = lambda seen: Reply(200, {}, registry.blobs[seen.path.split("/")[-1].split("?")[0]])
    assert _pull(tmp_path, registry).layers
    assert elsewhere.requests
    _assert_clean(elsewhere, registry)


def _pushed_from(tmp_path: Path, source: FakeRegistry, target: FakeRegistry) -> None:
    store = ImageStore(Engine.open(tmp_path / "state", tmp_path / "run"))
    record = Puller(store, _client(source)).pull(parse_reference(f"{source.host}/app/web:1"))[0]
    push_image(store, record, parse_reference(f"{target.host}/copy/web:2"), _client(target))


def test_upload_location_on_another_port_gets_no_credentials(
        tmp_path: Path, registry: FakeRegistry, elsewhere: Listener) -> None:
    with FakeRegistry(auth="basic") as target:
        target.upload_location = elsewhere.url
        elsewhere.handler = lambda seen: Reply(201, {"Content-Length": "0"})
        _pushed_from(tmp_path, registry, target)
    assert [s.method for s in elsewhere.requests] == ["PUT", "PUT"]  # the layer and the config
    _assert_clean(elsewhere, target)


def test_foreign_upload_location_that_asks_for_credentials_is_an_error(
        tmp_path: Path, registry: FakeRegistry, elsewhere: Listener) -> None:
    with FakeRegistry(auth="basic") as target:
        target.upload_location = elsewhere.url
        elsewhere.handler = lambda seen: Reply(401, {"WWW-Authenticate": 'Basic realm="gimme"'})
        with pytest.raises(InvalidInput, match="only to") as err:
            _pushed_from(tmp_path, registry, target)
    assert target.host in str(err.value)
    _assert_clean(elsewhere, target)


def test_https_redirect_to_http_is_refused(tmp_path: Path, test_ca: test_tls.TestCA, elsewhere: Listener) -> None:
    reg = _serve(FakeRegistry(auth="basic", tls=test_ca))
    reg.blob_redirect = elsewhere.url  # http
    try:
        with pytest.raises(InvalidInput, match="downgrades https to plain http") as err:
            _pull(tmp_path, reg, ca=test_ca)
    finally:
        reg.stop()
    assert "s3cr3t-sig" not in str(err.value)  # a signed URL's query stays out of messages
    assert elsewhere.requests == []


def test_https_upload_location_to_http_is_refused(
        tmp_path: Path, test_ca: test_tls.TestCA, registry: FakeRegistry, elsewhere: Listener) -> None:
    with FakeRegistry(auth="basic", tls=test_ca) as target:
        target.upload_location = elsewhere.url
        store = ImageStore(Engine.open(tmp_path / "state", tmp_path / "run"))
        record = Puller(store, _client(registry)).pull(parse_reference(f"{registry.host}/app/web:1"))[0]
        with pytest.raises(InvalidInput, match="downgrades https to plain http"):
            push_image(store, record, parse_reference(f"{target.host}/copy/web:2"), _client(target, ca=test_ca))
    assert elsewhere.requests == []


# -- bounds ---------------------------------------------------------------------
def test_too_many_layers_are_refused_before_any_blob_is_requested(tmp_path: Path) -> None:
    reg = FakeRegistry(auth=None)
    reg.put("app/deep", "1", make_image(fake_layers=MAX_LAYERS + 72))
    refusal = f"has {MAX_LAYERS + 73} layers; berth accepts at most {MAX_LAYERS}"
    with reg, pytest.raises(InvalidInput, match=refusal):
        _pull(tmp_path, reg, "app/deep:1", creds=False)
    assert reg.requests and reg.blob_requests() == []


SCRIPT = """
import json, sys, tracemalloc
globals().update(json.loads(sys.argv[1]))
from ansible_collections.berth.engine.plugins.module_utils.errors import BerthError
from ansible_collections.berth.engine.plugins.module_utils.registry.client import RegistryClient
from ansible_collections.berth.engine.plugins.module_utils.registry.auth import Credentials
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.image.pull import Puller
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
client = RegistryClient(host, credentials=Credentials(*creds) if creds else None, retries=0)
puller = Puller(ImageStore(Engine.open(root + "/state", root + "/run")), client)
tracemalloc.start()
error = None
try:
    eval(call)
except BerthError as err:
    error = {"kind": err.kind, "message": str(err)}
print(json.dumps({"error": error, "peak": tracemalloc.get_traced_memory()[1]}))
"""


def _measured(tmp_path: Path, reg: FakeRegistry, call: str, *, creds: bool = False) -> dict[str, Any]:
    """Evaluate ``call`` (with ``client``, a RegistryClient for ``reg``, and
    ``puller``) in a fresh process under tracemalloc: its error and its peak
    allocation come back. Everything is imported before tracing starts."""
    values = {"host": reg.host, "root": str(tmp_path), "call": call,
              "creds": [reg.username, reg.password] if creds else None}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(values)], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


GET_MANIFEST = "client.get_manifest('app/web', 'big', ['*/*'])"
# A bounded read holds at most its bound plus a chunk; a 100-200 MiB body must not come near this.
PEAK_BOUND = 12 * MIB


def test_a_150_mib_manifest_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    with FakeRegistry(auth=None) as reg:
        reg.routes["/v2/app/web/manifests/big"] = lambda _s: Reply(200, {"Content-Type": "application/json"},
                                                                   endless(150 * MIB))
        result = _measured(tmp_path, reg, GET_MANIFEST)
    assert result["error"]["kind"] == "invalid_input", result
    message = result["error"]["message"]
    assert reg.host in message and "manifest app/web:big" in message and "4 MiB" in message, message
    assert result["peak"] < PEAK_BOUND, result


def test_a_manifest_claiming_150_mib_is_refused_before_reading(tmp_path: Path) -> None:
    with FakeRegistry(auth=None) as reg:
        reg.routes["/v2/app/web/manifests/big"] = lambda _s: Reply(
            200, {"Content-Length": str(150 * MIB)}, endless(150 * MIB))
        result = _measured(tmp_path, reg, GET_MANIFEST)
    message = result["error"]["message"]
    assert "4 MiB" in message and f"({150 * MIB} bytes)" in message, result
    assert result["peak"] < 1 * MIB, result


def test_an_oversized_token_answer_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    with FakeRegistry(auth="bearer") as reg:
        reg.routes["/token"] = lambda _s: Reply(200, {"Content-Type": "application/json"},
                                                endless(100 * MIB, b'{"token":"' + b"x" * 65526))
        result = _measured(tmp_path, reg, GET_MANIFEST, creds=True)
    message = result["error"]["message"]
    assert "token service" in message and reg.host in message and "64 KiB" in message, result
    assert result["peak"] < PEAK_BOUND, result


def test_an_oversized_error_body_is_not_read(tmp_path: Path) -> None:
    with FakeRegistry(auth=None) as reg:
        reg.routes["/v2/app/web/manifests/big"] = lambda _s: Reply(404, {"Content-Type": "application/json"},
                                                                   endless(100 * MIB))
        result = _measured(tmp_path, reg, GET_MANIFEST)
    assert result["error"]["kind"] == "not_found", result
    assert "64 KiB" in result["error"]["message"], result
    assert result["peak"] < PEAK_BOUND, result


def test_an_oversized_config_is_refused_before_it_is_fetched(tmp_path: Path) -> None:
    image = make_image(config_extra={"padding": "x" * (8 * MIB + 1)})
    with FakeRegistry(auth=None) as reg:
        reg.put("app/web", "fat", image)
        with pytest.raises(InvalidInput, match="8 MiB") as err:
            _pull(tmp_path, reg, "app/web:fat", creds=False)
    assert "config sha256:" in str(err.value)
    assert reg.blob_requests() == []


def test_a_config_longer_than_its_descriptor_is_cut_off(tmp_path: Path) -> None:
    image = make_image()
    with FakeRegistry(auth=None) as reg:
        reg.put("app/web", "liar", image)
        config_digest = json.loads(image.manifest)["config"]["digest"]
        reg.routes[f"/v2/app/web/blobs/{config_digest}"] = lambda _s: Reply(200, {}, endless(200 * MIB))
        result = _measured(tmp_path, reg, "puller.pull(parse_reference(host + '/app/web:liar'))")
    assert result["error"] and "larger than" in result["error"]["message"], result
    assert result["peak"] < PEAK_BOUND, result
