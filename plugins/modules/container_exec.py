#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: container_exec
short_description: Run a command in a running container
version_added: 0.1.0
description:
  - Runs a command in the container's namespaces and cgroup, with the container's environment, user and working
    directory unless overridden, and returns its exit code and output.
  - Like M(ansible.builtin.command), it always reports changed (unless in check mode, where nothing runs).
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
attributes:
  check_mode:
    support: partial
    details: In check mode the command is not run (its effect cannot be predicted); the task reports changed.
  diff_mode:
    support: none
options:
  container:
    description: The container's name or ID.
    type: str
    required: true
  argv:
    description: The command and its arguments.
    type: list
    elements: str
  command:
    description: The command as one string, split like a shell would. One of O(argv) or O(command).
    type: str
  env:
    description: Extra environment variables.
    type: dict
  user:
    description: Run as this user (V(name), V(uid), V(name:group), V(uid:gid)), resolved against the image.
    type: str
  chdir:
    description: Working directory inside the container.
    type: str
  stdin:
    description: Text sent to the command's standard input.
    type: str
  timeout:
    description: Seconds before the command is considered hung (the task then fails).
    type: int
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: Check the configuration inside web
  berth.engine.container_exec:
    container: web
    argv: [cat, /etc/app.conf]
  register: conf
"""

RETURN = r"""
rc:
  description: The command's exit code.
  returned: success and not in check mode
  type: int
  sample: 0
stdout:
  description: Its standard output.
  returned: success and not in check mode
  type: str
  sample: "kept\n"
stderr:
  description: Its standard error.
  returned: success and not in check mode
  type: str
  sample: ""
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import CONTAINER_EXEC_SPEC, argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(**CONTAINER_EXEC_SPEC),
                           required_one_of=[("argv", "command")], mutually_exclusive=[("argv", "command")],
                           supports_check_mode=True)
    run(module, "container_exec")


if __name__ == "__main__":
    main()
