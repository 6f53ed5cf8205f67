"""The real registry (Debian's docker-registry) on 127.0.0.1, for tests and benchmarks.

Each instance gets its own storage, port and config; variants add htpasswd
basic auth, TLS from a test CA, or bearer tokens from a TokenIssuer (which
the registry itself validates).
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .peers import require_peer
from .tls import make_test_ca

REGISTRY_BIN = "/usr/bin/docker-registry"
START_TIMEOUT = 15.0


@dataclass
class Registry:
    host: str
    url: str
    storage: Path
    log: Path
    process: subprocess.Popen[bytes]
    ca_path: Path | None = None
    username: str | None = None
    password: str | None = None
    cert_dir: Path | None = None          # for skopeo --*-cert-dir
    extras: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for extra in self.extras:
            extra.stop()
        self.extras.clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_registry(workdir: Path, *, auth: str | None = None, tls: bool = False,
                   token_issuer: Any = None) -> Registry:
    """Start docker-registry; ``auth`` is None, "basic" or "token"."""
    require_peer(REGISTRY_BIN, *(["htpasswd"] if auth == "basic" else []), why="Debian's docker-registry")
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    storage, log = workdir / "storage", workdir / "registry.log"
    storage.mkdir(exist_ok=True)
    config: dict[str, Any] = {
        "version": 0.1, "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
    }
    username = password = None
    if auth == "basic":
        username, password = "berth", secrets.token_urlsafe(12)
        htpasswd = subprocess.run(["htpasswd", "-Bbn", username, password], capture_output=True, text=True,
                                  check=True).stdout
        (workdir / "htpasswd").write_text(htpasswd)
        config["auth"] = {"htpasswd": {"realm": "berth-test", "path": str(workdir / "htpasswd")}}
    elif auth == "token":
        if token_issuer is None:
            raise ValueError("auth='token' needs a token_issuer")
        config["auth"] = token_issuer.registry_auth_config()
        username, password = token_issuer.username, token_issuer.password
    ca_path = cert_dir = None
    if tls:
        ca = make_test_ca(workdir / "tls")
        config["http"]["tls"] = {"certificate": str(ca.server_cert), "key": str(ca.server_key)}
        ca_path = ca.ca_cert
        cert_dir = workdir / "certs.d"
        cert_dir.mkdir(exist_ok=True)
        (cert_dir / "ca.crt").write_bytes(ca.ca_cert.read_bytes())
    config_path = workdir / "config.yml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    with log.open("ab") as log_file:
        process = subprocess.Popen([REGISTRY_BIN, "serve", str(config_path)], stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    scheme = "https" if tls else "http"
    registry = Registry(f"127.0.0.1:{port}", f"{scheme}://127.0.0.1:{port}", storage, log, process, ca_path,
                        username, password, cert_dir)
    try:
        _wait_ready(registry)
    except BaseException:
        registry.stop()
        raise
    return registry


def _wait_ready(registry: Registry) -> None:
    context = ssl.create_default_context(cafile=str(registry.ca_path)) if registry.ca_path else None
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if registry.process.poll() is not None:
            break
        try:
            urllib.request.urlopen(f"{registry.url}/v2/", timeout=2, context=context)
            return
        except urllib.error.HTTPError as err:
            if err.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.1)
    tail = registry.log.read_text(errors="replace")[-2000:] if registry.log.exists() else ""
    raise RuntimeError(f"docker-registry on {registry.host} did not come up within {START_TIMEOUT}s:\n{tail}")
