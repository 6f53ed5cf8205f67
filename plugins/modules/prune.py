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
  - Other kinds (containers, volumes, networks) arrive with their modules.
extends_documentation_fragment:
  - berth.engine.engine
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
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: Remove dangling images and unreferenced layers
  berth.engine.prune:
    images: true
"""

RETURN = r"""
images:
  description: IDs of the images removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
images_space_reclaimed:
  description: Bytes of blobs freed (compressed layers, configs, manifests).
  returned: always
  type: int
volumes:
  description: Names of the volumes removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
volumes_space_reclaimed:
  description: Bytes the removed volumes took on disk.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.module_glue import argument_spec, run_module

try:
    from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
    from ansible_collections.berth.engine.plugins.module_utils.image.prune import prune_images
    from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
except ImportError:
    pass  # run_module() reports the missing dependency


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(
            images={"type": "bool", "default": False},
            images_filters={"type": "dict", "default": {},
                            "options": {"dangling_only": {"type": "bool", "default": True}}},
            volumes={"type": "bool", "default": False},
            volumes_filters={"type": "dict", "default": {}, "options": {"all": {"type": "bool", "default": False}}}),
        supports_check_mode=True)

    def action() -> dict:
        params = module.params
        result: dict = {"changed": False, "images": [], "images_space_reclaimed": 0, "volumes": [],
                        "volumes_space_reclaimed": 0}
        engine = Engine.open(params["state_root"], params["run_root"], create=not module.check_mode)
        if params["volumes"]:   # volumes before images, the order of `docker system prune`
            removed, reclaimed = VolumeService(engine).prune(all_volumes=params["volumes_filters"]["all"],
                                                             check_mode=module.check_mode)
            result.update(changed=bool(removed), volumes=removed, volumes_space_reclaimed=reclaimed)
        if params["images"]:
            removed, reclaimed = prune_images(engine, dangling_only=params["images_filters"]["dangling_only"],
                                              check_mode=module.check_mode)
            result.update(changed=result["changed"] or bool(removed), images=removed,
                          images_space_reclaimed=reclaimed)
        return result

    run_module(module, action)


if __name__ == "__main__":
    main()
