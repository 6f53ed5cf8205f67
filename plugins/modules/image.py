#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image
short_description: Converge a container image on a host — pull, build, commit, load, import, tag, push, save, remove
version_added: 0.1.0
description:
  - Makes an image present (pulled from a registry, loaded from a docker-archive or OCI archive/layout, imported from a
    rootfs tarball or directory, or required to be present locally) or absent, without any container daemon.
  - Layers are stored once per ChainID, so images that share base layers share their storage.
  - Check mode never contacts a registry for a pull and never writes. With O(pull=always) it cannot know whether the
    registry has a newer image and says so in a warning. An apply with O(pull=always) asks the registry what the tag
    names (a C(HEAD) request) and pulls only when that is not the image it has.
  - Follows M(community.docker.docker_image) where the meaning is the same.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.registry
  - berth.engine.attributes
  - berth.engine.attributes.converge
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
    description:
      - V(present) makes the image exist; V(absent) untags it (and removes it with its last tag).
      - Removing an image that containers were made from is refused unless O(force_absent=true); untagging one of
        several tags is not.
    type: str
    choices: [present, absent]
    default: present
  source:
    description:
      - Where a missing image comes from. V(local) only checks that it exists.
      - V(build) builds O(build.path) from its Dockerfile. Every step is cached (keyed by its parent, the expanded
        instruction, the ARG/ENV it sees and, for C(COPY)/C(ADD), the content and metadata of its sources after
        C(.dockerignore)); the task changes only when the image the name points at changes, and check mode computes
        the same keys without running anything to say whether (and from which step) a build would change the image.
      - V(commit) makes an image from a container's writable layer, like C(docker commit); re-running it with the same
        container, layer content and options changes nothing.
    type: str
    choices: [pull, load, import, local, build, commit]
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
        warning), V(always) reports a change (a pull in RV(actions)).
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
  build:
    description:
      - What to build with O(source=build), as M(community.docker.docker_image)'s C(build). The Dockerfile language
        is BuildKit's (see the collection's docs/BUILD.md for the choices where the classic builder differs).
    type: dict
    suboptions:
      path:
        description: "The build context: the directory the Dockerfile's C(COPY)/C(ADD) read from."
        type: path
        required: true
      dockerfile:
        description: The Dockerfile, relative to O(build.path) (or absolute).
        type: str
        default: Dockerfile
      args:
        description: Build arguments (C(--build-arg)); values are text. Arguments no C(ARG) declares are warned about.
        type: dict
        default: {}
      target:
        description: The stage to build; stages the target does not need are skipped. Defaults to the last stage.
        type: str
      nocache:
        description: Run every step again instead of using the cache.
        type: bool
        default: false
      pull:
        description: Pull the base images again before building (check mode cannot ask the registry and warns).
        type: bool
        default: false
      network:
        description: The network of C(RUN) steps that do not state one with C(--network)
          (V(none), V(host) or a berth network).
        type: str
        default: none
      labels:
        description: Labels added to the built image (C(docker build --label)).
        type: dict
        default: {}
      compression:
        description: How the new layers are compressed.
        type: str
        choices: [gzip, zstd]
        default: gzip
  commit:
    description: The container to make an image from with O(source=commit), as C(docker commit).
    type: dict
    suboptions:
      container:
        description: The container's name or ID (running or stopped).
        type: str
        required: true
      changes:
        description:
          - Dockerfile instructions applied to the new image's config (C(docker commit -c)), among C(CMD),
            C(ENTRYPOINT), C(ENV), C(EXPOSE), C(HEALTHCHECK), C(LABEL), C(ONBUILD), C(STOPSIGNAL), C(USER),
            C(VOLUME) and C(WORKDIR).
        type: list
        elements: str
        default: []
      message:
        description: The commit message (the history entry's comment).
        type: str
      author:
        description: The image's author.
        type: str
      pause:
        description: Pause a running container while its layer is read.
        type: bool
        default: true
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
    description: Remove the image even if containers (running or not) were made from it.
    type: bool
    default: false
  force_tag:
    description: Move O(repository) to this image even if it names another one.
    type: bool
    default: false
attributes:
  check_mode:
    details:
      - The task is planned over a read-only view of the engine and the plan returned; a pull is never attempted and the
        registry is never asked about one. RV(actions) lists the steps an apply run on the same state takes, except
        that with O(pull=always) and the image present check mode cannot know whether the registry has a newer image
        (see O(pull_check_mode_behavior)).
  diff_mode:
    details: The image ID and tags before and after (an image the task first pulls, loads or imports has no ID yet).
notes:
  - Removing one of several tags only untags, like C(docker rmi); layers still used by other images stay.
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: Build an image from a Dockerfile (cached; changed only when the image changes)
  berth.engine.image:
    name: shop/web
    tag: "1.4"
    source: build
    build:
      path: /srv/shop/web
      args:
        VERSION: "1.4"
      target: runtime
      labels:
        team: shop

- name: Make an image from a container's changes
  berth.engine.image:
    name: shop/web-debug
    source: commit
    commit:
      container: web
      changes:
        - 'CMD ["sh"]'
        - ENV DEBUG=1
      message: debug
      author: ops

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
  description: The image after the task (null after removal, and in check mode when the task would first get it).
  returned: success
  type: dict
  contains:
    id: {description: Image ID (config digest)., type: str, sample: "sha256:3f5a0b9c1d2e4f60718293a4b5c6d7e8f9a0b1c2d3e4f5061728394a5b6c7d8e"}
    repo_tags: {description: Fully qualified tags., type: list, elements: str, sample: [docker.io/library/busybox:1.36]}
    repo_digests: {description: name@manifest-digest entries., type: list, elements: str,
                   sample: ["docker.io/library/busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7"]}
    manifest_digest: {description: Digest of the stored manifest., type: str,
                      sample: "sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7"}
    layers: {description: "Layers with digest, diff_id, size, media_type.", type: list, elements: dict,
             sample: [{digest: "sha256:a3ed95ca...", diff_id: "sha256:d31505fd...", size: 2154112,
                       media_type: application/vnd.oci.image.layer.v1.tar+gzip}]}
    chain_ids: {description: "Layer ChainIDs, base first.", type: list, elements: str, sample: ["sha256:d31505fd..."]}
    size: {description: Sum of compressed layer sizes., type: int, sample: 2154112}
    created: {description: Creation time from the config., type: str, sample: "2024-09-26T21:31:42Z"}
    os: {description: OS., type: str, sample: linux}
    architecture: {description: Architecture., type: str, sample: amd64}
build:
  description:
    - With O(source=build) or O(source=commit), the build's steps in order and whether each came from the cache; in
      check mode the steps up to the first that would run, which RV(build.from_step) names (null when the whole
      build is cached).
  returned: when O(source) is V(build) or V(commit)
  type: dict
  contains:
    id: {description: The image the build made (null in check mode when a step would run)., type: str,
         sample: "sha256:5b0e9a3c1d2e4f60718293a4b5c6d7e8f9a0b1c2d3e4f5061728394a5b6c7d8e"}
    cached: {description: How many steps came from the cache., type: int, sample: 5}
    steps:
      description: One entry per step with C(stage), C(line), C(instruction), C(cached) and C(image).
      type: list
      elements: dict
      sample: [{stage: "0", line: 2, instruction: "RUN make", cached: true, image: "sha256:1c2d..."}]
    from_step:
      description: The first step that is not (or would not be) cached.
      type: dict
      sample: {stage: "0", line: 4, instruction: "COPY app /app", cached: false, image: null}
    warnings: {description: "The build's warnings (unused build args, ...).", type: list, elements: str, sample: []}
actions:
  description:
    - What was done (or would be, in check mode), one entry per step of the task's plan, in order. A check run lists
      the same steps an apply run on the same state takes (but see O(pull_check_mode_behavior)).
  returned: always
  type: list
  elements: str
  sample: ["pulled: busybox:1.36", "tagged: registry.example.com/team/busybox:1.36"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import REGISTRY_ARGS, argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

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

BUILD = {
    "path": {"type": "path", "required": True},
    "dockerfile": {"type": "str", "default": "Dockerfile"},
    "args": {"type": "dict", "default": {}},
    "target": {"type": "str"},
    "nocache": {"type": "bool", "default": False},
    "pull": {"type": "bool", "default": False},
    "network": {"type": "str", "default": "none"},
    "labels": {"type": "dict", "default": {}},
    "compression": {"type": "str", "default": "gzip", "choices": ["gzip", "zstd"]},
}

COMMIT = {
    "container": {"type": "str", "required": True},
    "changes": {"type": "list", "elements": "str", "default": []},
    "message": {"type": "str"},
    "author": {"type": "str"},
    "pause": {"type": "bool", "default": True},
}

ARGS = argument_spec(
    name={"type": "str", "required": True},
    tag={"type": "str", "default": "latest"},
    state={"type": "str", "default": "present", "choices": ["present", "absent"]},
    source={"type": "str", "default": "pull", "choices": ["pull", "load", "import", "local", "build", "commit"]},
    pull={"type": "str", "default": "missing", "choices": ["missing", "always"]},
    pull_check_mode_behavior={"type": "str", "default": "image_not_present", "choices": ["image_not_present", "always"]},
    platform={"type": "str"},
    load_path={"type": "path"},
    import_path={"type": "path"},
    import_config={"type": "dict", "default": {}, "options": IMPORT_CONFIG},
    build={"type": "dict", "options": BUILD},
    commit={"type": "dict", "options": COMMIT},
    repository={"type": "str"},
    push={"type": "bool", "default": False},
    archive_path={"type": "path"},
    archive_format={"type": "str", "default": "docker", "choices": ["docker", "oci"]},
    force_absent={"type": "bool", "default": False},
    force_tag={"type": "bool", "default": False},
    **REGISTRY_ARGS,
)


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = dict(required_if=[("source", "load", ["load_path"]), ("source", "import", ["import_path"]),
                                ("source", "build", ["build"]), ("source", "commit", ["commit"])])


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "image")


if __name__ == "__main__":
    main()
