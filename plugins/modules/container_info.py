#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: container_info
short_description: Facts about containers - state, inspect data and recent logs
version_added: 0.1.0
description:
  - Reads container records (correcting the state of containers whose process died while no monitor watched them)
    and, optionally, their recent log lines. Never changes anything.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.info
options:
  name:
    description: One container (name or ID). Without it, every container is listed.
    type: str
  logs:
    description: Include the container's log entries (with O(name)).
    type: bool
    default: false
  tail:
    description: Only the last N log entries.
    type: int
  since:
    description: Only log entries at or after this RFC 3339 time, such as V(2026-11-30T12:00:00Z).
    type: str
  wait_healthy:
    description:
      - Wait until all these containers (names or IDs) are healthy; fails naming any that turn unhealthy or exit,
        with their last probe output. One task for a whole group. Check mode does not wait.
    type: list
    elements: str
  timeout:
    description: Seconds O(wait_healthy) waits.
    type: int
    default: 300
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: How is web doing?
  berth.engine.container_info:
    name: web
    logs: true
    tail: 20
  register: web

- ansible.builtin.debug:
    msg: "{{ web.container.state.status }} (exit code {{ web.container.state.exit_code }})"

- name: Does it exist at all?
  berth.engine.container_info:
    name: batch
  register: batch

- name: Every container on the host
  berth.engine.container_info:
  register: all_containers

- name: The names of the running ones
  ansible.builtin.debug:
    msg: "{{ all_containers.containers | selectattr('state.status', 'eq', 'running') | map(attribute='name') }}"

- name: Wait until the whole group is healthy (fails naming any that turn unhealthy or exit)
  berth.engine.container_info:
    wait_healthy: [db, api, web]
    timeout: 120

- name: Log lines since a point in time
  berth.engine.container_info:
    name: web
    logs: true
    since: "2026-11-30T12:00:00Z"
"""

RETURN = r"""
exists:
  description: Whether the named container exists.
  returned: when O(name) is given
  type: bool
  sample: true
container:
  description: The container's record - id, name, image, image_id, spec (what it was made with), stated (the
    options its task gave), config, and state (status, paused, pid, exit_code, started_at, finished_at, oom_killed,
    restart_count, health).
  returned: when O(name) is given and it exists
  type: dict
  sample: {id: 4c1f0c3a9e1e, name: web, image: "local/web:1", spec: {env: {MODE: prod}}, stated: [env],
           state: {status: running, pid: 4242}}
containers:
  description: Every container's record (or the awaited ones with O(wait_healthy)).
  returned: when O(name) is not given
  type: list
  elements: dict
  sample: [{id: 4c1f0c3a9e1e, name: web, state: {status: running}}]
stats:
  description: For a running container, from its cgroup - memory_usage, memory_limit, cpu_usage_ns, pids_current,
    oom_kills, frozen (none for a stopped one).
  returned: when O(name) is given and it exists
  type: dict
  sample: {memory_usage: 1048576, memory_limit: 268435456, cpu_usage_ns: 120000000, pids_current: 2, oom_kills: 0,
           frozen: false}
logs:
  description: Log entries (time, stream, log).
  returned: when O(logs=true)
  type: list
  elements: dict
  sample: [{time: "2026-12-01T10:00:00.000000000Z", stream: stdout, log: "ready\n"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import CONTAINER_INFO_SPEC, argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
ARGS = argument_spec(**CONTAINER_INFO_SPEC)
RULES: dict = {}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "container_info")


if __name__ == "__main__":
    main()
