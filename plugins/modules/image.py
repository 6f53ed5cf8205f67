#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image
short_description: Converge a container image on a host — pull, load, import, tag, push, save, remove
version_added: 0.1.0
description:
  - Makes an image present (pulled from a registry, loaded from a docker-archive or OCI archive/layout, imported from a
    rootfs tarball or directory, or required to be present locally) or absent, without any container daemon.
  - Layers are stored once per ChainID, so images that share base layers share their storage.
  - Check mode never contacts a registry for a pull and never writes. With O(pull=always) it cannot know whether the
    registry has a newer image and says so in a warning.
  - Follows M(community.docker.docker_image) where the meaning is the same.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.registry
options:
  name:
    description:
      - Image reference, e.g. V(busybox), V(busybox:1.36), V(registry.example.com:5000/team/app@sha256:...).
      - Normalised like Docker (V(docker.io/library/) is implied for single-component names).
    type: str
    required: true
  tag:
    description: Tag to use when O(name) has none.
    type: str
    default: latest
  state:
    description: V(present) makes the image exist; V(absent) untags it (and removes it with its last tag).
    type: str
    choices: [present, absent]
    default: present
  source:
    description:
      - Where a missing image comes from. V(local) only checks that it exists.
    type: str
    choices: [pull, load, import, local]
    default: pull
  pull:
    description:
      - V(missing) pulls only when the image is not present; V(always) asks the registry every run and updates the tag
        when the registry has a different image.
    type: str
    choices: [missing, always]
    default: missing
  pull_check_mode_behavior:
    description:
      - In check mode with O(pull=always) and the image present, V(image_not_present) reports no change (with a
        warning), V(always) reports a change.
    type: str
    choices: [image_not_present, always]
    default: image_not_present
  platform:
    description: Platform to choose from a multi-platform image, as os/arch[/variant]. Defaults to the host's.
    type: str
  load_path:
    description: Archive to load with O(source=load) (docker-archive tarball, OCI archive tarball or OCI layout dir).
    type: path
  import_path:
    description: Rootfs tarball or directory to import as a one-layer image with O(source=import).
    type: path
  import_config:
    description: Image config for O(source=import), like C(docker import --change).
    type: dict
    default: {}
    suboptions:
      cmd: {description: Default command., type: list, elements: str}
      entrypoint: {description: Entrypoint., type: list, elements: str}
      env: {description: Environment variables., type: dict, default: {}}
      working_dir: {description: Working directory., type: str}
      user: {description: "User (name or uid[:gid]).", type: str}
      labels: {description: Labels., type: dict, default: {}}
      exposed_ports: {description: Exposed ports such as V(80/tcp)., type: list, elements: str, default: []}
      volumes: {description: "Volume paths (a Dockerfile's VOLUME), such as V(/data).", type: list, elements: str, default: []}
  repository:
    description:
      - Also tag the image as this name[:tag] (tag defaults to the source tag). With O(push=true), push there.
    type: str
  push:
    description: Push the image (to O(repository) when given, else to O(name)). Skipped when the registry already has it.
    type: bool
    default: false
  archive_path:
    description: Save the image to this file (skipped when it already holds this image).
    type: path
  archive_format:
    description: V(docker) writes a docker-archive (for C(docker load)/C(podman load)); V(oci) an OCI archive.
    type: str
    choices: [docker, oci]
    default: docker
  force_absent:
    description: Remove the image even if containers use it.
    type: bool
    default: false
  force_tag:
    description: Move O(repository) to this image even if it names another one.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Shows the image ID and tags before and after.
notes:
  - Removing one of several tags only untags, like C(docker rmi); layers still used by other images stay.
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: Pull busybox if missing
  berth.engine.image:
    name: busybox:1.36

- name: Pull from a private registry with a CA
  berth.engine.image:
    name: registry.example.com/team/app
    tag: "2.1"
    ca_cert: /etc/pki/registry-ca.pem
    pull: always

- name: Load an archive made by docker save
  berth.engine.image:
    name: app:1.0
    source: load
    load_path: /srv/images/app.tar

- name: Import a rootfs directory as an image
  berth.engine.image:
    name: base:local
    source: import
    import_path: /srv/rootfs
    import_config:
      cmd: [/bin/sh]
      env: {PATH: /bin:/usr/bin}

- name: Retag and push
  berth.engine.image:
    name: app:1.0
    source: local
    repository: 127.0.0.1:5000/team/app:1.0
    push: true

- name: Save for transport
  berth.engine.image:
    name: app:1.0
    source: local
    archive_path: /tmp/app.tar

- name: Remove a tag
  berth.engine.image:
    name: app:old
    state: absent
"""

RETURN = r"""
image:
  description: The image after the task (null in check mode when it would be created, or after removal).
  returned: success
  type: dict
  contains:
    id: {description: Image ID (config digest)., type: str, sample: "sha256:3f5..."}
    repo_tags: {description: Fully qualified tags., type: list, elements: str, sample: [docker.io/library/busybox:1.36]}
    repo_digests: {description: name@manifest-digest entries., type: list, elements: str}
    manifest_digest: {description: Digest of the stored manifest., type: str}
    layers: {description: "Layers with digest, diff_id, size, media_type.", type: list, elements: dict}
    chain_ids: {description: "Layer ChainIDs, base first.", type: list, elements: str}
    size: {description: Sum of compressed layer sizes., type: int}
    created: {description: Creation time from the config., type: str}
    os: {description: OS., type: str}
    architecture: {description: Architecture., type: str}
actions:
  description: What was done (or would be in check mode).
  returned: always
  type: list
  elements: str
  sample: ["pulled: busybox:1.36 (3f5a0b9c1d2e, 1 layer(s) fetched, 0 reused)"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.image.module_args import (
    REGISTRY_ARGS,
    engine_options,
    registry_options,
)
from ansible_collections.berth.engine.plugins.module_utils.module_glue import argument_spec, run_module

try:
    from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
    from ansible_collections.berth.engine.plugins.module_utils.image.models import ImageRequest
    from ansible_collections.berth.engine.plugins.module_utils.image.service import ImageService
    from ansible_collections.berth.engine.plugins.module_utils.module_glue import validate
except ImportError:
    pass  # run_module() reports the missing dependency

IMPORT_CONFIG = {
    "cmd": {"type": "list", "elements": "str"},
    "entrypoint": {"type": "list", "elements": "str"},
    "env": {"type": "dict", "default": {}},
    "working_dir": {"type": "str"},
    "user": {"type": "str"},
    "labels": {"type": "dict", "default": {}},
    "exposed_ports": {"type": "list", "elements": "str", "default": []},
    "volumes": {"type": "list", "elements": "str", "default": []},
}

ARGS = argument_spec(
    name={"type": "str", "required": True},
    tag={"type": "str", "default": "latest"},
    state={"type": "str", "default": "present", "choices": ["present", "absent"]},
    source={"type": "str", "default": "pull", "choices": ["pull", "load", "import", "local"]},
    pull={"type": "str", "default": "missing", "choices": ["missing", "always"]},
    pull_check_mode_behavior={"type": "str", "default": "image_not_present", "choices": ["image_not_present", "always"]},
    platform={"type": "str"},
    load_path={"type": "path"},
    import_path={"type": "path"},
    import_config={"type": "dict", "default": {}, "options": IMPORT_CONFIG},
    repository={"type": "str"},
    push={"type": "bool", "default": False},
    archive_path={"type": "path"},
    archive_format={"type": "str", "default": "docker", "choices": ["docker", "oci"]},
    force_absent={"type": "bool", "default": False},
    force_tag={"type": "bool", "default": False},
    **REGISTRY_ARGS,
)

OWN = ("name", "tag", "state", "source", "pull", "pull_check_mode_behavior", "platform", "load_path", "import_path",
       "import_config", "repository", "push", "archive_path", "archive_format", "force_absent", "force_tag")


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True,
                           required_if=[("source", "load", ["load_path"]), ("source", "import", ["import_path"])])

    def action() -> dict:
        params = module.params
        request = validate(ImageRequest, {
            "engine": engine_options(params), "registry": registry_options(params),
            **{key: params[key] for key in OWN if params[key] is not None}})
        engine = Engine.open(request.engine.state_root, request.engine.run_root, create=not module.check_mode)
        outcome = ImageService(engine, request, check_mode=module.check_mode).run()
        for warning in outcome.warnings:
            module.warn(warning)
        return outcome.result()

    run_module(module, action)


if __name__ == "__main__":
    main()
