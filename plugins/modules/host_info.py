#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_info
short_description: Facts about a host's container engine, kernel features and store
version_added: 0.1.0
description:
  - Reports berth's version, the engine roots, the host's cgroup layout (v1, v2 or hybrid),
    the kernel features the engine relies on, and a summary of the content and layer store.
  - Never changes anything and never creates the state root, so it is safe in check mode and on hosts
    where berth is not set up yet. Like M(community.docker.docker_host_info) for a daemonless engine.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.info
options:
  disk_usage:
    description:
      - Also measure the disk space used by unpacked layers (walks the store; slower on big stores).
    type: bool
    default: false
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: Inspect the engine on this host
  berth.engine.host_info:
  register: berth_host

- name: Require overlayfs
  ansible.builtin.assert:
    that: berth_host.host.features.overlay

- name: Measure the store under a non-default root
  berth.engine.host_info:
    state_root: /srv/berth
    disk_usage: true
"""

RETURN = r"""
host:
  description: Facts about the host and the engine.
  returned: always
  type: dict
  contains:
    berth_version:
      description: Version of the engine.
      type: str
      sample: 0.1.0
    state_root:
      description: The state root inspected.
      type: str
      sample: /var/lib/berth
    run_root:
      description: The run root inspected.
      type: str
      sample: /run/berth
    kernel:
      description: Kernel release.
      type: str
      sample: 6.1.0-27-amd64
    architecture:
      description: Machine architecture as the kernel names it.
      type: str
      sample: x86_64
    euid:
      description: Effective uid the module ran as.
      type: int
      sample: 0
    cgroups:
      description: Cgroup layout; C(mode) is one of V(v1), V(v2), V(hybrid), V(none).
      type: dict
      sample: {mode: hybrid, v1_controllers: {memory: /sys/fs/cgroup/memory}, v2_mount: /sys/fs/cgroup/unified, v2_controllers: []}
    features:
      description: Kernel and host features the engine uses.
      type: dict
      sample: {overlay: true, tmpfs: true, user_namespaces: true, nft: true, ip_forward: true}
    store:
      description: Summary of the content and snapshot store.
      type: dict
      sample: {initialized: true, blobs: 12, blob_bytes: 3012345, snapshots: 4}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

ARGS = argument_spec(disk_usage={"type": "bool", "default": False})


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = {}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "host_info")


if __name__ == "__main__":
    main()
