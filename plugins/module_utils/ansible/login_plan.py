"""Plan one ``login`` task (plans as data: plan.py): save the credentials
(verified against the registry first) or remove them, in the Docker-config-
like credentials file.

Planning reads the file only. Saved credentials equal to the task's are no
change and the registry is not contacted, unless ``reauthorize``: then an
apply verifies them while planning (a ``GET /v2/`` only reads), and check
mode, which never contacts a registry, does not. A login is not a change to
the engine's store: no engine is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from ..image.reference import DEFAULT_REGISTRY
from ..plan import Plan, Step
from ..registry import credentials as creds
from ..registry.auth import Credentials
from ..registry.client import RegistryClient
from ..registry.tls import TlsPolicy

if TYPE_CHECKING:
    from .image_models import LoginRequest


def normalise_registry(value: str) -> str:
    host = value.removeprefix("https://").removeprefix("http://").rstrip("/")
    host = host.removesuffix("/v1").removesuffix("/v2")
    if host in ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"):
        return DEFAULT_REGISTRY
    if not host or "/" in host:
        raise InvalidInput(f"{value!r} is not a registry host", field="registry",
                           hint="give host[:port], e.g. registry.example.com:5000")
    return host


@dataclass(frozen=True)
class SaveCredentials(Step):
    registry: str
    path: Path
    credentials: Credentials
    tls: TlsPolicy

    def describe(self) -> str:
        return f"log in to {self.registry} as {self.credentials.username}"

    def execute(self, context: Any = None) -> None:
        RegistryClient(self.registry, credentials=self.credentials, tls=self.tls).ping()
        creds.store(self.registry, self.credentials, self.path)


@dataclass(frozen=True)
class RemoveCredentials(Step):
    registry: str
    path: Path

    def describe(self) -> str:
        return f"log out of {self.registry}"

    def execute(self, context: Any = None) -> None:
        creds.remove(self.registry, self.path)


def plan_login(request: LoginRequest, *, may_contact: bool) -> Plan:
    """``may_contact``: whether planning may ask the registry (an apply's
    ``reauthorize``); check mode passes False."""
    registry = normalise_registry(request.registry)
    path = creds.config_path(request.config_path)
    existing = creds.lookup(registry, path)
    plan = Plan(before=_view(registry, existing))
    if request.state == "absent":
        plan.after = _view(registry, None)
        if existing is not None:
            plan.add(RemoveCredentials(registry, path))
        return plan
    if not request.username or request.password is None:
        raise InvalidInput("state: present needs username and password", field="username",
                           hint="pass username and password (the password is never logged)")
    wanted = Credentials(request.username, request.password)
    tls = TlsPolicy(request.validate_certs, str(request.ca_cert) if request.ca_cert else None,
                    frozenset(request.insecure_registries))
    plan.after = _view(registry, wanted)
    if existing != wanted:
        plan.add(SaveCredentials(registry, path, wanted, tls))
    elif request.reauthorize and may_contact:
        RegistryClient(registry, credentials=wanted, tls=tls).ping()
    return plan


def login_report(request: LoginRequest) -> dict[str, Any]:
    """The module's result keys besides the plan's."""
    return {"registry": normalise_registry(request.registry),
            "config_path": str(creds.config_path(request.config_path)), "logged_in": request.state == "present"}


def _view(registry: str, saved: Credentials | None) -> dict[str, Any]:
    """What the diff shows: never the password."""
    return {"registry": registry, "logged_in": saved is not None, "username": saved.username if saved else None}
