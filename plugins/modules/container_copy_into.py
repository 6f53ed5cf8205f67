#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: container_copy_into
short_description: Copy a file into a berth container, idempotently
version_added: 0.1.0
description:
  - Puts one file (from a file on the host, or given as O(content)) at a path inside a container, with its owner and
    mode, as C(community.docker.docker_container_copy_into) does, with the same options and return values.
  - The file is written only when what the container holds there differs in kind, content (compared by size and
    SHA-256), mode, owner or group; the write is atomic (a temporary file in the same directory, renamed over the
    old one), so the container's processes see the old file or the new one, never a mix.
  - A running container is written through its own mount namespace, so a path on one of its volumes or bind mounts
    lands there; a created or stopped container is written into its writable layer (which is what its next start
    sees; volumes are not mounted then).
  - Every path is resolved inside the container's root; a symbolic link in the container never leads outside it
    (an absolute link, or one climbing with C(..), is resolved as the container's processes would see it).
  - The directory that is to hold the file must exist in the container (as with C(docker cp)).
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.converge
attributes:
  diff_mode:
    details:
      - The diff is the old and new file's text (as M(ansible.builtin.copy) shows it) when both are text and at most
        104448 bytes; otherwise the diff says the content is binary or too large.
      - As in C(community.docker.docker_container_copy_into), O(content) is C(no_log), so Ansible masks its text
        wherever it appears in the result, the diff included; copy from O(path) to see the new text.
options:
  container:
    description: The name or ID of the container to copy the file into.
    type: str
    required: true
  path:
    description:
      - Path to a file on the managed node.
      - Mutually exclusive with O(content). One of O(content) and O(path) is required.
    type: path
  content:
    description:
      - The file's content.
      - For binary data, give it base64-encoded and set O(content_is_b64=true).
      - Mutually exclusive with O(path). One of O(content) and O(path) is required; O(mode) is required with it.
    type: str
  content_is_b64:
    description: Whether O(content) is base64-encoded (it is decoded before it is written).
    type: bool
    default: false
  container_path:
    description:
      - Path of the file inside the container. Must be absolute.
    type: str
    required: true
  follow:
    description:
      - Whether a symbolic link in the container at O(container_path) is followed (resolved inside the container) and
        the file it points to is written. Otherwise the link itself is replaced by the file.
      - Links on the way to the file (its parent directories) are always followed, inside the container's root.
    type: bool
    default: false
  local_follow:
    description:
      - Whether a symbolic link at O(path) is followed. Otherwise the link itself is copied, as a link.
    type: bool
    default: true
  owner_id:
    description:
      - The numeric owner of the file in the container. If given, O(group_id) must be given too.
      - By default the user the container's process runs as (its uid), which is what C(id -u) in it shows; unlike
        community.docker, this needs no shell in the container and works for stopped containers.
    type: int
  group_id:
    description:
      - The numeric group of the file in the container. If given, O(owner_id) must be given too.
      - By default the group of the container's process.
    type: int
  mode:
    description:
      - The file's mode. A number is taken as it is (YAML's V(0644) is octal already); a string is read as octal
        (V('0644'), V('644'), V('0o644')), as M(ansible.builtin.copy) reads it.
      - By default the mode of the file at O(path); required with O(content).
    type: raw
  force:
    description:
      - V(true) writes the file without comparing it with what is there.
      - V(false) writes it only when nothing exists at O(container_path); anything there is left as it is.
      - Unset (the default), the file is written when it differs (see the description).
    type: bool
  ignore_stopped_containers:
    description:
      - V(true) leaves a container that is not running alone (nothing read, nothing written, a warning says so).
      - V(false) copies into created and stopped containers too, into their writable layer.
      - This option is berth's; C(community.docker.docker_container_copy_into) has no such option.
    type: bool
    default: false
notes:
  - Unlike C(community.docker.docker_container_copy_into), the mode of O(mode) given as a string is octal, as
    in M(ansible.builtin.copy), and O(owner_id)/O(group_id) default to the container's user even when it is stopped.
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: Copy a file into the container
  berth.engine.container_copy_into:
    container: web
    path: /srv/site/nginx.conf
    container_path: /etc/nginx/conf.d/site.conf

- name: Write a file from a template's text, owned by root, readable by all
  berth.engine.container_copy_into:
    container: web
    content: "{{ lookup('ansible.builtin.template', 'app.ini.j2') }}"
    container_path: /etc/app/app.ini
    owner_id: 0
    group_id: 0
    mode: "0644"

- name: Binary content, base64-encoded
  berth.engine.container_copy_into:
    container: web
    content: "{{ lookup('ansible.builtin.file', 'logo.png.b64') }}"
    content_is_b64: true
    container_path: /usr/share/nginx/html/logo.png
    mode: "0644"

- name: Put a default config in place only when the container has none
  berth.engine.container_copy_into:
    container: web
    path: /srv/site/defaults.conf
    container_path: /etc/app/local.conf
    force: false
"""

RETURN = r"""
container_path:
  description:
    - The path of the file in the container. Differs from O(container_path) only with O(follow=true), when a link
      was followed (or when O(container_path) had C(.), C(..) or doubled slashes).
  returned: success
  type: str
  sample: /etc/app/app.ini
mode:
  description: The file's mode (octal), as written or as found unchanged.
  returned: success, unless the container was skipped (O(ignore_stopped_containers))
  type: str
  sample: "0644"
owner_id:
  description: The file's owner (uid).
  returned: success, unless the container was skipped (O(ignore_stopped_containers))
  type: int
  sample: 0
group_id:
  description: The file's group (gid).
  returned: success, unless the container was skipped (O(ignore_stopped_containers))
  type: int
  sample: 0
actions:
  description:
    - What was done (or would be, in check mode), one entry per step of the task's plan; a check run lists the
      same steps an apply run on the same state takes.
  returned: always
  type: list
  elements: str
  sample: ["write /etc/app/app.ini (mode 0644, owner 0:0)"]
differences:
  description: What differed between the file in the container and the source, with before and after values.
  returned: always
  type: list
  elements: dict
  sample: [{option: mode, before: "0600", after: "0644"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

ARGS = argument_spec(
    container={"type": "str", "required": True},
    path={"type": "path"},
    content={"type": "str", "no_log": True},
    content_is_b64={"type": "bool", "default": False},
    container_path={"type": "str", "required": True},
    follow={"type": "bool", "default": False},
    local_follow={"type": "bool", "default": True},
    owner_id={"type": "int"},
    group_id={"type": "int"},
    mode={"type": "raw"},
    force={"type": "bool"},
    ignore_stopped_containers={"type": "bool", "default": False})


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = dict(mutually_exclusive=[("path", "content")], required_one_of=[("path", "content")],
                   required_together=[("owner_id", "group_id")], required_by={"content": ["mode"]})


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "container_copy_into")


if __name__ == "__main__":
    main()
