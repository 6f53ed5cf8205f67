"""Registry clients for image work: credentials and TLS policy from a task's
registry options. The ``image`` task itself is planned in ``ansible/image_plan.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..registry import credentials as creds
from ..registry.auth import Credentials
from ..registry.client import RegistryClient
from ..registry.tls import TlsPolicy


class RegistryAccess(Protocol):
    """How to reach registries, as a task states it (the image module's
    ansible/image_models.RegistryOptions is one); never logged."""

    validate_certs: bool
    ca_cert: Path | None
    username: str | None
    password: str | None
    config_path: Path
    insecure_registries: list[str]


def make_client(registry: str, options: RegistryAccess) -> RegistryClient:
    """A client for ``registry``: the task's username/password when given,
    else what ``login`` (or ``docker login``) saved for that registry."""
    if options.username is not None:
        credentials = Credentials(options.username, options.password or "")
    else:
        credentials = creds.lookup(registry, options.config_path)
    policy = TlsPolicy(options.validate_certs, str(options.ca_cert) if options.ca_cert else None,
                       frozenset(options.insecure_registries))
    return RegistryClient(registry, credentials=credentials, tls=policy)
