"""A container's volumes and binds around its lifecycle: named volumes made
on first use and anonymous ones for the image's VOLUMEs at create, bind
sources checked, Docker's copy-up into empty volumes, driver-option mounts
made again before a start (after a reboot), and anonymous volumes removed
with the container only when asked (`docker rm -v`)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any, Protocol

from ..engine import Engine
from ..errors import BerthError, Conflict, InvalidInput
from ..mountinfo import holding
from ..volumes import specs
from ..volumes.service import VolumeService
from .bundle import BundleRequest


class ContainerRecord(Protocol):
    """What this module reads of a container's record (record.ContainerRecord):
    a protocol, not an import, as options.py imports this module and the
    record's upgrade of legacy documents imports options."""

    @property
    def config(self) -> dict[str, Any]: ...


def prepare(request: BundleRequest, image_config: dict[str, Any]) -> BundleRequest:
    """The request with the image's VOLUMEs added and every anonymous volume named;
    binds checked (a short-syntax source is created, like Docker's -v). Every
    target is checked again here, whoever built the request: no mount may
    cover /, /proc, /sys or /dev (see specs.clean_target)."""
    check_targets(request.mounts)
    with_image = specs.with_image_volumes(request.mounts, image_config.get("Volumes"), request.tmpfs,
                                          image=request.image)
    mounts = specs.name_anonymous(with_image)
    for item in mounts:
        if item["type"] == "bind":
            _check_bind(item)
    return dataclasses.replace(request, mounts=mounts)


def check_targets(mounts: list[dict[str, Any]]) -> None:
    for item in mounts:
        specs.clean_target(item.get("target"), "mounts", item.get("target"))


def check_binds(mounts: list[dict[str, Any]]) -> None:
    """What a create would refuse about bind sources (check mode asks this too)."""
    for item in mounts:
        if item["type"] == "bind" and not item.get("create_source") and not os.path.exists(item["source"]):
            raise InvalidInput(f"bind source {item['source']} does not exist", field="mounts",
                               hint="create it on the host first (the mounts syntax never creates it)")


def _check_bind(item: dict[str, Any]) -> None:
    source = item["source"]
    check_binds([item])
    if not os.path.exists(source):
        os.makedirs(source, exist_ok=True)
    propagation = item.get("propagation") or ""
    if propagation in ("shared", "rshared", "slave", "rslave"):
        tags = _propagation_of(source)
        allowed = ("shared:",) if "shared" in propagation else ("shared:", "master:")
        if not any(tag.startswith(allowed) for tag in tags):
            raise InvalidInput(f"propagation {propagation} for {source}: its mount is private", field="mounts",
                               hint=f"make the host mount holding it shared first: mount --make-rshared "
                                    f"{_mount_point(source)}")


def _mount_point(path: str) -> str:
    entry = holding(path)
    return entry.mount_point if entry else "/"


def _propagation_of(path: str) -> tuple[str, ...]:
    entry = holding(path)
    return entry.optional if entry else ()


def ensure_volumes(engine: Engine, mounts: list[dict[str, Any]]) -> list[str]:
    """Create the volumes that do not exist yet; their names (to undo a failed create)."""
    service = VolumeService(engine)
    made = []
    with service.meta.transaction() as txn:
        try:
            for item in mounts:
                if item["type"] == "volume":
                    _record, created = service.ensure(txn, item["source"], "local", item.get("volume_options"),
                                                      item.get("labels"), bool(item.get("anonymous")))
                    if created:
                        made.append(item["source"])
        except BaseException:
            for name in made:
                service._destroy(txn, name)
            raise
    return made


def drop_volumes(engine: Engine, names: list[str]) -> None:
    service = VolumeService(engine)
    for name in names:
        with contextlib.suppress(BerthError):
            service.remove(name)


def copy_up(engine: Engine, mounts: list[dict[str, Any]], lowerdirs: list[Path],
            image: str | None = None) -> list[str]:
    """Fill empty volumes from the image's content at their paths (unless
    no_copy); ``image`` names it in errors about its content."""
    service = VolumeService(engine)
    return [m["target"] for m in mounts if m["type"] == "volume" and not m.get("no_copy")
            and service.copy_up(m["source"], lowerdirs, m["target"], image)]


def before_start(engine: Engine, record: ContainerRecord) -> None:
    """Volumes' driver-option mounts and short-syntax bind sources, again after a reboot."""
    service = VolumeService(engine)
    for item in record.config.get("mounts") or []:
        if item["type"] == "volume":
            service.ensure_mounted(item["source"])
        elif item["type"] == "bind" and item.get("create_source") and not os.path.lexists(item["source"]):
            os.makedirs(item["source"], exist_ok=True)  # a host file as the source stays a file


def remove_anonymous(engine: Engine, record: ContainerRecord) -> list[str]:
    """`docker rm -v`: the container's anonymous volumes no other container uses."""
    service = VolumeService(engine)
    removed = []
    for item in record.config.get("mounts") or []:
        if item["type"] == "volume" and item.get("anonymous"):
            with contextlib.suppress(Conflict):
                if service.remove(item["source"]):
                    removed.append(item["source"])
    return removed


def missing_volumes(engine: Engine, mounts: list[dict[str, Any]]) -> list[str]:
    """Named volumes a create would make (for check mode's plan)."""
    service = VolumeService(engine)
    return [m["source"] for m in mounts if m["type"] == "volume" and m["source"] and service.find(m["source"]) is None]
