"""The merged project completed as ``docker compose config`` prints it, and
checked for consistency (references to services, networks, volumes, secrets
and configs; image or build; profiles)."""

from __future__ import annotations

import os
from typing import Any

from ..errors import InvalidInput
from .files import read_dotenv
from .model import Project

_NETWORK_MODES = ("host", "none", "bridge")


def finalize(project: Project, data: dict[str, Any], source: str) -> None:
    services = data.get("services") or {}
    project.extensions = {k: v for k, v in data.items() if k.startswith("x-")}
    active = set(project.profiles)
    enabled = {n: s for n, s in services.items() if _enabled(s, active)}
    project.disabled = {n: s for n, s in services.items() if n not in enabled}
    for name, service in enabled.items():
        project.services[name] = _service(project, name, service, source)
    for name in list(project.disabled):
        # kept normalised so a caller may still start a service it names explicitly (Compose's rule)
        try:
            project.disabled[name] = _service(project, name, project.disabled[name], source)
        except InvalidInput:
            del project.disabled[name]
    _check_dependencies(project, source)
    project.networks = _networks(project, data.get("networks") or {})
    project.volumes = _named(project, data.get("volumes") or {})
    project.configs = _named(project, data.get("configs") or {})
    project.secrets = _named(project, data.get("secrets") or {})
    _check_references(project, source)


def _enabled(service: dict[str, Any], active: set[str]) -> bool:
    wanted = service.get("profiles") or []
    return not wanted or "*" in active or bool(active.intersection(wanted))


def _service(project: Project, name: str, spec: dict[str, Any], source: str) -> dict[str, Any]:
    service = dict(spec)
    service.pop("extends", None)
    field = f"services.{name}"
    if "image" not in service and "build" not in service:
        raise InvalidInput(f"{source}: service {name} has neither an image nor a build context",
                           field=f"{field}.image", hint="set image: (e.g. nginx:1.27) or build: (e.g. .)")
    if "build" in service:
        build = dict(service["build"])
        build.setdefault("context", project.working_dir)
        if "dockerfile" not in build and "dockerfile_inline" not in build:
            build["dockerfile"] = "Dockerfile"
        if build.get("args"):  # a bare ARG takes the project's value, and is dropped without one
            args = {k: (project.environment.get(k) if v is None else v) for k, v in build["args"].items()}
            build["args"] = {k: v for k, v in args.items() if v is not None}
        service["build"] = build
    service.setdefault("command", None)
    service.setdefault("entrypoint", None)
    _environment(project, service, field)
    _network_mode(service, field, source)
    _implicit_dependencies(service)
    _replicas(service, field, source)
    for kind, prefix in (("secrets", "/run/secrets/"), ("configs", "/")):
        if kind in service:
            service[kind] = [_mount_target(ref, prefix) for ref in service[kind]]
    return service


def _mount_target(ref: dict[str, Any], prefix: str) -> dict[str, Any]:
    out = dict(ref)
    target = out.get("target") or out["source"]
    out["target"] = target if target.startswith("/") else prefix + target
    return out


def _environment(project: Project, service: dict[str, Any], field: str) -> None:
    """env_file values under environment; a ``KEY`` without value from the project's environment."""
    values: dict[str, str | None] = {}
    for i, entry in enumerate(service.pop("env_file", None) or []):
        if not os.path.isfile(entry["path"]):
            if entry.get("required", True):
                raise InvalidInput(f"{entry['path']}: env file not found", field=f"{field}.env_file[{i}]",
                                   hint="create it, fix the path, or mark it required: false")
            continue
        values.update(read_dotenv(entry["path"], f"{field}.env_file[{i}]", project.environment))
    values.update(service.get("environment") or {})
    if not values and "environment" not in service:
        return
    service["environment"] = {k: (project.environment.get(k) if v is None else v) for k, v in values.items()}


def _network_mode(service: dict[str, Any], field: str, source: str) -> None:
    mode = service.get("network_mode")
    if mode is None:
        service.setdefault("networks", {"default": None})
        return
    if mode not in _NETWORK_MODES and not mode.startswith(("service:", "container:")):
        raise InvalidInput(f"{source}: {mode!r} is not a network_mode", field=f"{field}.network_mode",
                           hint="use host, none, bridge, service:NAME or container:NAME")
    if service.get("networks"):
        raise InvalidInput(f"{source}: network_mode and networks cannot be used together",
                           field=f"{field}.networks", hint="remove one of them")
    service.pop("networks", None)
    if mode.startswith("service:"):
        deps = dict(service.get("depends_on") or {})
        deps.setdefault(mode[len("service:"):], {"condition": "service_started", "restart": True, "required": True})
        service["depends_on"] = deps


def _implicit_dependencies(service: dict[str, Any]) -> None:
    """links and volumes_from name services a container needs first (compose-go adds them too)."""
    implied: dict[str, dict[str, Any]] = {}
    for link in service.get("links") or []:
        implied.setdefault(link.split(":")[0], {"condition": "service_started", "restart": True, "required": True})
    for source in service.get("volumes_from") or []:
        if not source.startswith("container:"):
            implied.setdefault(source.split(":")[0],
                               {"condition": "service_started", "restart": False, "required": True})
    if implied:
        service["depends_on"] = {**implied, **(service.get("depends_on") or {})}


def _replicas(service: dict[str, Any], field: str, source: str) -> None:
    deploy = service.get("deploy") or {}
    scale, replicas = service.get("scale"), deploy.get("replicas")
    if scale is not None and replicas is not None and scale != replicas:
        raise InvalidInput(f"{source}: scale ({scale}) and deploy.replicas ({replicas}) differ",
                           field=f"{field}.scale", hint="set only one of them")
    count = scale if scale is not None else replicas
    if count is None:
        return
    if count < 0:
        raise InvalidInput(f"{source}: {count} replicas", field=f"{field}.scale", hint="use 0 or more")
    if count > 1 and service.get("container_name"):
        raise InvalidInput(f"{source}: container_name {service['container_name']!r} cannot be used with "
                           f"{count} replicas", field=f"{field}.container_name",
                           hint="remove container_name or use one replica")
    service["scale"] = count
    service["deploy"] = {**deploy, "replicas": count}


def _check_dependencies(project: Project, source: str) -> None:
    for name, service in project.services.items():
        deps = service.get("depends_on") or {}
        for dep, spec in list(deps.items()):
            if dep in project.services:
                continue
            if not spec.get("required", True):
                del deps[dep]  # an optional dependency on an absent service is no dependency
                continue
            why = "is disabled by its profiles" if dep in project.disabled else "is not defined"
            raise InvalidInput(f"{source}: service {name} depends on {dep!r}, which {why}",
                               field=f"services.{name}.depends_on.{dep}",
                               hint="define that service, enable its profile, or set required: false")
    project.service_order()  # a cycle is an error now, not at converge time


def _networks(project: Project, declared: dict[str, Any]) -> dict[str, dict[str, Any]]:
    used = {n for s in project.services.values() for n in (s.get("networks") or {})}
    declared = dict(declared)
    if "default" in used and "default" not in declared:
        declared["default"] = {}
    out = {}
    for key, spec in declared.items():
        if key == "default" and key not in used and not spec:
            continue
        out[key] = _name(project, key, spec)
    return out


def _named(project: Project, declared: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {key: _name(project, key, spec) for key, spec in declared.items()}


def _name(project: Project, key: str, spec: dict[str, Any] | None) -> dict[str, Any]:
    spec = dict(spec or {})
    if spec.get("external"):
        spec.setdefault("name", key)
    else:
        spec.setdefault("name", f"{project.name}_{key}")
    return {"name": spec.pop("name"), **spec}


def _check_references(project: Project, source: str) -> None:
    for name, service in project.services.items():
        field = f"services.{name}"
        for net in service.get("networks") or {}:
            if net not in project.networks:
                raise InvalidInput(f"{source}: service {name} uses network {net!r}, which is not defined",
                                   field=f"{field}.networks.{net}", hint="declare it under the top-level networks:")
        for i, vol in enumerate(service.get("volumes") or []):
            src = vol.get("source")
            if vol["type"] == "volume" and src and src not in project.volumes:
                raise InvalidInput(f"{source}: service {name} uses volume {src!r}, which is not defined",
                                   field=f"{field}.volumes[{i}].source",
                                   hint="declare it under the top-level volumes:, or write ./path for a bind mount")
        for kind in ("secrets", "configs"):
            for i, ref in enumerate(service.get(kind) or []):
                if ref["source"] not in getattr(project, kind):
                    raise InvalidInput(f"{source}: service {name} uses {kind[:-1]} {ref['source']!r}, which is "
                                       "not defined", field=f"{field}.{kind}[{i}].source",
                                       hint=f"declare it under the top-level {kind}:")
        mode = service.get("network_mode") or ""
        if mode.startswith("service:") and mode[8:] not in project.services:
            raise InvalidInput(f"{source}: network_mode {mode!r} names an unknown service",
                               field=f"{field}.network_mode", hint="name a defined service")
