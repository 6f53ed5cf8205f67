#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: volume_info
short_description: Inspect volumes in berth's store
version_added: 0.1.0
description:
  - Without O(name), lists every volume. With O(name), inspects that volume (RV(exists) says whether it is there).
  - Reports the mountpoint, driver, options, labels, the containers using the volume and its size on disk.
  - Never changes anything.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.info
options:
  name:
    description: The volume to inspect. Omit to list all.
    type: str
  size:
    description: Measure each volume's size on disk (walks its files).
    type: bool
    default: true
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: Inspect one volume
  berth.engine.volume_info:
    name: pgdata
  register: pgdata

- name: Who uses it
  ansible.builtin.debug:
    msg: "{{ pgdata.volume.users }}"

- name: Every volume, without measuring their sizes (faster on large volumes)
  berth.engine.volume_info:
    size: false
  register: all_volumes

- name: The anonymous ones
  ansible.builtin.debug:
    msg: "{{ all_volumes.volumes | selectattr('anonymous') | map(attribute='name') }}"
"""

RETURN = r"""
exists:
  description: Whether the volume named by O(name) exists.
  returned: when O(name) is given
  type: bool
  sample: true
volume:
  description: The volume's facts (see M(berth.engine.volume)); empty when it does not exist.
  returned: when O(name) is given
  type: dict
  sample: {name: pgdata, driver: local, options: {}, labels: {app: db}, anonymous: false,
           mountpoint: /var/lib/berth/volumes/pgdata/_data, users: [db], mounted: null, size: 40960}
volumes:
  description: Every volume's facts.
  returned: when O(name) is not given
  type: list
  elements: dict
  sample: [{name: pgdata, driver: local, options: {}, labels: {}, anonymous: false,
            mountpoint: /var/lib/berth/volumes/pgdata/_data, users: [], mounted: null, size: 4096}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

ARGS = argument_spec(name={"type": "str"}, size={"type": "bool", "default": True})


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = {}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "volume_info")


if __name__ == "__main__":
    main()
