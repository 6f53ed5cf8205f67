"""Which registries may be reached over plain HTTP or unverified TLS.

Like Docker: HTTPS verified against the system CAs (or a given CA file) is
the rule; plain HTTP / unverified TLS only for registries on loopback
addresses, or ones the user names (``validate_certs: false`` or the engine
config's ``insecure_registries``).

Other hosts reached for a registry (its token service, storage a blob
download redirects to) get the same rules applied to their own name, and are
verified against the system CAs plus the given CA: a registry's own
exemption never extends to the hosts it names.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field

from ..errors import InvalidInput


def is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class TlsPolicy:
    validate_certs: bool = True
    ca_file: str | None = None
    insecure_registries: frozenset[str] = field(default_factory=frozenset)

    def insecure(self, registry: str) -> bool:
        """True when plain HTTP / unverified TLS is allowed for this registry."""
        return not self.validate_certs or registry in self.insecure_registries or is_loopback(registry)

    def ssl_context(self, registry: str) -> ssl.SSLContext:
        if self.insecure(registry) and self.ca_file is None:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as err:
            raise InvalidInput(f"cannot load CA file {self.ca_file}: {err}", field="ca_cert",
                               hint="give a readable PEM file with the registry's CA certificate") from None

    def plain_http(self, registry: str) -> bool:
        """True when the registry itself may be spoken to over plain HTTP (a
        given CA demands TLS even where verification could be skipped)."""
        return self.insecure(registry) and self.ca_file is None

    def ssl_context_for(self, netloc: str, registry: str) -> ssl.SSLContext:
        """TLS for ``netloc`` (host[:port]) when talking to it for ``registry``."""
        if netloc == registry:
            return self.ssl_context(registry)
        if self.insecure(netloc) and self.ca_file is None:
            return self.ssl_context(netloc)
        context = ssl.create_default_context()
        if self.ca_file is not None:
            try:
                context.load_verify_locations(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as err:
                raise InvalidInput(f"cannot load CA file {self.ca_file}: {err}", field="ca_cert",
                                   hint="give a readable PEM file with the registry's CA certificate") from None
        return context
