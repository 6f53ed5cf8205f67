"""Registry clients for image work: credentials and TLS policy from a task's
registry options. The ``image`` task itself is planned in ``converge.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import credentials as creds
from ..registry.auth import Credentials
from ..registry.client import RegistryClient
from ..registry.tls import TlsPolicy

if TYPE_CHECKING:
    from .models import RegistryOptions


def make_client(registry: str, options: RegistryOptions) -> RegistryClient:
    """A client for ``registry``: the task's username/password when given,
    else what ``login`` (or ``docker login``) saved for that registry."""
    if options.username is not None:
        credentials = Credentials(options.username, options.password or "")
    else:
        credentials = creds.lookup(registry, options.config_path)
    policy = TlsPolicy(options.validate_certs, str(options.ca_cert) if options.ca_cert else None,
                       frozenset(options.insecure_registries))
    return RegistryClient(registry, credentials=credentials, tls=policy)
