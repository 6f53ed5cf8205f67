"""linux.resources of a bundle, applied through the engine's cgroup drivers.

The OCI fields map onto the same ``Resources`` model the container and
cgroup modules use, so a limit means the same thing whoever sets it.
Imported lazily: configs without limits never load the drivers.
"""

from __future__ import annotations

from ..errors import BerthError, InvalidInput


def to_resources(linux_resources: dict, warnings: list[str]) -> dict:
    """Keyword arguments for cgroups.resources.Resources from OCI fields."""
    memory = linux_resources.get("memory") or {}
    cpu = linux_resources.get("cpu") or {}
    pids = linux_resources.get("pids") or {}
    block = linux_resources.get("blockIO") or {}
    swappiness = memory.get("swappiness")
    wanted = {
        "memory": _positive(memory.get("limit")),
        "memory_reservation": _positive(memory.get("reservation")),
        "memory_swap": memory.get("swap") if memory.get("swap") not in (None, 0) else None,
        "memory_swappiness": swappiness if isinstance(swappiness, int) and 0 <= swappiness <= 100 else None,
        "cpu_shares": _positive(cpu.get("shares")),
        "cpu_quota": _positive(cpu.get("quota")),
        "cpu_period": _positive(cpu.get("period")),
        "cpuset_cpus": cpu.get("cpus") or None,
        "cpuset_mems": cpu.get("mems") or None,
        "pids_limit": _positive(pids.get("limit")),
        "blkio_weight": _positive(block.get("weight")),
        "device_read_bps": _rates(block.get("throttleReadBpsDevice")),
        "device_write_bps": _rates(block.get("throttleWriteBpsDevice")),
        "device_read_iops": _rates(block.get("throttleReadIOPSDevice")),
        "device_write_iops": _rates(block.get("throttleWriteIOPSDevice")),
    }
    for key in ("hugepageLimits", "network", "rdma", "unified"):
        if linux_resources.get(key):
            warnings.append(f"linux.resources.{key} is not applied by berth-runtime")
    return {k: v for k, v in wanted.items() if v not in (None, [])}


def has_limits(linux_resources: dict | None) -> bool:
    return bool(linux_resources) and bool(to_resources(linux_resources, []))


def apply(linux_resources: dict, path: str, warnings: list[str]) -> None:
    from ..cgroups.detect import detect, require
    from ..cgroups.resources import Resources
    from ..cgroups.v1.manager import V1Manager
    from ..cgroups.v2.manager import V2Manager

    try:
        resources = Resources(**to_resources(linux_resources, warnings))
    except BerthError as err:
        raise InvalidInput(err.message, field=f"linux.resources ({err.field})", hint=err.hint) from None
    hierarchy = require(detect())
    manager_class = V1Manager if hierarchy.driver == "v1" else V2Manager
    manager = manager_class(path, hierarchy, device=_device)
    manager.apply(resources)
    warnings.extend(manager.warnings)


def _device(path: str, field: str) -> str:
    if _is_major_minor(path):
        return path
    from ..units import device_number

    return device_number(path, field)


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _rates(entries: list[dict] | None) -> list[dict]:
    return [{"path": f"{e['major']}:{e['minor']}", "rate": e["rate"]} for e in entries or []]


def _is_major_minor(text: str) -> bool:
    """``MAJOR:MINOR`` in ASCII digits (a string test: no regex compiled at every runtime start)."""
    major, colon, minor = text.partition(":")
    return bool(colon) and _digits(major) and _digits(minor)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
