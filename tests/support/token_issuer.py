"""A small token issuer for the registry's bearer-token flow.

docker-registry is configured with ``auth: token`` pointing at this server
(realm), trusting its certificate (rootcertbundle); it answers anonymous
requests with ``401 WWW-Authenticate: Bearer realm=…,service=…,scope=…`` and
verifies every token's RS256 signature, issuer, audience and granted
actions itself — so a client that gets through has done the real flow.

The issuer listens on another port than the registry, so it is another
origin: it speaks https (a test CA's certificate), as berth sends Basic
credentials to a realm on another origin only over https.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from .tls import make_test_ca, serve_tls

ISSUER = "berth-test-issuer"
SERVICE = "berth-test-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenIssuer:
    workdir: Path
    username: str = "tokenuser"
    password: str = "tokenpass"
    issued: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.cert_path = self.workdir / "token-issuer.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        tls = make_test_ca(self.workdir / "tls")
        self.ca_path = tls.ca_cert
        serve_tls(self._server, tls)
        self.realm = f"https://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> TokenIssuer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def registry_auth_config(self) -> dict:
        return {"token": {"realm": self.realm, "service": SERVICE, "issuer": ISSUER,
                          "rootcertbundle": str(self.cert_path)}}

    def token(self, scopes: list[str]) -> str:
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": self.username, "aud": SERVICE, "iat": now, "nbf": now - 10,
                  "exp": now + 300, "jti": uuid.uuid4().hex, "access": [_access(s) for s in scopes if s]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                expected = "Basic " + base64.b64encode(f"{issuer.username}:{issuer.password}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self._answer(401, {"details": "bad credentials"})
                    return
                scopes = [s for value in query.get("scope", []) for s in value.split(" ")]
                issuer.issued.append({"service": query.get("service", [""])[0], "scopes": scopes})
                self._answer(200, {"token": issuer.token(scopes), "expires_in": 300})

            def _answer(self, status: int, doc: dict) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        return Handler


def _access(scope: str) -> dict:
    kind, _sep, rest = scope.partition(":")
    name, _sep2, actions = rest.rpartition(":")
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}
