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
    directory unless overridden, and returns its exit code and output - as
    C(community.docker.docker_container_exec) does, with the same options and return values.
  - Like M(ansible.builtin.command), it always reports changed (unless in check mode, where nothing runs).
  - A command that exits non-zero fails the task (as with M(ansible.builtin.command)), with its RV(rc) and output;
    use C(failed_when) to decide otherwise.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
attributes:
  check_mode:
    support: partial
    details:
      - In check mode the command is not run (its effect cannot be predicted); the task reports changed after
        checking the options. C(community.docker.docker_container_exec) is skipped in check mode instead.
  diff_mode:
    support: none
options:
  container:
    description: The container's name or ID. It must be running.
    type: str
    required: true
  argv:
    description:
      - The command and its arguments; no quoting is needed.
      - Exactly one of O(argv) or O(command) must be given.
    type: list
    elements: str
  command:
    description:
      - The command as one string, split like a shell would (but not run by one).
      - Exactly one of O(argv) or O(command) must be given.
      - To expand the container's variables, globs or redirects, pass it through a shell, such as
        V(/bin/sh -c "echo $HOME > /tmp/home").
    type: str
  env:
    description:
      - Extra environment variables for the command, over the container's.
      - Values are strings; numbers are taken as their text, booleans are refused (quote them, V("true")).
    type: dict
  user:
    description: Run as this user (V(name), V(uid), V(name:group), V(uid:gid)), resolved against the image.
    type: str
  chdir:
    description: Working directory inside the container (by default the container's).
    type: str
  stdin:
    description:
      - Text sent to the command's standard input.
      - Cannot be given with O(detach=true).
    type: str
  stdin_add_newline:
    description: Append a newline to O(stdin).
    type: bool
    default: true
  strip_empty_ends:
    description:
      - Strip the trailing newlines (and carriage returns) from RV(stdout) and RV(stderr), so
        C(result.stdout == 'kept') holds for a command that printed one line.
    type: bool
    default: true
  tty:
    description:
      - Run the command on a pseudo-terminal. Its standard output and error both go to the terminal, so they are
        returned together in RV(stdout) (with C(\r\n) line ends) and RV(stderr) is empty; O(stdin) is echoed
        back by the terminal, and its end is sent as end-of-file (C(^D)).
      - Ignored with a warning when O(detach=true).
    type: bool
    default: false
  detach:
    description:
      - Start the command and return at once (O(detach=true)) rather than wait for it (the default).
      - A detached command's output is discarded; RV(rc), RV(stdout) and RV(stderr) are not returned, RV(exec_id)
        and RV(pid) are.
    type: bool
    default: false
  timeout:
    description:
      - Seconds before the command is considered hung; the task then fails naming the container. Without it the
        task waits for as long as the command runs.
      - Not used with O(detach=true).
    type: int
notes:
  - Unlike C(docker exec), berth keeps no record of an exec, so RV(exec_id) names nothing the engine can look up;
    follow a detached command by its RV(pid) (a host PID).
seealso:
  - module: berth.engine.container
  - module: berth.engine.container_info
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: Read the configuration inside web
  berth.engine.container_exec:
    container: web
    argv: [cat, /etc/app.conf]
  register: conf

- name: Print it line by line
  ansible.builtin.debug:
    var: conf.stdout_lines

- name: Run a shell pipeline as a given user, in a given directory, with extra environment
  berth.engine.container_exec:
    container: web
    command: /bin/sh -c "ls -l | grep $PATTERN"
    user: nobody
    chdir: /srv/static
    env:
      PATTERN: ".css"

- name: Feed a SQL script to a client on its standard input
  berth.engine.container_exec:
    container: db
    argv: [psql, -U, app]
    stdin: "{{ lookup('ansible.builtin.file', 'schema.sql') }}"

- name: Probe for a file, where a non-zero exit is an answer rather than a failure
  berth.engine.container_exec:
    container: web
    argv: [test, -f, /srv/ready]
  register: ready
  failed_when: ready.rc not in [0, 1]

- name: Check a value, comparing the output exactly (the trailing newline is stripped)
  berth.engine.container_exec:
    container: web
    command: cat /srv/mode
  register: mode
  failed_when: mode.stdout != 'kept'

- name: Start a background job and carry on
  berth.engine.container_exec:
    container: web
    argv: [/usr/local/bin/reindex, --all]
    detach: true
  register: job

- name: Run a program that wants a terminal
  berth.engine.container_exec:
    container: web
    argv: [top, -b, -n, "1"]
    tty: true
"""

RETURN = r"""
rc:
  description: The command's exit code (128 + the signal number when a signal ended it).
  returned: when the command ran to its end (O(detach=false), not in check mode), whatever its exit code
  type: int
  sample: 0
stdout:
  description: Its standard output (with O(tty=true), everything it printed on the terminal).
  returned: when the command ran to its end (O(detach=false), not in check mode), whatever its exit code
  type: str
  sample: kept
stderr:
  description: Its standard error (empty with O(tty=true)).
  returned: when the command ran to its end (O(detach=false), not in check mode), whatever its exit code
  type: str
  sample: ""
stdout_lines:
  description: RV(stdout) split into lines.
  returned: when the command ran to its end (O(detach=false), not in check mode), whatever its exit code
  type: list
  elements: str
  sample: [kept]
stderr_lines:
  description: RV(stderr) split into lines.
  returned: when the command ran to its end (O(detach=false), not in check mode), whatever its exit code
  type: list
  elements: str
  sample: []
exec_id:
  description: An ID for this exec (64 hex digits, as C(community.docker.docker_container_exec) returns).
  returned: success, not in check mode and O(detach=true)
  type: str
  sample: 249d9e3075655baf705ed8f40488c5e9434049cf3431976f1bfdb73741c574c5
pid:
  description: The host PID of the detached command.
  returned: success, not in check mode and O(detach=true)
  type: int
  sample: 48211
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import CONTAINER_EXEC_SPEC, argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
ARGS = argument_spec(**CONTAINER_EXEC_SPEC)
RULES: dict = dict(required_one_of=[("argv", "command")], mutually_exclusive=[("argv", "command")])


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "container_exec")


if __name__ == "__main__":
    main()
