# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: berth_containers
short_description: The containers of this host's berth engine as inventory hosts
version_added: 0.1.0
description:
  - Reads the containers of the berth engine on the controller's own host (O(state_root), O(run_root)) and adds
    each as an inventory host named after the container, with the variables the M(berth.engine.container) module's
    users need and the connection variables of the C(berth.engine.berth) connection plugin, so a play runs inside
    the containers.
  - Reads the engine's records directly, read-only; it takes no lock and writes nothing, so it can be read while
    other plays change the same engine. Only running containers are listed unless O(all) is set, as C(berth ps).
  - Uses a YAML configuration file whose name ends with C(berth.yml) or C(berth.yaml).
  - 'Every host is put in these groups (names made valid as the O(keyed_groups) ones are):
    C(image_<image>), C(network_<network>) for each network it is attached to while it runs,
    C(label_<key>_<value>) for each label, C(compose_<project>) and C(compose_<project>_<service>) for a container
    of a Compose project, and C(running) or C(stopped).'
  - 'Host variables: C(berth_id), C(berth_name), C(berth_image), C(berth_image_id), C(berth_state) (C(created),
    C(running), C(paused), C(restarting) or C(exited)), C(berth_labels), C(berth_networks) (network name to IPv4
    address), C(berth_ports) (the published ports), and C(berth_compose_project)/C(berth_compose_service) when the
    container has the Compose labels.'
author:
  - berth developers (@berth)
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: The name of this plugin; the configuration file is this plugin's when it names it.
    type: str
    required: true
    choices: [berth.engine.berth_containers]
  state_root:
    description:
      - The engine's persistent state directory, as the modules' O(berth.engine.container#module:state_root).
      - Hosts get C(ansible_berth_state_root) when it is not the default, so the connection plugin reaches the same
        engine.
    type: path
    default: /var/lib/berth
  run_root:
    description:
      - The engine's runtime directory, as the modules' O(berth.engine.container#module:run_root).
      - Hosts get C(ansible_berth_run_root) when it is not the default.
    type: path
    default: /run/berth
  all:
    description:
      - List every container, stopped and created ones too (C(berth ps -a)).
      - By default only the containers whose process runs (running, paused or restarting) are listed.
    type: bool
    default: false
  connection_type:
    description:
      - How a play reaches the containers.
      - V(berth) sets C(ansible_connection=berth.engine.berth) and C(ansible_host=<container name>); tasks run
        through the engine's exec, no SSH server needed in the container.
      - V(ssh) sets C(ansible_host) and C(ansible_port) to where the container's O(private_ssh_port) is published
        on the host (C(0.0.0.0) reads as O(default_ip)), or, when it is not published, to the container's address
        on the first of its networks by name and O(private_ssh_port). C(ansible_connection) is left as configured.
    type: str
    choices: [berth, ssh]
    default: berth
  executable:
    description:
      - The C(berth) command the connection plugin runs, set as C(ansible_berth_executable) on every host (a
        command line split as a shell would, so C(/usr/bin/python3 /opt/berth/bin/berth) works too).
      - Not set by default; the connection plugin then finds C(berth) on C(PATH).
    type: str
  private_ssh_port:
    description: The container's port an SSH server listens on, for O(connection_type=ssh).
    type: int
    default: 22
  default_ip:
    description: The host address used for a port published on every address (C(0.0.0.0)), for O(connection_type=ssh).
    type: str
    default: 127.0.0.1
  verbose_output:
    description:
      - Add C(berth_inspect), the container's whole record as C(berth inspect) shows it, to the host variables.
      - The record holds the container's environment, secrets included, so it is off by default (unlike
        community.docker's C(docker_inspect)); O(compose), O(groups), O(keyed_groups) and O(filters) can use
        C(berth_inspect) either way.
    type: bool
    default: false
  filters:
    description:
      - Which containers become hosts, as community.docker's inventory filters. Each entry has one key,
        C(include) or C(exclude), whose value is a Jinja2 condition over the host's variables (those above,
        C(berth_inspect) included).
      - The first entry whose condition is true decides; a container no entry decides on is included.
    type: list
    elements: dict
    default: []
notes:
  - Runs on the controller and reads the engine of the controller's host; its user must be able to read
    O(state_root) (root, as the engine's files are private to root).
  - Host names are container names, so two configuration files reading two engines with containers of the same name
    describe the same host twice; give the containers distinct names or use one file per play.
seealso:
  - module: berth.engine.container
  - module: berth.engine.container_info
"""

EXAMPLES = r"""
# berth.yml: every running container, reached through the berth connection plugin
plugin: berth.engine.berth_containers

# A second engine on the same host, stopped containers too, grouped by the "tier" label and with
# the container's first network address as a variable
plugin: berth.engine.berth_containers
state_root: /srv/berth/state
run_root: /run/berth-srv
all: true
keyed_groups:
  - key: berth_labels.tier | default('none')
    prefix: tier
compose:
  first_ip: berth_networks.values() | sort | first

# Only the containers of the Compose project "shop", but not its database
plugin: berth.engine.berth_containers
filters:
  - include: berth_compose_project == 'shop' and berth_compose_service != 'db'
  - exclude: true

# Containers that run an SSH server, reached over SSH on their published port 22
plugin: berth.engine.berth_containers
connection_type: ssh
groups:
  ssh_reachable: berth_ports | selectattr('container_port', 'equalto', 22) | list | length > 0
"""

from typing import Any

from ansible.errors import AnsibleParserError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

from ansible_collections.berth.engine.plugins.module_utils.errors import BerthError, InvalidInput

DEFAULT_STATE_ROOT = "/var/lib/berth"
DEFAULT_RUN_ROOT = "/run/berth"
CONNECTION_PLUGIN = "berth.engine.berth"
FILE_ENDINGS = ("berth.yml", "berth.yaml")


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "berth.engine.berth_containers"

    def verify_file(self, path: str) -> bool:
        """Only ``*berth.yml``/``*berth.yaml`` files are this plugin's (the rest are other plugins')."""
        return super().verify_file(path) and path.endswith(FILE_ENDINGS)

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            filters = checked_filters(self.get_option("filters"))
            containers = self._containers()
        except BerthError as error:
            raise AnsibleParserError(f"berth inventory {path}: {error}") from None
        for container in containers:
            self._add_container(container, filters)

    def _containers(self) -> list[Any]:
        # imported here: ansible-doc and verify_file need none of the engine
        from ansible_collections.berth.engine.plugins.module_utils.containers.listing import list_containers

        state_root, run_root = self.get_option("state_root"), self.get_option("run_root")
        try:
            return list_containers(state_root, run_root, include_stopped=self.get_option("all"))
        except PermissionError as error:
            raise InvalidInput(f"cannot read the engine's records: {error.strerror}: {error.filename}",
                               field="state_root",
                               hint="read the inventory as the user that owns the engine's state (root)") from None

    def _add_container(self, container: Any, filters: list[tuple[str, str | bool]]) -> None:
        variables = host_variables(container)
        variables.update(self._connection_variables(container))
        if not self._included(filters, {**variables, "berth_inspect": container.document}):
            return
        name = container.name
        self.inventory.add_host(name)
        shown = dict(variables, berth_inspect=container.document) if self.get_option("verbose_output") else variables
        for key, value in shown.items():
            self.inventory.set_variable(name, key, value)
        for group in default_groups(container):
            self.inventory.add_child(self.inventory.add_group(self._sanitize_group_name(group)), name)
        self._construct(name, {**variables, "berth_inspect": container.document})

    def _construct(self, name: str, variables: dict[str, Any]) -> None:
        """The Constructable options: compose, groups, keyed_groups (strict as configured)."""
        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)

    def _included(self, filters: list[tuple[str, str | bool]], variables: dict[str, Any]) -> bool:
        for kind, condition in filters:
            if isinstance(condition, bool):   # YAML's true/false: nothing to template
                if condition:
                    return kind == "include"
                continue
            try:
                matched = boolean(self._compose(condition, variables), strict=False)
            except Exception as error:   # any templating failure names the filter, never a traceback
                raise AnsibleParserError(f"berth inventory: filters: {kind}: {condition!r} failed for container "
                                         f"{variables['berth_name']}: {error}") from None
            if matched:
                return kind == "include"
        return True

    def _connection_variables(self, container: Any) -> dict[str, Any]:
        found: dict[str, Any] = {}
        state_root, run_root = self.get_option("state_root"), self.get_option("run_root")
        if state_root != DEFAULT_STATE_ROOT:
            found["ansible_berth_state_root"] = state_root
        if run_root != DEFAULT_RUN_ROOT:
            found["ansible_berth_run_root"] = run_root
        if self.get_option("executable"):
            found["ansible_berth_executable"] = self.get_option("executable")
        if self.get_option("connection_type") == "berth":
            return {"ansible_connection": CONNECTION_PLUGIN, "ansible_host": container.name, **found}
        return {**ssh_address(container, self.get_option("private_ssh_port"), self.get_option("default_ip")), **found}


def host_variables(container: Any) -> dict[str, Any]:
    """The ``berth_*`` host variables of a listed container (containers/listing.py's ListedContainer)."""
    variables: dict[str, Any] = {
        "berth_id": container.id, "berth_name": container.name, "berth_image": container.image,
        "berth_image_id": container.image_id, "berth_state": container.state, "berth_labels": dict(container.labels),
        "berth_networks": dict(container.networks), "berth_ports": [dict(port) for port in container.ports]}
    if container.compose_project is not None:
        variables["berth_compose_project"] = container.compose_project
    if container.compose_service is not None:
        variables["berth_compose_service"] = container.compose_service
    return variables


def default_groups(container: Any) -> list[str]:
    """The groups every host is put in, unsanitized (the plugin makes them valid names)."""
    groups = [f"image_{container.image}", *(f"network_{name}" for name in container.networks),
              *(f"label_{key}_{value}" for key, value in container.labels.items())]
    if container.compose_project is not None:
        groups.append(f"compose_{container.compose_project}")
        if container.compose_service is not None:
            groups.append(f"compose_{container.compose_project}_{container.compose_service}")
    groups.append("running" if container.running else "stopped")
    return groups


def ssh_address(container: Any, private_port: int, default_ip: str) -> dict[str, Any]:
    """Where the container's SSH port is reached from the host: its published port, else its own address."""
    for port in container.ports:
        if port.get("container_port") == private_port and port.get("proto", "tcp") == "tcp":
            host_ip = port.get("host_ip") or "0.0.0.0"
            return {"ansible_host": default_ip if host_ip == "0.0.0.0" else host_ip, "ansible_port": port["host_port"]}
    addresses = [ip for _name, ip in sorted(container.networks.items()) if ip]
    if addresses:
        return {"ansible_host": addresses[0], "ansible_port": private_port}
    return {"ansible_host": default_ip, "ansible_port": private_port}


def checked_filters(filters: Any) -> list[tuple[str, str | bool]]:
    """The ``filters`` option as (include|exclude, condition) pairs; InvalidInput naming a malformed entry."""
    checked = []
    for index, entry in enumerate(filters or []):
        if not isinstance(entry, dict) or len(entry) != 1 or next(iter(entry)) not in ("include", "exclude"):
            raise InvalidInput(f"entry {index + 1} is {entry!r}", field="filters",
                               hint="give each entry one key, include or exclude, with a Jinja2 condition as its value")
        kind, condition = next(iter(entry.items()))
        if not isinstance(condition, (str, bool)) or (isinstance(condition, str) and not condition.strip()):
            raise InvalidInput(f"entry {index + 1} ({kind}) has no condition", field="filters",
                               hint="write a Jinja2 condition over the host variables, e.g. berth_state == 'running'")
        checked.append((kind, condition))
    return checked
