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
options:
  name:
    description: Images to inspect. Omit to list all.
    type: list
    elements: str
  disk_usage:
    description: Measure the unpacked size of every layer (walks the store).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: N/A
    details: This module never changes anything.
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
missing:
  description: Requested names that are not present.
  returned: always
  type: list
  elements: str
usage:
  description: Disk usage of the image store.
  returned: always
  type: dict
  contains:
    images: {description: Number of images., type: int}
    blobs_bytes: {description: "Bytes of stored blobs (compressed layers, configs, manifests).", type: int}
    layers: {description: Number of layer snapshots., type: int}
    shared_layers: {description: Layer snapshots used by more than one image., type: int}
    layers_bytes: {description: Unpacked layer bytes (with O(disk_usage))., type: int}
    shared_bytes: {description: Unpacked bytes of shared layers (with O(disk_usage))., type: int}
    unique_bytes: {description: Unpacked bytes of layers used by one image (with O(disk_usage))., type: int}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.module_glue import argument_spec, run_module

try:
    from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
    from ansible_collections.berth.engine.plugins.module_utils.image.info import inspect_images
except ImportError:
    pass  # run_module() reports the missing dependency


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(name={"type": "list", "elements": "str"},
                                                       disk_usage={"type": "bool", "default": False}),
                           supports_check_mode=True)

    def action() -> dict:
        params = module.params
        engine = Engine.open(params["state_root"], params["run_root"], create=False)
        return {"changed": False, **inspect_images(engine, params["name"], measure=params["disk_usage"])}

    run_module(module, action)


if __name__ == "__main__":
    main()
