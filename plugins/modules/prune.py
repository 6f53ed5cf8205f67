#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: prune
short_description: Remove unused objects from berth's store
version_added: 0.1.0
description:
  - Removes dangling images (no tag) — or, with O(images_filters.dangling_only=false), every image no container uses —
    then the layers and blobs nothing references any more. Like C(docker image prune).
  - Removes volumes no container uses (anonymous ones unless O(volumes_filters.all=true)), like
    C(docker volume prune). Volumes go first, as in C(docker system prune).
  - Containers and networks are not pruned (remove them with their modules).
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.converge
options:
  images:
    description: Prune images.
    type: bool
    default: false
  images_filters:
    description: Which images to prune.
    type: dict
    default: {}
    suboptions:
      dangling_only:
        description: Only images without tags (V(false) also removes tagged images no container uses).
        type: bool
        default: true
  volumes:
    description: Prune volumes no container uses (running or stopped).
    type: bool
    default: false
  volumes_filters:
    description: Which volumes to prune.
    type: dict
    default: {}
    suboptions:
      all:
        description: Also named volumes (by default only anonymous ones, as C(docker volume prune) since Docker 23).
        type: bool
        default: false
attributes:
  diff_mode:
    details: The diff's before lists the images and volumes the prune removes; after lists none.
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: Remove dangling images and unreferenced layers
  berth.engine.prune:
    images: true

- name: Remove every image no container uses, and the anonymous volumes no container mounts
  berth.engine.prune:
    images: true
    images_filters:
      dangling_only: false
    volumes: true
  register: pruned

- name: How much it freed
  ansible.builtin.debug:
    msg: "{{ pruned.images_space_reclaimed }} bytes of images, {{ pruned.volumes_space_reclaimed }} of volumes"

- name: Named volumes too (like docker volume prune --all)
  berth.engine.prune:
    volumes: true
    volumes_filters:
      all: true
"""

RETURN = r"""
images:
  description: IDs of the images removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["sha256:3f5a0b9c1d2e4f60718293a4b5c6d7e8f9a0b1c2d3e4f5061728394a5b6c7d8e"]
images_space_reclaimed:
  description: Bytes of blobs freed (compressed layers, configs, manifests).
  returned: always
  type: int
  sample: 2154112
volumes:
  description: Names of the volumes removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [0c8d1f3e5a7b9c2d4e6f8a0b1c3d5e7f9a2b4c6d8e0f1a3b5c7d9e2f4a6b8c0d]
volumes_space_reclaimed:
  description: Bytes the removed volumes took on disk.
  returned: always
  type: int
  sample: 40960
actions:
  description: One entry per step of the prune's plan (the same in check mode as in the apply run that follows).
  returned: always
  type: list
  elements: str
  sample: ["remove volume 0c8d1f3e5a7b", "remove image sha256:3f5a0b9c1d2e", "remove unreferenced layers and blobs"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

ARGS = argument_spec(
    images={"type": "bool", "default": False},
    images_filters={"type": "dict", "default": {}, "options": {"dangling_only": {"type": "bool", "default": True}}},
    volumes={"type": "bool", "default": False},
    volumes_filters={"type": "dict", "default": {}, "options": {"all": {"type": "bool", "default": False}}})


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = {}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "prune")


if __name__ == "__main__":
    main()
