"""The login module's logic: verify credentials against a registry, save or
remove them in the Docker-config-like credentials file."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ..registry import credentials as creds
from ..registry.auth import Credentials
from ..registry.client import RegistryClient
from ..registry.tls import TlsPolicy
from .reference import DEFAULT_REGISTRY


def normalise_registry(value: str) -> str:
    host = value.removeprefix("https://").removeprefix("http://").rstrip("/")
    host = host.removesuffix("/v1").removesuffix("/v2")
    if host in ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"):
        return DEFAULT_REGISTRY
    if not host or "/" in host:
        raise InvalidInput(f"{value!r} is not a registry host", field="registry",
                           hint="give host[:port], e.g. registry.example.com:5000")
    return host


def converge_login(params: dict[str, Any], *, check_mode: bool) -> dict[str, Any]:
    registry = normalise_registry(params["registry"])
    path = creds.config_path(params["config_path"])
    existing = creds.lookup(registry, path)
    if params["state"] == "absent":
        changed = existing is not None
        if changed and not check_mode:
            creds.remove(registry, path)
        return {"changed": changed, "registry": registry, "config_path": str(path), "logged_in": False}
    if not params["username"] or params["password"] is None:
        raise InvalidInput("state: present needs username and password", field="username",
                           hint="pass username and password (the password is never logged)")
    wanted = Credentials(params["username"], params["password"])
    changed = existing != wanted
    if (changed or params["reauthorize"]) and not check_mode:
        policy = TlsPolicy(params["validate_certs"], params["ca_cert"], frozenset(params["insecure_registries"]))
        RegistryClient(registry, credentials=wanted, tls=policy).ping()
        if changed:
            creds.store(registry, wanted, path)
    return {"changed": changed, "registry": registry, "config_path": str(path), "logged_in": True}
