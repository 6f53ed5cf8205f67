#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compose
short_description: Converge a Compose project (services, networks, volumes) without Docker Compose
version_added: 0.1.0
description:
  - Loads a Compose project (the compose specification - C(compose.yaml) and its override, or O(files), or an inline
    O(definition)) and converges it with berth's own planner, no C(docker compose) and no daemon. The options are
    M(community.docker.docker_compose_v2)'s.
  - The plan is the union of the services' container plans plus the project's networks and volumes, in dependency
    order; independent services are converged in parallel. Containers, networks and volumes get Docker Compose's
    names (C(<project>-<service>-<n>), C(<project>_<key>)) and labels (C(com.docker.compose.project), ...), so
    C(berth compose ps) lists what this module made.
  - A service's containers are recreated when its configuration or image changes, or when the content of a file it
    binds from the project directory, or of one of its configs or secrets, changes; other services keep theirs.
  - A one-shot service that completed is not run again by a converge that changes nothing (C(changed=false)); O(wait)
    does not fail on a one-shot service that exited 0; O(state=absent) removes only what carries the project's labels.
  - Configs and secrets from C(file), C(environment) and C(content) are mounted read-only (secrets under
    C(/run/secrets)); those from C(environment) and C(content) are written under the state root by the apply.
  - A network with C(driver=overlay) is berth's cross-host overlay, its settings under C(x-berth.overlay) (see
    docs/COMPOSE.md).
  - Pulls of services' images, and their builds' base-image pulls, reach registries with the registry options.
  - Variables are interpolated from the module's environment (set with the task's C(environment)), which wins over
    the project directory's C(.env) and O(env_files), as in Compose.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.registry
  - berth.engine.attributes
  - berth.engine.attributes.converge
attributes:
  check_mode:
    details:
      - The project is planned over a read-only view of the engine; RV(actions) lists the steps an apply run on the
        same state takes, images are neither pulled nor built.
  diff_mode:
    details: The diff is the plan's before and after - per container of the project, its state and configuration.
options:
  project_src:
    description:
      - The project directory, on the managed host. Relative paths of the project (binds, O(files), O(env_files),
        C(.env)) are relative to it, and its name is the default project name.
      - Without O(files), the first of C(compose.yaml), C(compose.yml), C(docker-compose.yaml), C(docker-compose.yml)
        in it is the project, with its override file (C(compose.override.yaml), ...) when there is one.
      - One of O(project_src) and O(definition) is required, except with O(state=absent), O(state=stopped) or
        O(state=restarted) and only O(project_name), where the project is found by the C(com.docker.compose.project)
        label of its containers, networks and volumes, as C(docker compose -p NAME down) finds it.
      - With O(definition) it is only the project directory.
    type: path
  project_name:
    description:
      - The project's name. Default the C(COMPOSE_PROJECT_NAME) variable, the top-level C(name) of the project, else
        O(project_src)'s name, normalised as Compose does (lowercase, V([a-z0-9_-])). Required with O(definition).
    type: str
  files:
    description: The compose files, relative to O(project_src), merged in order as Compose merges C(-f) files.
    type: list
    elements: path
    default: []
  definition:
    description:
      - The project inline, as a compose file's content (a mapping with C(services), ...), instead of files.
      - Mutually exclusive with O(files); needs O(project_name).
    type: dict
  env_files:
    description: Files of variables for interpolation, instead of the project directory's C(.env).
    type: list
    elements: path
    default: []
  profiles:
    description: The profiles to enable; services with other profiles are left out.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) creates and starts the project's containers, recreating those whose configuration changed.
      - V(stopped) converges them like V(present), then stops them.
      - V(restarted) converges like V(present) and restarts the running containers it keeps (a change on every
        run).
      - V(absent) removes the project's containers and networks (C(docker compose down)); volumes too with
        O(remove_volumes), images with O(remove_images).
    type: str
    choices: [present, absent, stopped, restarted]
    default: present
  pull:
    description:
      - When to pull a service's C(image). V(policy) follows each service's C(pull_policy) (default V(missing)).
    type: str
    choices: [always, missing, never, policy]
    default: policy
  build:
    description:
      - When to build a service that has a C(build) section. V(policy) builds when the image is missing (or by the
        service's C(pull_policy=build)); V(always) rebuilds (the build cache decides what runs again).
    type: str
    choices: [always, never, policy]
    default: policy
  recreate:
    description:
      - V(auto) recreates a container when its configuration hash or image changed; V(always) recreates every
        container; V(never) keeps existing containers whatever changed.
    type: str
    choices: [auto, always, never]
    default: auto
  remove_orphans:
    description: Remove the project's containers whose service is no longer in the project (they are reported anyway).
    type: bool
    default: false
  remove_volumes:
    description: With O(state=absent), remove the project's named volumes and the containers' anonymous volumes.
    type: bool
    default: false
  remove_images:
    description: With O(state=absent), remove the services' images - V(all) of them, or V(local) those of services
      without an C(image) key (the built ones).
    type: str
    choices: [all, local]
  services:
    description: Converge only these services (and the services they depend on). Default all of them.
    type: list
    elements: str
    default: []
  scale:
    description: Replicas per service (service name to number), over the project's C(deploy.replicas) and C(scale).
    type: dict
    default: {}
  wait:
    description:
      - Wait until the services are running and, with a healthcheck, healthy (a one-shot service that exited 0
        counts as done), at most O(wait_timeout) seconds.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for with O(wait), and for C(service_healthy) and C(service_completed_successfully)
      dependencies.
    type: int
    default: 300
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: The project in /srv/shop (its compose.yaml and .env)
  berth.engine.compose:
    project_src: /srv/shop

- name: Two files merged, a profile, three replicas of web, and wait for health
  berth.engine.compose:
    project_src: /srv/shop
    files: [compose.yaml, compose.prod.yaml]
    profiles: [monitoring]
    scale:
      web: 3
    wait: true

- name: A project inline
  berth.engine.compose:
    project_name: hello
    definition:
      services:
        app:
          image: busybox
          command: [sleep, infinity]
          network_mode: none

- name: Take it down with its volumes (docker compose down -v)
  berth.engine.compose:
    project_src: /srv/shop
    state: absent
    remove_volumes: true
"""

RETURN = r"""
project_name:
  description: The project's name, as loaded.
  returned: always
  type: str
  sample: shop
containers:
  description: The project's containers (after the run; in check mode, as planned), as C(docker compose ps) lists them.
  returned: always
  type: list
  elements: dict
  contains:
    Name:
      description: The container's name.
      type: str
      sample: shop-web-1
    Service:
      description: Its service.
      type: str
      sample: web
    State:
      description: Its state (V(created), V(running), V(exited), ...).
      type: str
      sample: running
    Health:
      description: Its health with a healthcheck (V(starting), V(healthy), V(unhealthy)), else empty.
      type: str
      sample: healthy
    Image:
      description: The image it runs.
      type: str
      sample: busybox:latest
    Labels:
      description: Its labels, Compose's included.
      type: dict
      sample: {com.docker.compose.project: shop, com.docker.compose.service: web}
    Publishers:
      description: Its published ports.
      type: list
      elements: dict
      sample: [{URL: 0.0.0.0, TargetPort: 80, PublishedPort: 8080, Protocol: tcp}]
networks:
  description: The project's networks.
  returned: always
  type: list
  elements: dict
  sample: [{Name: shop_default, Driver: bridge}]
volumes:
  description: The project's volumes.
  returned: always
  type: list
  elements: dict
  sample: [{Name: shop_data, Driver: local}]
images:
  description: The images of the project's services.
  returned: always
  type: list
  elements: dict
  sample: [{ContainerName: shop-web-1, Repository: busybox, Tag: latest, ID: sha256:3f57d9401f8d}]
actions:
  description:
    - "What was done (or would be, in check mode), one entry per step of the plan, worded like Docker Compose's
      progress: V(created: shop-web-1), V(recreated: shop-web-1 (config changed)), V(removed orphan: shop-old-1).
      A check run lists the same steps an apply run on the same state takes."
  returned: always
  type: list
  elements: str
  sample: ["created network: shop_default", "created: shop-db-1", "started: shop-db-1"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import REGISTRY_ARGS, argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

ARGS = argument_spec(
    project_src={"type": "path"},
    project_name={"type": "str"},
    files={"type": "list", "elements": "path", "default": []},
    definition={"type": "dict"},
    env_files={"type": "list", "elements": "path", "default": []},
    profiles={"type": "list", "elements": "str", "default": []},
    state={"type": "str", "default": "present", "choices": ["present", "absent", "stopped", "restarted"]},
    pull={"type": "str", "default": "policy", "choices": ["always", "missing", "never", "policy"]},
    build={"type": "str", "default": "policy", "choices": ["always", "never", "policy"]},
    recreate={"type": "str", "default": "auto", "choices": ["auto", "always", "never"]},
    remove_orphans={"type": "bool", "default": False},
    remove_volumes={"type": "bool", "default": False},
    remove_images={"type": "str", "choices": ["all", "local"]},
    services={"type": "list", "elements": "str", "default": []},
    scale={"type": "dict", "default": {}},
    wait={"type": "bool", "default": False},
    wait_timeout={"type": "int", "default": 300},
    **REGISTRY_ARGS)


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = dict(mutually_exclusive=[("definition", "files")], required_by={"definition": "project_name"})


def main() -> None:
    # project_src or definition, or project_name alone with state absent, stopped or restarted: the task checks
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "compose")


if __name__ == "__main__":
    main()
