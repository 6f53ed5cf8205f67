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
  description: The networks, sorted by name, with the same facts as the C(network) value M(berth.engine.network)
    returns.
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
missing:
  description: Requested names that do not exist.
  returned: always
  type: list
  elements: str
  sample: [frontend]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import (
    argument_spec,
    open_view,
    run_module,
    validate_params,
)

try:
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkInfoRequest as MODEL
    from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService
except ImportError:
    pass  # run_module() reports the missing dependency

ARGS = argument_spec(name={"type": "list", "elements": "str"})


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True)

    def action() -> dict:
        request = validate_params(MODEL, module.params)
        return {"changed": False, **NetworkService(open_view(request.engine)).info(request.name)}

    run_module(module, action)


if __name__ == "__main__":
    main()
