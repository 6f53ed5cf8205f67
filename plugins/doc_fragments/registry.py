# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # How modules that talk to registries reach them.
    DOCUMENTATION = r"""
options:
  validate_certs:
    description:
      - Verify registries' TLS certificates against the system CAs or O(ca_cert).
      - Registries on loopback addresses (127.0.0.0/8, ::1, localhost) may always use plain HTTP or unverified TLS,
        as Docker allows; set this to V(false) to allow it for the named registry too.
    type: bool
    default: true
    aliases: [tls_verify]
  ca_cert:
    description: PEM file with the CA that signed the registry's certificate.
    type: path
    aliases: [tls_ca_cert]
  username:
    description:
      - Registry user name. Without it, credentials saved by M(berth.engine.login) (or C(docker login))
        in O(config_path) are used.
    type: str
  password:
    description: Registry password or token. Never logged.
    type: str
  config_path:
    description: Docker-config-like credentials file.
    type: path
    default: ~/.docker/config.json
  insecure_registries:
    description: Registries (host[:port]) that may be reached over plain HTTP or unverified TLS.
    type: list
    elements: str
    default: []
"""
