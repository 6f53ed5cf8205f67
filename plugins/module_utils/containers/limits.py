"""A container's resource limits through the cgroup core (v1, v2, hybrid):
applied by the monitor before the container's process runs, and in place on a
running container, like `docker update`. Stats come from the same manager.

Standard library only: the limits are checked by ``cgroups.resources``, the
same type berth-runtime and the ``cgroup`` module use. The cgroup core is
imported when a function needs it (the CLI's fast lane imports this module).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any


def cgroup_path(container_id: str, parent: str | None = None) -> str:
    """The cgroup the engine names in each bundle's linux.cgroupsPath:
    ``berth-<id>``, under ``cgroup_parent`` when given (e.g. a budget made
    with the cgroup module)."""
    from ..cgroups.base import check_path

    leaf = f"berth-{container_id}"
    return f"{check_path(parent.strip('/'), 'cgroup_parent')}/{leaf}" if parent else leaf


def validate(raw: dict[str, Any]) -> Any:
    """Docker units parsed and ranges checked; an InvalidInput names the option."""
    from ..cgroups.resources import Resources

    return Resources(**raw)


def apply(path: str, raw: dict[str, Any]) -> list[dict[str, str]]:
    """Write the limits the kernel does not already have; the writes made."""
    from ..cgroups.factory import open_manager

    if not raw:
        return []
    writes = open_manager(path).apply(validate(raw))
    return [w.as_dict() for w in writes]


def stats(path: str) -> dict[str, Any]:
    from ..cgroups.factory import open_manager

    return open_manager(path).stats().as_dict()
