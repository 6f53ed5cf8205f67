#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: volume
short_description: Converge a named volume (the local driver) in berth's store
version_added: 0.1.0
description:
  - Creates and removes named volumes, directories under the state root (C(<state_root>/volumes/<name>/_data)) that
    outlive the containers mounting them, or, with O(driver_options), a mount made there when a container first
    needs it (like Docker's local driver with C(--opt)).
  - A volume's data is not thrown away by default. When an existing volume's driver, options or labels differ from
    the task, the difference is reported (RV(differences) and a warning) and the volume is kept; O(recreate) decides.
  - Removing a volume that a container uses (running or stopped) is refused; remove the container first.
  - Unused volumes are removed with M(berth.engine.prune).
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.converge
options:
  name:
    description: The volume's name (2-128 characters from V([a-zA-Z0-9_.-]), starting with a letter or digit).
    type: str
    required: true
    aliases: [volume_name]
  state:
    description: V(present) creates the volume when missing; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  driver:
    description: The volume driver; only V(local) exists.
    type: str
    default: local
  driver_options:
    description:
      - Docker's local-driver options. V(type) is a filesystem type (V(tmpfs), V(none) with V(o=bind), or any type
        mount(8) knows), V(device) what to mount (a host directory for binds), V(o) comma-separated mount options
        (V(size=64m), V(bind), V(ro), ...).
      - A tmpfs volume's content lives in memory and is lost when the volume is removed or the host reboots.
    type: dict
    default: {}
  labels:
    description: Labels (metadata) of the volume.
    type: dict
    default: {}
  recreate:
    description:
      - V(never) (the default) keeps an existing volume whatever differs, and reports the difference.
      - V(options-changed) removes and re-creates it (losing its data) when driver, options or labels differ.
      - V(always) re-creates it on every run.
      - A volume in use is never removed; the task fails instead.
    type: str
    choices: [never, options-changed, always]
    default: never
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: A volume for a database's data
  berth.engine.volume:
    name: pgdata
    labels:
      app: db

- name: A 64 MB tmpfs volume
  berth.engine.volume:
    name: scratch
    driver_options:
      type: tmpfs
      device: tmpfs
      o: size=64m,mode=1777

- name: A volume that is a host directory
  berth.engine.volume:
    name: shared
    driver_options:
      type: none
      o: bind
      device: /srv/shared

- name: Remove it (refused while a container uses it)
  berth.engine.volume:
    name: scratch
    state: absent
"""

RETURN = r"""
volume:
  description: The volume's facts (empty when absent; the planned record in check mode).
  returned: always
  type: dict
  contains:
    name:
      description: Its name.
      type: str
      sample: pgdata
    driver:
      description: V(local).
      type: str
      sample: local
    options:
      description: Driver options.
      type: dict
      sample: {type: tmpfs, device: tmpfs, o: size=64m}
    labels:
      description: Labels.
      type: dict
      sample: {app: db}
    mountpoint:
      description: The host path containers mount.
      type: str
      sample: /var/lib/berth/volumes/pgdata/_data
    anonymous:
      description: Whether a container created it for an anonymous mount.
      type: bool
      sample: false
    users:
      description: Names of the containers that mount it.
      type: list
      elements: str
      sample: [db]
    mounted:
      description: For a volume with driver options (a tmpfs or device mount), whether it is mounted now; null
        for a plain directory.
      type: bool
      sample: null
    size:
      description: Bytes it takes on disk.
      type: int
      sample: 40960
actions:
  description:
    - What was done (or would be, in check mode), one entry per step of the task's plan, such as V(create),
      V(recreate), V(remove). A check run lists the same steps an apply run on the same state takes.
  returned: always
  type: list
  elements: str
  sample: [create]
differences:
  description: Options of an existing volume that differ from the task, with before and after values.
  returned: always
  type: list
  elements: dict
  sample: [{option: labels, before: {app: db}, after: {app: other}}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

ARGS = argument_spec(
    name={"type": "str", "required": True, "aliases": ["volume_name"]},
    state={"type": "str", "default": "present", "choices": ["present", "absent"]},
    driver={"type": "str", "default": "local"},
    driver_options={"type": "dict", "default": {}},
    labels={"type": "dict", "default": {}},
    recreate={"type": "str", "default": "never", "choices": ["never", "options-changed", "always"]})


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = {}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "volume")


if __name__ == "__main__":
    main()
