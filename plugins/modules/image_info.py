#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image_info
short_description: List and inspect images in berth's store, with disk usage
version_added: 0.1.0
description:
  - Without O(name), lists every image. With O(name), inspects those images (tags, IDs, short IDs or name@digest);
    names that are not present are left out of RV(images) and listed in RV(missing).
  - Also reports disk usage like C(docker system df), separating layers shared between images from unique ones.
  - Never changes anything.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.info
options:
  name:
    description: Images to inspect. Omit to list all.
    type: list
    elements: str
  disk_usage:
    description: Measure the unpacked size of every layer (walks the store).
    type: bool
    default: false
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: List images
  berth.engine.image_info:
  register: all_images

- name: Inspect one image
  berth.engine.image_info:
    name: [busybox:1.36]
  register: busybox

- name: Disk usage, shared vs unique
  berth.engine.image_info:
    disk_usage: true
  register: df
"""

RETURN = r"""
images:
  description: Inspected images (see M(berth.engine.image) for the fields), plus history and config.
  returned: always
  type: list
  elements: dict
  sample:
    - id: "sha256:3f5a0b9c1d2e4f60718293a4b5c6d7e8f9a0b1c2d3e4f5061728394a5b6c7d8e"
      short_id: 3f5a0b9c1d2e
      repo_tags: [docker.io/library/busybox:1.36]
      size: 2154112
      config: {Cmd: [sh]}
      history: [{created: "2024-09-26T21:31:42Z", created_by: "BusyBox 1.36.1 (glibc), Debian 12"}]
missing:
  description: Requested names that are not present.
  returned: always
  type: list
  elements: str
  sample: [app:2.0]
usage:
  description: Disk usage of the image store.
  returned: always
  type: dict
  contains:
    images: {description: Number of images., type: int, sample: 3}
    dangling: {description: Images without a tag., type: int, sample: 0}
    blobs: {description: Number of stored blobs., type: int, sample: 11}
    blobs_bytes: {description: "Bytes of stored blobs (compressed layers, configs, manifests).", type: int,
                  sample: 31457280}
    layers: {description: Number of layer snapshots., type: int, sample: 5}
    shared_layers: {description: Layer snapshots used by more than one image., type: int, sample: 1}
    layers_bytes: {description: Unpacked layer bytes (with O(disk_usage))., type: int, sample: 83886080}
    shared_bytes: {description: Unpacked bytes of shared layers (with O(disk_usage))., type: int, sample: 4194304}
    unique_bytes: {description: Unpacked bytes of layers used by one image (with O(disk_usage))., type: int,
                   sample: 79691776}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

ARGS = argument_spec(name={"type": "list", "elements": "str"}, disk_usage={"type": "bool", "default": False})


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = {}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "image_info")


if __name__ == "__main__":
    main()
