#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cgroup
short_description: Converge a standalone cgroup (a slice of CPU, memory, IO and processes)
version_added: 0.1.0
description:
  - Creates, limits and removes a cgroup on cgroup v1, v2 or hybrid hosts, for grouping containers or host
    services under one budget.
  - Only the limits given are managed; a limit left out is left as the kernel has it (like C(docker update)).
  - Check mode lists the exact file writes it would make; diff mode shows the values read from the kernel before and
    after.
  - Options use Docker's names and units (V(512m), cpus V(1.5)). On cgroup v2, O(cpu_shares) becomes C(cpu.weight)
    (1 + (shares - 2) * 9999 / 262142) and O(blkio_weight) becomes C(io.weight).
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.converge
options:
  path:
    description:
      - The cgroup's path below the hierarchy root, such as V(berth/web) or V(batch.slice/jobs). No leading V(/), no V(..).
    type: str
    required: true
  state:
    description: V(present) creates and limits the cgroup; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  memory:
    description: Memory limit, such as V(512m). Minimum V(6m).
    type: str
  memory_reservation:
    description: Soft limit (v1 C(memory.soft_limit_in_bytes), v2 C(memory.low)).
    type: str
  memory_swap:
    description:
      - Memory plus swap, such as V(1g); V(-1) for unlimited swap. Unset with O(memory) set allows as much swap as memory.
    type: str
  memory_swappiness:
    description: Swappiness 0-100 (cgroup v1 only; a warning on v2).
    type: int
  cpus:
    description: CPUs the group may use, such as V(1.5) (sets quota/period).
    type: str
  cpu_shares:
    description: Relative CPU weight (2-262144, default 1024).
    type: int
  cpu_period:
    description: CFS period in microseconds (1000-1000000).
    type: int
  cpu_quota:
    description: CFS quota in microseconds per period (V(-1) unlimited). Not with O(cpus).
    type: int
  cpuset_cpus:
    description: CPUs allowed, such as V(0-2,4).
    type: str
  cpuset_mems:
    description: Memory nodes allowed, such as V(0).
    type: str
  pids_limit:
    description: Maximum number of processes (V(0) or V(-1) for unlimited).
    type: int
  blkio_weight:
    description: Relative block IO weight (10-1000).
    type: int
  device_read_bps:
    description: Read rate limits per block device.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Block device path., type: str, required: true}
      rate: {description: "Bytes per second, such as V(10m).", type: str, required: true}
  device_write_bps:
    description: Write rate limits per block device.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Block device path., type: str, required: true}
      rate: {description: "Bytes per second, such as V(10m).", type: str, required: true}
  device_read_iops:
    description: Read operations per second per block device.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Block device path., type: str, required: true}
      rate: {description: Operations per second., type: str, required: true}
  device_write_iops:
    description: Write operations per second per block device.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Block device path., type: str, required: true}
      rate: {description: Operations per second., type: str, required: true}
  processes:
    description: PIDs to place in the cgroup (ones already there are left alone).
    type: list
    elements: int
    default: []
  absent_processes:
    description:
      - With O(state=absent), what to do with processes still inside. V(refuse) fails; V(kill) sends SIGKILL and
        waits; V(move) moves them to the parent cgroup.
    type: str
    choices: [refuse, kill, move]
    default: refuse
attributes:
  check_mode:
    details:
      - The task is planned through a read-only view of the cgroup (its files' values, its processes) and the plan
        returned; RV(writes) lists the exact file writes an apply on the same state makes.
  diff_mode:
    details: The values read from the kernel before, and the values the plan writes after.
notes:
  - O(state_root) and O(run_root) are accepted so one C(module_defaults) group serves every berth module; a cgroup
    lives in the kernel, not in berth's store.
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: One budget for the batch jobs
  berth.engine.cgroup:
    path: berth-batch
    memory: 2g
    cpus: "1.5"
    pids_limit: 500

- name: Put a host process under it
  berth.engine.cgroup:
    path: berth-batch
    processes: ["{{ job_pid | int }}"]

- name: Remove it, killing what is left
  berth.engine.cgroup:
    path: berth-batch
    state: absent
    absent_processes: kill
"""

RETURN = r"""
writes:
  description: The file writes made (or that would be made in check mode), in order.
  returned: always
  type: list
  elements: dict
  sample: [{controller: memory, file: memory.max, value: "536870912"}]
placed:
  description: PIDs moved into the cgroup.
  returned: always
  type: list
  elements: int
  sample: [4242]
actions:
  description: One entry per step of the task's plan (the same in check mode as in the apply run that follows).
  returned: always
  type: list
  elements: str
  sample: ["created: berth-batch (v2)", "set: memory.max, memory.swap.max, pids.max", "placed: 4242"]
cgroup:
  description: The cgroup's path, driver version (v1/v2), processes and stats (memory, CPU time, pids, OOM kills).
  returned: success
  type: dict
  sample: {path: berth-batch, version: v2, exists: true, processes: [4242],
           stats: {memory_usage: 1048576, memory_limit: 2147483648, cpu_usage_ns: 1200000, pids_current: 1,
                   oom_kills: 0, frozen: false}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

RATE = {"type": "list", "elements": "dict", "default": [],
        "options": {"path": {"type": "str", "required": True}, "rate": {"type": "str", "required": True}}}
RESOURCE_ARGS = {
    "memory": {"type": "str"}, "memory_reservation": {"type": "str"}, "memory_swap": {"type": "str"},
    "memory_swappiness": {"type": "int"}, "cpus": {"type": "str"}, "cpu_shares": {"type": "int"},
    "cpu_period": {"type": "int"}, "cpu_quota": {"type": "int"}, "cpuset_cpus": {"type": "str"},
    "cpuset_mems": {"type": "str"}, "pids_limit": {"type": "int"}, "blkio_weight": {"type": "int"},
    "device_read_bps": RATE, "device_write_bps": RATE, "device_read_iops": RATE, "device_write_iops": RATE,
}


# The typed twin of these options is tasks/cgroup.py's CgroupOptions. Units and ranges are checked once, by
# the engine's CgroupRequest and Resources (standard library; berth-runtime
# and the container engine use the same ones), when the model is built.
ARGS = argument_spec(
    path={"type": "str", "required": True},
    state={"type": "str", "default": "present", "choices": ["present", "absent"]},
    processes={"type": "list", "elements": "int", "default": []},
    absent_processes={"type": "str", "default": "refuse", "choices": ["refuse", "kill", "move"]},
    **RESOURCE_ARGS)


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = {}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "cgroup")


if __name__ == "__main__":
    main()
