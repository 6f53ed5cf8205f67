"""A container's resource limits through the cgroup drivers (v1, v2, hybrid):
applied by the monitor before the container's process runs, and in place on a
running container, like `docker update`. Stats come from the same manager."""

from __future__ import annotations

from typing import Any


def cgroup_path(container_id: str) -> str:
    """The cgroup the engine names in each bundle's linux.cgroupsPath."""
    return f"berth-{container_id}"


def validate(raw: dict[str, Any]) -> Any:
    """Docker units checked and parsed; errors name the option."""
    from ..cgroups.resources import Resources
    from ..module_glue import validate as validate_model

    return validate_model(Resources, raw)


def apply(container_id: str, raw: dict[str, Any]) -> list[dict[str, str]]:
    """Write the limits the kernel does not already have; the writes made."""
    from ..cgroups.factory import open_manager

    if not raw:
        return []
    writes = open_manager(cgroup_path(container_id)).apply(validate(raw))
    return [w.as_dict() for w in writes]


def stats(container_id: str) -> dict[str, Any]:
    from ..cgroups.factory import open_manager

    return open_manager(cgroup_path(container_id)).stats().as_dict()
