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

from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import (
    argument_spec,
    plan_and_apply,
    run_module,
    validate_params,
)

try:
    from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
    from ansible_collections.berth.engine.plugins.module_utils.ansible.prune_plan import PruneImage, plan_image_prune
    from ansible_collections.berth.engine.plugins.module_utils.ansible.models import PruneRequest
    from ansible_collections.berth.engine.plugins.module_utils.plan import Plan
    from ansible_collections.berth.engine.plugins.module_utils.ansible.volume_plan import PruneVolume, plan_volume_prune

    MODEL = PruneRequest
except ImportError:
    pass  # run_module() reports the missing dependency

ARGS = argument_spec(
    images={"type": "bool", "default": False},
    images_filters={"type": "dict", "default": {}, "options": {"dangling_only": {"type": "bool", "default": True}}},
    volumes={"type": "bool", "default": False},
    volumes_filters={"type": "dict", "default": {}, "options": {"all": {"type": "bool", "default": False}}})


def plan_prune(engine: Engine, request: PruneRequest) -> Plan:
    """Volumes before images (the order of `docker system prune`). The diff's
    before lists what goes; after, nothing of it is left."""
    plan = Plan()
    if request.volumes:
        plan.steps += plan_volume_prune(engine, all_volumes=request.volumes_filters.all)
    if request.images:
        plan.steps += plan_image_prune(engine, dangling_only=request.images_filters.dangling_only)
    report = prune_report(engine, request, plan, False)
    plan.before = {"images": report["images"], "volumes": report["volumes"]}
    plan.after = {"images": [], "volumes": []}
    return plan


def prune_report(_engine: Engine, _request: PruneRequest, plan: Plan, _applied: bool) -> dict:
    images = [s for s in plan.steps if isinstance(s, PruneImage)]
    volumes = [s for s in plan.steps if isinstance(s, PruneVolume)]
    return {"images": [s.image_id for s in images], "images_space_reclaimed": sum(s.size for s in images),
            "volumes": [s.name for s in volumes], "volumes_space_reclaimed": sum(s.size for s in volumes)}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True)
    run_module(module, lambda: plan_and_apply(validate_params(MODEL, module.params), check_mode=module.check_mode,
                                              plan=plan_prune, report=prune_report))


if __name__ == "__main__":
    main()
