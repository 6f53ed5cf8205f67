#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: container
short_description: Converge a container (created, started, stopped or absent) from an image
version_added: 0.1.0
description:
  - Creates, recreates, updates, starts, stops and removes containers run by berth's own OCI runtime and watched by
    berth's per-host monitor (which keeps their output as JSON-lines logs and applies restart policies), with no
    daemon.
  - The options a task gives are compared with the container's actual configuration (the spec it was made with,
    whoever made it - a playbook or C(berth run)), both sides merged with the image's defaults, so a value that
    comes from the image is never reported as drift and a change made outside the playbook is seen. An option left
    out is not compared. Each option's default comparison is given below; O(comparisons) overrides it per task.
  - A changed option either updates the container in place (restart policy, stop signal and timeout, networks,
    resource limits) or recreates it; a new image ID behind the same name recreates it.
  - Check mode plans over a read-only view of the engine - it cannot pull, write or start anything - and returns
    the same RV(actions) the real run takes; diff mode shows the stated options and the state before and after.
  - Option names follow community.docker's M(community.docker.docker_container) where the meaning is the same;
    berth's older names are kept as aliases.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.converge
  - berth.engine.container_options
options:
  name:
    description: Container name (unique on the host), 1-128 characters from C([a-zA-Z0-9_.-]).
    type: str
    required: true
  state:
    description:
      - V(present) the container exists (created if missing; a running container is left running, a stopped one stopped).
      - V(started) it exists and runs; V(stopped) it exists and does not run; V(absent) it is removed (force).
      - V(healthy) as V(started), then waits (up to O(healthy_timeout)) until its healthcheck passes.
    type: str
    choices: [present, started, stopped, absent, healthy]
    default: started
  image:
    description: The image, by reference (V(docker.io/library/busybox:1.36)) or ID. Required unless O(state=absent).
    type: str
  pull:
    description:
      - V(missing) pulls the image when it is not in the store; V(never) fails then; V(always) pulls every run.
      - As in community.docker, V(true) means V(always) and V(false) means V(missing).
    type: raw
    default: missing
  healthy_wait_timeout:
    description: Seconds O(state=healthy) waits for the healthcheck to pass (community.docker's name).
    type: float
    default: 300
    aliases: [healthy_timeout]
  comparisons:
    description:
      - Per option, how the task's value is compared with the container's - V(strict) (default), V(ignore), or
        V(allow_more_present) (for O(env), O(labels), O(log_options), O(capabilities), O(cap_drop)- extra items
        in the container are fine).
      - C(image) compares the image - V(strict) (default; a new image ID behind O(image) recreates the container) or
        V(ignore) (a container made from another image is kept, as with community.docker; see O(image_comparison)).
    type: dict
  image_comparison:
    description:
      - Which image's defaults (its C(ENV), C(LABEL), C(CMD), C(ENTRYPOINT), C(USER), C(WORKDIR), C(STOPSIGNAL),
        C(HEALTHCHECK)) are merged into both sides when the stated options are compared, as community.docker's option
        of the same name.
      - V(desired-image) merges those of the image O(image) names; V(current-image) those of the image the container
        was made from (the task's image when the container does not exist yet, or its image is gone from the store).
      - V(current-image) suits O(comparisons) C(image=ignore) - a container kept on an older image is compared against
        that image's defaults, not the new one's.
    type: str
    choices: [desired-image, current-image]
    default: desired-image
  command_handling:
    description:
      - How O(command) and O(entrypoint) are read, as community.docker's option of the same name.
      - V(correct) keeps a list as the argument vector (a O(command) string is split as a shell would), and an
        empty value means an empty command, which overrides the image's.
      - V(compatibility) is community.docker's behaviour before its 3.0.0 - a list is joined with spaces, shell
        quoting aside, and the result split as a shell would (V([echo, "a b"]) runs C(echo) with two arguments);
        an empty O(command) or O(entrypoint) is as if it were not given.
    type: str
    choices: [correct, compatibility]
    default: correct
  recreate:
    description: Recreate the container even when nothing differs.
    type: bool
    default: false
  restart:
    description: Restart a running container (with O(state=started)).
    type: bool
    default: false
notes:
  - The per-host monitor is started with the C(berth) CLI (installed by the P(berth.engine.host#role) role, or named
    by the E(BERTH_CLI) environment variable); it exits once no container needs watching.
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: A web server that restarts when it fails
  berth.engine.container:
    name: web
    image: registry.example.com/team/web:1.4
    command: ["httpd", "-f", "-p", "8080"]
    env:
      MODE: production
    restart_policy: on-failure
    restart_retries: 5
    log_options:
      max_size: 10m
      max_file: 3

- name: A worker under tini, with its own names and nameservers, and no log kept
  berth.engine.container:
    name: worker
    image: registry.example.com/team/worker:3
    init: true
    etc_hosts:
      db.internal: 192.0.2.10
      host.internal: host-gateway
    dns_servers: [192.0.2.53]
    dns_search_domains: [corp.example.com]
    dns_opts: ["ndots:2"]
    log_driver: none

- name: On two user-defined networks, with aliases and a fixed address (the network needs a stated subnet)
  berth.engine.container:
    name: api
    image: registry.example.com/team/api:2.3
    networks:
      - name: backend
        ipv4_address: 172.28.0.10
        aliases: [api.backend, db-client]
      - name: frontend
        aliases: [api]

- name: Ports published on the host (all addresses, loopback only, and UDP)
  berth.engine.container:
    name: edge
    image: docker.io/library/nginx:1.27
    published_ports:
      - "8080:80"
      - "127.0.0.1:8443:443"
      - "127.0.0.1:5353:53/udp"

- name: A named volume, a read-only bind mount and a size-limited tmpfs
  berth.engine.container:
    name: db
    image: docker.io/library/postgres:16
    volumes:
      - pgdata:/var/lib/postgresql/data
      - /srv/db/conf:/etc/postgresql/conf.d:ro
    mounts:
      - type: tmpfs
        target: /run/postgresql
        tmpfs_size: 64m
      - type: bind
        source: /srv/db/backups
        target: /backups
        read_only: true

- name: Started, then waited for until its healthcheck passes
  berth.engine.container:
    name: web
    image: registry.example.com/team/web:1.4
    state: healthy
    healthcheck:
      test: [CMD-SHELL, "wget -q -O /dev/null http://127.0.0.1:8080/health || exit 1"]
      interval: 10s
      timeout: 3s
      start_period: 30s
      retries: 3

- name: Environment from a file on the host, with one value overridden
  berth.engine.container:
    name: worker
    image: registry.example.com/team/worker:3
    env_file: /etc/worker/worker.env
    env:
      LOG_LEVEL: debug
      WORKERS: "4"

- name: Overriding the image's entrypoint and command
  berth.engine.container:
    name: migrate
    image: registry.example.com/team/api:2.3
    entrypoint: [/usr/local/bin/manage]
    command: [migrate, --no-input]
    restart_policy: "no"
    state: started

- name: Resource limits, changed in place on a running container (like docker update)
  berth.engine.container:
    name: worker
    image: registry.example.com/team/worker:3
    memory: 512m
    memory_reservation: 256m
    cpu_shares: 512
    pids_limit: 200
    ulimits: ["nofile:1024:2048"]

- name: Tolerating labels and environment variables added by others (extra ones are not drift)
  berth.engine.container:
    name: web
    image: registry.example.com/team/web:1.4
    env:
      MODE: production
    labels:
      team: web
    comparisons:
      env: allow_more_present
      labels: allow_more_present
      stop_timeout: ignore
    restart_policy: unless-stopped

- name: Kept on the image it runs when a newer one is tagged, compared against that image's defaults
  berth.engine.container:
    name: db
    image: registry.example.com/team/db:16
    env:
      MAX_CONNECTIONS: "200"
    comparisons:
      image: ignore
    image_comparison: current-image

- name: A command list written for community.docker before 3.0.0, one item holding two arguments (joined, then split)
  berth.engine.container:
    name: legacy
    image: registry.example.com/team/legacy:3
    command: [/app/serve, "--port 8080"]
    command_handling: compatibility

- name: Stopped, but kept
  berth.engine.container:
    name: batch
    image: registry.example.com/team/batch:2
    state: stopped

- name: Gone
  berth.engine.container:
    name: web
    state: absent
"""

RETURN = r"""
container:
  description: The container's record (inspect-like) after the task; in check mode the record as it is now (empty
    when the container does not exist yet).
  returned: always
  type: dict
  contains:
    id: {description: Container ID (64 hex digits)., type: str}
    name: {description: Container name., type: str}
    image_id: {description: ID of the image it was created from., type: str}
    spec:
      description: The container spec it was made (and last updated in place) with; V(null) and empty values mean
        the image's default.
      type: dict
    stated: {description: The options the task that made or last updated it stated., type: list, elements: str}
    state:
      description: status (created, running, restarting, exited), paused, pid, exit_code, started_at, finished_at,
        oom_killed, restart_count, health.
      type: dict
  sample:
    id: 4c1f0c3a9e1e4b0c8a2f6d5e7b9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b
    name: web
    image_id: sha256:2f6d5e7b9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b4c1f0c3a9e1e4b0c8a
    spec: {image: "docker.io/library/nginx:1.27", env: {MODE: prod}, restart_policy: always}
    stated: [env, restart_policy]
    state: {status: running, paused: false, pid: 4242, restart_count: 0}
actions:
  description: What was (or in check mode would be) done, in order, such as C(create), C(start), C(update restart_policy).
  returned: always
  type: list
  elements: str
  sample: [pull docker.io/library/nginx:1.27, create volume data, create, start]
differences:
  description: Each stated option whose effective value (image defaults merged) differs - option, before, after,
    and whether it updates in place or recreates.
  returned: always
  type: list
  elements: dict
  sample: [{option: restart_policy, before: "no", after: always, update: in_place}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import (
    CONTAINER_REQUIRED_IF,
    argument_spec,
    container_argument_spec,
)
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

ARGS = argument_spec(**container_argument_spec())


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = dict(required_if=CONTAINER_REQUIRED_IF)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "container")


if __name__ == "__main__":
    main()
