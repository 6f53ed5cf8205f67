#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: login
short_description: Log in to (or out of) a container registry
version_added: 0.1.0
description:
  - Verifies the credentials against the registry (basic or bearer-token auth), then saves them in a Docker-config-like
    file (mode 0600) that M(berth.engine.image) — and docker, podman and skopeo — read.
  - The password is never logged. Unchanged credentials report no change without contacting the registry
    (set O(reauthorize) to verify them anyway).
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.converge
options:
  registry:
    description: Registry host[:port]. V(docker.io) for Docker Hub.
    type: str
    required: true
    aliases: [registry_url]
  username:
    description: User name (required with O(state=present)).
    type: str
  password:
    description: Password or token (required with O(state=present)). Never logged.
    type: str
  state:
    description: V(present) logs in; V(absent) removes the saved credentials.
    type: str
    choices: [present, absent]
    default: present
  reauthorize:
    description: Verify the credentials with the registry even when they are already saved.
    type: bool
    default: false
  config_path:
    description: The credentials file.
    type: path
    default: ~/.docker/config.json
  validate_certs:
    description: Verify the registry's TLS certificate (loopback registries may always use plain HTTP).
    type: bool
    default: true
    aliases: [tls_verify]
  ca_cert:
    description: PEM file with the registry's CA.
    type: path
    aliases: [tls_ca_cert]
  insecure_registries:
    description: Registries that may be reached over plain HTTP or unverified TLS.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    details:
      - The credentials file is read and the plan returned; the registry is not contacted (so O(reauthorize) verifies
        nothing in check mode). RV(actions) lists the steps an apply run on the same state takes.
  diff_mode:
    details: Whether credentials are saved for the registry, and the user name, before and after (never the password).
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: Log in to a private registry
  berth.engine.login:
    registry: registry.example.com:5000
    username: deploy
    password: "{{ vault_registry_password }}"

- name: Log in to a registry with its own CA, credentials kept in another file
  berth.engine.login:
    registry: registry.internal:5000
    username: ci
    password: "{{ vault_ci_password }}"
    ca_cert: /etc/ssl/registry-ca.pem
    config_path: /root/.config/berth/auth.json

- name: Check the saved credentials against the registry even when they are unchanged
  berth.engine.login:
    registry: registry.example.com:5000
    username: deploy
    password: "{{ vault_registry_password }}"
    reauthorize: true

- name: Log out
  berth.engine.login:
    registry: registry.example.com:5000
    state: absent
"""

RETURN = r"""
registry:
  description: The normalised registry host.
  returned: always
  type: str
  sample: registry.example.com:5000
config_path:
  description: The credentials file used.
  returned: always
  type: str
  sample: /root/.docker/config.json
logged_in:
  description: Whether credentials are saved after the task.
  returned: always
  type: bool
  sample: true
actions:
  description: One entry per step of the task's plan (the same in check mode as in the apply run that follows).
  returned: always
  type: list
  elements: str
  sample: ["log in to registry.example.com:5000 as deploy"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

# state_root/run_root are accepted (unused) so group/berth.engine.all module_defaults apply cleanly.
ARGS = argument_spec(**{
    "registry": {"type": "str", "required": True, "aliases": ["registry_url"]},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "reauthorize": {"type": "bool", "default": False},
    "config_path": {"type": "path", "default": "~/.docker/config.json"},
    "validate_certs": {"type": "bool", "default": True, "aliases": ["tls_verify"]},
    "ca_cert": {"type": "path", "aliases": ["tls_ca_cert"]},
    "insecure_registries": {"type": "list", "elements": "str", "default": []},
})


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = dict(required_if=[("state", "present", ["username", "password"])])


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "login")


if __name__ == "__main__":
    main()
