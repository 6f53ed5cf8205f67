"""The compose-spec schema's keys and types, as data for validate.py.

Written from compose-spec's ``schema/compose-spec.json``: every key a mapping
may hold, and the type of its value. ``x-*`` keys are allowed wherever the
spec allows extensions (every object below unless ``ext=False``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STR, INT, NUM, BOOL, NULL, ANY = "string", "integer", "number", "boolean", "null", "any"


@dataclass(frozen=True)
class Scalar:
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Obj:
    props: dict[str, Any]
    extra: Any = None          # the type of keys not in props (None: unknown keys are errors)
    ext: bool = True           # x-* keys allowed
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class Seq:
    item: Any


@dataclass(frozen=True)
class One:
    alts: tuple[Any, ...] = field(default_factory=tuple)


def s(*kinds: str) -> Scalar:
    return Scalar(kinds)


String, Int, Bool = s(STR), s(INT, STR), s(BOOL, STR)
Number = s(NUM, STR)
Anything = s(ANY)
ListOfStrings = Seq(String)
StringOrList = One((String, ListOfStrings))
ListOrDict = One((Obj({}, extra=s(STR, NUM, BOOL, NULL), ext=False), Seq(String)))
StrMap = Obj({}, extra=String, ext=False)
Command = One((s(NULL), String, ListOfStrings))
Labels = ListOrDict

Healthcheck = Obj({
    "disable": Bool, "interval": String, "retries": Number, "start_interval": String, "start_period": String,
    "test": One((String, ListOfStrings)), "timeout": String,
})
Resources = Obj({
    "limits": Obj({"cpus": Number, "memory": s(STR, NUM), "pids": Int}),
    "reservations": Obj({"cpus": Number, "memory": s(STR, NUM), "generic_resources": Seq(Anything),
                         "devices": Seq(Anything)}),
})
Deploy = Obj({
    "mode": String, "endpoint_mode": String, "replicas": Int, "labels": Labels, "resources": Resources,
    "restart_policy": Obj({"condition": String, "delay": String, "max_attempts": Int, "window": String}),
    "placement": Obj({}, extra=Anything), "rollback_config": Obj({}, extra=Anything),
    "update_config": Obj({}, extra=Anything),
})
Build = One((String, Obj({
    "context": String, "dockerfile": String, "dockerfile_inline": String, "args": ListOrDict,
    "ssh": ListOrDict, "labels": Labels, "cache_from": ListOfStrings, "cache_to": ListOfStrings,
    "no_cache": Bool, "additional_contexts": ListOrDict, "network": String, "pull": Bool, "target": String,
    "shm_size": s(INT, STR), "extra_hosts": Anything, "isolation": String, "privileged": Bool,
    "secrets": Seq(Anything), "tags": ListOfStrings, "ulimits": Anything, "platforms": ListOfStrings,
    "entitlements": ListOfStrings, "provenance": s(STR, BOOL), "sbom": s(STR, BOOL),
})))
Port = One((s(NUM), String, Obj({
    "name": String, "mode": String, "host_ip": String, "target": Int, "published": s(STR, INT),
    "protocol": String, "app_protocol": String,
})))
ServiceVolume = One((String, Obj({
    "type": String, "source": String, "target": String, "read_only": Bool, "consistency": String,
    "bind": Obj({"propagation": String, "create_host_path": Bool, "recursive": String, "selinux": String}),
    "volume": Obj({"nocopy": Bool, "subpath": String, "labels": Labels}),
    "tmpfs": Obj({"size": s(INT, STR), "mode": Number}),
    "image": Obj({"subpath": String}),
}, required=("type",))))
DependsOn = One((ListOfStrings, Obj({}, ext=False, extra=Obj({
    "condition": String, "required": Bool, "restart": Bool,
}, required=("condition",)))))
ServiceNetworks = One((ListOfStrings, Obj({}, ext=False, extra=One((s(NULL), Obj({
    "aliases": ListOfStrings, "interface_name": String, "ipv4_address": String, "ipv6_address": String,
    "link_local_ips": ListOfStrings, "mac_address": String, "driver_opts": Obj({}, extra=s(STR, NUM)),
    "priority": s(NUM), "gw_priority": s(NUM),
}))))))
EnvFile = One((String, Seq(One((String, Obj({
    "path": String, "format": String, "required": Bool}, required=("path",)))))))
Ulimits = Obj({}, ext=False, extra=One((Int, Obj({"hard": Int, "soft": Int}, required=("soft", "hard")))))
Logging = Obj({"driver": String, "options": Obj({}, extra=s(STR, NUM, NULL), ext=False)})
Extends = One((String, Obj({"service": String, "file": String}, required=("service",), ext=False)))
ConfigOrSecretRef = Seq(One((String, Obj({
    "source": String, "target": String, "uid": String, "gid": String, "mode": Number}))))

SERVICE = Obj({
    "annotations": ListOrDict, "attach": Bool, "blkio_config": Obj({}, extra=Anything), "build": Build,
    "cap_add": ListOfStrings, "cap_drop": ListOfStrings, "cgroup": String, "cgroup_parent": String,
    "command": Command, "configs": ConfigOrSecretRef, "container_name": String,
    "cpu_count": Int, "cpu_percent": Int, "cpu_period": Number, "cpu_quota": Number,
    "cpu_rt_period": Number, "cpu_rt_runtime": Number, "cpu_shares": Number, "cpus": Number,
    "cpuset": String, "credential_spec": Obj({}, extra=Anything), "depends_on": DependsOn,
    "deploy": Deploy, "develop": Obj({}, extra=Anything), "device_cgroup_rules": ListOfStrings,
    "devices": Seq(Anything), "dns": StringOrList, "dns_opt": ListOfStrings, "dns_search": StringOrList,
    "domainname": String, "entrypoint": Command, "env_file": EnvFile, "environment": ListOrDict,
    "expose": Seq(s(STR, NUM)), "extends": Extends, "external_links": ListOfStrings,
    "extra_hosts": One((Obj({}, extra=StringOrList, ext=False), ListOfStrings)), "gpus": Anything,
    "group_add": Seq(s(STR, NUM)), "healthcheck": Healthcheck, "hostname": String, "image": String,
    "init": Bool, "ipc": String, "isolation": String, "label_file": StringOrList, "labels": Labels,
    "links": ListOfStrings, "logging": Logging, "mac_address": String, "mem_limit": s(NUM, STR),
    "mem_reservation": s(STR, INT), "mem_swappiness": Int, "memswap_limit": s(NUM, STR),
    "models": Anything, "network_mode": String, "networks": ServiceNetworks, "oom_kill_disable": Bool,
    "oom_score_adj": Int, "pid": s(STR, NULL), "pids_limit": Number, "platform": String,
    "ports": Seq(Port), "post_start": Seq(Anything), "pre_stop": Seq(Anything), "privileged": Bool,
    "profiles": ListOfStrings, "provider": Obj({}, extra=Anything), "pull_policy": String,
    "pull_refresh_after": String, "read_only": Bool, "restart": String, "runtime": String, "scale": Int,
    "secrets": ConfigOrSecretRef, "security_opt": ListOfStrings, "shm_size": s(NUM, STR),
    "stdin_open": Bool, "stop_grace_period": String, "stop_signal": String,
    "storage_opt": Obj({}, extra=Anything), "sysctls": ListOrDict, "tmpfs": StringOrList, "tty": Bool,
    "ulimits": Ulimits, "use_api_socket": s(BOOL), "user": s(STR, INT), "userns_mode": String, "uts": String,
    "volumes": Seq(ServiceVolume), "volumes_from": ListOfStrings, "working_dir": String,
})
External = One((Bool, Obj({"name": String})))
NETWORK = One((s(NULL), Obj({
    "name": String, "driver": String, "driver_opts": Obj({}, extra=s(STR, NUM), ext=False),
    "ipam": Obj({"driver": String, "config": Seq(Obj({
        "subnet": String, "ip_range": String, "gateway": String, "aux_addresses": StrMap})),
        "options": StrMap}),
    "external": External, "internal": Bool, "enable_ipv4": Bool, "enable_ipv6": Bool, "attachable": Bool,
    "labels": Labels,
})))
VOLUME = One((s(NULL), Obj({
    "name": String, "driver": String, "driver_opts": Obj({}, extra=s(STR, NUM), ext=False),
    "external": External, "labels": Labels,
})))
CONFIG = Obj({"name": String, "content": String, "environment": String, "file": String, "external": External,
              "labels": Labels, "template_driver": String})
SECRET = Obj({"name": String, "environment": String, "file": String, "external": External, "labels": Labels,
              "driver": String, "driver_opts": Obj({}, extra=s(STR, NUM), ext=False), "template_driver": String})
INCLUDE_LONG = Obj({"path": StringOrList, "env_file": StringOrList, "project_directory": String}, ext=False)
INCLUDE = Seq(One((String, INCLUDE_LONG)))
TOP = Obj({
    "version": String, "name": String, "include": INCLUDE,
    "services": Obj({}, extra=SERVICE, ext=False), "networks": Obj({}, extra=NETWORK, ext=False),
    "volumes": Obj({}, extra=VOLUME, ext=False), "configs": Obj({}, extra=CONFIG, ext=False),
    "secrets": Obj({}, extra=SECRET, ext=False), "models": Obj({}, extra=Anything, ext=False),
})
