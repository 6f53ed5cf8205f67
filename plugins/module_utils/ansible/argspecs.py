"""The modules' argument specs as plain literals: what AnsiballZ ships to a
host with each module (standard library only, no engine, no pydantic).

The container options come from the engine's option table
(``containers/options.argument_spec``); the block between the GENERATED
markers is written from it by ``python -m tests.unit.ansible.test_argspecs``,
and that test fails when the block is stale. The container models
(``container_models``) and the glue take these literals from here, so a
module's spec and the model it is validated into stay one source.
"""

from __future__ import annotations

from typing import Any

# = layout.DEFAULT_STATE_ROOT / DEFAULT_RUN_ROOT (tests/unit/ansible/test_argspecs.py holds them equal)
ENGINE_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "state_root": {"type": "path", "default": "/var/lib/berth"},
    "run_root": {"type": "path", "default": "/run/berth"},
}

REGISTRY_ARGS: dict[str, dict[str, Any]] = {
    "validate_certs": {"type": "bool", "default": True, "aliases": ["tls_verify"]},
    "ca_cert": {"type": "path", "aliases": ["tls_ca_cert"]},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "config_path": {"type": "path", "default": "~/.docker/config.json"},
    "insecure_registries": {"type": "list", "elements": "str", "default": []},
}

CONTAINER_TASK_SPEC: dict[str, dict[str, Any]] = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "default": "started", "choices": ["present", "started", "stopped", "absent", "healthy"]},
    "image": {"type": "str"},
    "pull": {"type": "raw", "default": "missing"},   # community.docker: also true (always) / false (missing)
    "recreate": {"type": "bool", "default": False},
    "restart": {"type": "bool", "default": False},
    "healthy_wait_timeout": {"type": "float", "default": 300, "aliases": ["healthy_timeout"]},
    "keep_volumes": {"type": "bool", "default": True},
}
CONTAINER_REQUIRED_IF: list[tuple[str, str, list[str]]] = [
    ("state", "present", ["image"]), ("state", "started", ["image"]),
    ("state", "stopped", ["image"]), ("state", "healthy", ["image"])]
CONTAINER_INFO_SPEC: dict[str, dict[str, Any]] = {
    "name": {"type": "str"}, "logs": {"type": "bool", "default": False}, "tail": {"type": "int"},
    "since": {"type": "str"}, "wait_healthy": {"type": "list", "elements": "str"},
    "timeout": {"type": "int", "default": 300},
}
CONTAINER_EXEC_SPEC: dict[str, dict[str, Any]] = {
    "container": {"type": "str", "required": True}, "argv": {"type": "list", "elements": "str"},
    "command": {"type": "str"}, "env": {"type": "dict"}, "user": {"type": "str"}, "chdir": {"type": "str"},
    "stdin": {"type": "str"}, "timeout": {"type": "int"},
    # as community.docker's docker_container_exec
    "stdin_add_newline": {"type": "bool", "default": True}, "strip_empty_ends": {"type": "bool", "default": True},
    "tty": {"type": "bool", "default": False}, "detach": {"type": "bool", "default": False},
}


def argument_spec(**own: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A module's spec: the engine's options (state_root, run_root) and its own (fresh dicts each call)."""
    spec = {name: dict(arg) for name, arg in ENGINE_ARGUMENT_SPEC.items()}
    spec.update(own)
    return spec


def container_argument_spec() -> dict[str, dict[str, Any]]:
    """The container module's own options: the task's and the option table's."""
    return {**CONTAINER_TASK_SPEC, **CONTAINER_OPTIONS}


# BEGIN GENERATED from containers/options.argument_spec() by python -m tests.unit.ansible.test_argspecs
CONTAINER_OPTIONS: dict[str, dict[str, Any]] = {
    'command': {'type': 'raw'},
    'entrypoint': {'type': 'list', 'elements': 'str'},
    'env': {'type': 'dict'},
    'user': {'type': 'str'},
    'working_dir': {'type': 'str'},
    'hostname': {'type': 'str'},
    'read_only': {'type': 'bool'},
    'capabilities': {'type': 'list', 'elements': 'str'},
    'cap_drop': {'type': 'list', 'elements': 'str'},
    'labels': {'type': 'dict'},
    'restart_policy': {'type': 'str', 'choices': ['no', 'on-failure', 'always', 'unless-stopped']},
    'restart_retries': {'type': 'int'},
    'stop_signal': {'type': 'str'},
    'stop_timeout': {'type': 'int'},
    'auto_remove': {'type': 'bool'},
    'log_options': {'type': 'dict'},
    'healthcheck': {'type': 'dict'},
    'oom_score_adj': {'type': 'int'},
    'tmpfs': {'type': 'list', 'elements': 'str'},
    'ulimits': {'type': 'list', 'elements': 'str'},
    'sysctls': {'type': 'dict'},
    'devices': {'type': 'list', 'elements': 'str'},
    'privileged': {'type': 'bool'},
    'volumes': {'type': 'list', 'elements': 'str'},
    'network_mode': {'type': 'str'},
    'networks': {'type': 'list',
                 'elements': 'dict',
                 'options': {'name': {'type': 'str', 'required': True},
                             'ipv4_address': {'type': 'str'},
                             'aliases': {'type': 'list', 'elements': 'str'}}},
    'published_ports': {'type': 'list', 'elements': 'str', 'aliases': ['ports']},
    'publish_all_ports': {'type': 'bool'},
    'mounts': {'type': 'list',
               'elements': 'dict',
               'options': {'target': {'type': 'str', 'required': True},
                           'source': {'type': 'str'},
                           'type': {'type': 'str', 'choices': ['volume', 'bind', 'tmpfs'], 'default': 'volume'},
                           'read_only': {'type': 'bool'},
                           'propagation': {'type': 'str',
                                           'choices': ['private',
                                                       'rprivate',
                                                       'shared',
                                                       'rshared',
                                                       'slave',
                                                       'rslave']},
                           'no_copy': {'type': 'bool'},
                           'tmpfs_size': {'type': 'str'},
                           'tmpfs_mode': {'type': 'str'},
                           'labels': {'type': 'dict'},
                           'volume_driver': {'type': 'str'},
                           'volume_options': {'type': 'dict'}}},
    'cgroup_parent': {'type': 'str'},
    'init': {'type': 'bool'},
    'etc_hosts': {'type': 'dict'},
    'dns_servers': {'type': 'list', 'elements': 'str'},
    'dns_search_domains': {'type': 'list', 'elements': 'str'},
    'dns_opts': {'type': 'list', 'elements': 'str'},
    'log_driver': {'type': 'str', 'choices': ['json-file', 'local', 'none']},
    'memory': {'type': 'str'},
    'memory_reservation': {'type': 'str'},
    'memory_swap': {'type': 'str'},
    'memory_swappiness': {'type': 'int'},
    'cpus': {'type': 'float'},
    'cpu_shares': {'type': 'int'},
    'cpu_period': {'type': 'int'},
    'cpu_quota': {'type': 'int'},
    'cpuset_cpus': {'type': 'str'},
    'cpuset_mems': {'type': 'str'},
    'pids_limit': {'type': 'int'},
    'blkio_weight': {'type': 'int'},
    'device_read_bps': {'type': 'list',
                        'elements': 'dict',
                        'options': {'path': {'type': 'str', 'required': True},
                                    'rate': {'type': 'str', 'required': True}}},
    'device_write_bps': {'type': 'list',
                         'elements': 'dict',
                         'options': {'path': {'type': 'str', 'required': True},
                                     'rate': {'type': 'str', 'required': True}}},
    'device_read_iops': {'type': 'list',
                         'elements': 'dict',
                         'options': {'path': {'type': 'str', 'required': True},
                                     'rate': {'type': 'str', 'required': True}}},
    'device_write_iops': {'type': 'list',
                          'elements': 'dict',
                          'options': {'path': {'type': 'str', 'required': True},
                                      'rate': {'type': 'str', 'required': True}}},
    'paused': {'type': 'bool'},
    'env_file': {'type': 'path'},
    'comparisons': {'type': 'dict'},
    'image_comparison': {'type': 'str', 'choices': ['desired-image', 'current-image'], 'default': 'desired-image'},
    'command_handling': {'type': 'str', 'choices': ['correct', 'compatibility'], 'default': 'correct'},
}
# END GENERATED
