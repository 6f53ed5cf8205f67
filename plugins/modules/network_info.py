#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: network_info
short_description: Facts about berth networks - addressing, bridge, attached containers
version_added: 0.1.0
description:
  - Without O(name), lists every network. With O(name), inspects those networks (names or IDs); names that do not
    exist are left out of RV(networks) and listed in RV(missing).
  - Never changes anything.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.info
options:
  name:
    description: Networks to inspect. Omit to list all.
    type: list
    elements: str
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: Every network
  berth.engine.network_info:
  register: all_networks

- name: One network's subnet and containers
  berth.engine.network_info:
    name: [backend]
  register: backend

- ansible.builtin.debug:
    msg: "{{ backend.networks[0].subnet }} via {{ backend.networks[0].gateway }}"
  when: backend.networks | length > 0
"""

RETURN = r"""
networks:
  description:
    - The networks, sorted by name, with the same facts as the C(network) value M(berth.engine.network) returns.
    - An overlay network (C(driver=overlay)) also has C(overlay) - C(subnet) (the whole overlay), C(vni), C(port),
      C(local_address), C(mtu), C(peers) (sorted, this host included), C(host_subnet) (this host's slice, also its
      C(subnet)), C(slices) (every peer's slice) and C(device) (the VXLAN device).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 3f0c5b0e8f0e4d2c9a6b7c1d2e3f40516273849a5b6c7d8e9f0a1b2c3d4e5f60
      name: backend
      driver: bridge
      bridge: br-3f0c5b0e8f0e
      subnet: 10.10.0.0/24
      gateway: 10.10.0.1
      ip_range: null
      aux_addresses: {}
      internal: false
      labels: {}
      mtu: null
      default: false
      containers: []
      bridge_present: true
    - id: 9b1c0d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f80
      name: shop
      driver: overlay
      bridge: br-9b1c0d2e3f40
      subnet: 10.240.1.0/24
      gateway: 10.240.1.1
      internal: false
      mtu: 1450
      overlay:
        subnet: 10.240.0.0/16
        vni: 4242
        port: 4789
        local_address: 192.0.2.2
        mtu: 1450
        peers: [192.0.2.1, 192.0.2.2]
        host_subnet: 10.240.1.0/24
        slices: {192.0.2.1: 10.240.0.0/24, 192.0.2.2: 10.240.1.0/24}
        device: vx-9b1c0d2e3f40
      containers: []
      bridge_present: true
missing:
  description: Requested names that do not exist.
  returned: always
  type: list
  elements: str
  sample: [frontend]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

ARGS = argument_spec(name={"type": "list", "elements": "str"})


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = {}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "network_info")


if __name__ == "__main__":
    main()
