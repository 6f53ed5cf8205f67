"""Named and anonymous volumes of the `local` driver.

One record per volume in the ``volumes`` collection (keyed by name, as
Docker's are) and a directory ``<state_root>/volumes/<name>/_data`` that is
the volume. `driver_options` follow Docker's local driver: ``type``,
``device`` and ``o`` describe a mount (tmpfs, a bind of a host dir, any
filesystem mount(8) knows) made on ``_data`` when a container first needs it
and undone when the volume is removed.

A volume is in use while any container record (running or not) names it;
removing one in use is refused. Removal takes the ``containers`` lock, then
``volumes`` (the lock order), so no container can start using a volume
that is being deleted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import Conflict, InvalidInput, InvalidState, NotFound
from ..fsutil import disk_usage, remove_tree
from ..metadata import Transaction, now
from ..saferoot import open_root
from .specs import validate_volume_name

DRIVER_OPTIONS = ("type", "device", "o")


def validate_options(driver: str, options: dict[str, Any], field: str = "driver_options") -> dict[str, str]:
    if driver != "local":
        raise InvalidInput(f"volume driver {driver!r} is not available", field="driver",
                           hint="berth has the local driver only")
    unknown = sorted(set(options) - set(DRIVER_OPTIONS))
    if unknown:
        raise InvalidInput(f"unknown driver options {unknown}", field=field,
                           hint="the local driver takes type, device and o (as `docker volume create --opt`)")
    values = {str(k): str(v) for k, v in options.items()}
    if values and "type" not in values:
        raise InvalidInput("driver options need a type", field=field,
                           hint="e.g. type: tmpfs, device: tmpfs, o: size=64m; or type: none, o: bind, device: /srv")
    if values.get("type") not in (None, "tmpfs") and "device" not in values:
        raise InvalidInput(f"type {values['type']!r} needs a device", field=field,
                           hint="give the device (a host path for o=bind, a block device or remote spec otherwise)")
    if _is_bind(values) and not os.path.isdir(values["device"]):
        raise InvalidInput(f"bind device {values['device']} is not a directory", field=field,
                           hint="create the host directory first")
    return values


def _is_bind(options: dict[str, str]) -> bool:
    return "bind" in options.get("o", "").split(",")


class VolumeService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.meta = engine.metadata("volumes")
        self.root = engine.layout.state_root / "volumes"

    # -- reading ---------------------------------------------------------------------
    def find(self, name: str) -> dict[str, Any] | None:
        validate_volume_name(name)
        return self.meta.find(name)

    def get(self, name: str) -> dict[str, Any]:
        record = self.find(name)
        if record is None:
            raise NotFound(f"volume {name!r} does not exist", field="name",
                           hint="create it with berth.engine.volume, or list them with berth.engine.volume_info")
        return record

    def list(self) -> list[dict[str, Any]]:
        return self.meta.list()

    def mountpoint(self, name: str) -> Path:
        return self.root / name / "_data"

    def users(self, name: str) -> list[str]:
        """Names of the containers (running or not) whose config mounts this volume."""
        found = []
        for record in self.engine.metadata("containers").list():
            if any(m.get("type") == "volume" and m.get("source") == name
                   for m in record.get("config", {}).get("mounts") or []):
                found.append(record["name"])
        return sorted(found)

    def facts(self, record: dict[str, Any], *, size: bool = True) -> dict[str, Any]:
        path = self.mountpoint(record["name"])
        facts = {**record, "mountpoint": str(path), "users": self.users(record["name"]),
                 "mounted": os.path.ismount(path) if record.get("options") else None}
        if size:
            facts["size"] = disk_usage(path)
        return facts

    # -- creating --------------------------------------------------------------------
    def planned(self, name: str, driver: str = "local", options: dict[str, Any] | None = None,
                labels: dict[str, Any] | None = None, anonymous: bool = False) -> dict[str, Any]:
        """The record a creation would write (validated; nothing is touched)."""
        validate_volume_name(name)
        return {"name": name, "driver": driver, "options": validate_options(driver, options or {}),
                "labels": {str(k): str(v) for k, v in (labels or {}).items()}, "anonymous": anonymous,
                "created": now(), "mountpoint": str(self.mountpoint(name))}

    def create(self, name: str, driver: str = "local", options: dict[str, Any] | None = None,
               labels: dict[str, Any] | None = None, anonymous: bool = False) -> dict[str, Any]:
        with self.meta.transaction() as txn:
            return self.ensure(txn, name, driver, options, labels, anonymous)[0]

    def ensure(self, txn: Transaction, name: str, driver: str = "local", options: dict[str, Any] | None = None,
               labels: dict[str, Any] | None = None, anonymous: bool = False) -> tuple[dict[str, Any], bool]:
        """The volume, created when missing (under the caller's ``volumes`` transaction)."""
        self.engine.require_writable(f"create volume {name}")
        current = txn.find(name)
        if current is not None:
            return current, False
        record = self.planned(name, driver, options, labels, anonymous)
        path = self.mountpoint(name)
        path.mkdir(parents=True, exist_ok=True)
        try:
            txn.create(name, record)
        except BaseException:
            remove_tree(path.parent)
            raise
        return record, True

    # -- mounting (driver options) -------------------------------------------------------
    def ensure_mounted(self, name: str) -> Path:
        """The volume's host path, its driver-option mount made if needed."""
        self.engine.require_writable(f"mount volume {name}")
        record = self.get(name)
        path = self.mountpoint(name)
        path.mkdir(parents=True, exist_ok=True)
        options = record.get("options") or {}
        if options and not os.path.ismount(path):
            _mount(options, path)
        return path

    # -- removing --------------------------------------------------------------------
    def refuse_in_use(self, name: str) -> None:
        """Conflict when a container (running or not) mounts the volume: a
        plan checks it before listing a removal, ``remove`` again under the lock."""
        users = self.users(name)
        if users:
            raise Conflict(f"volume {name} is in use by {', '.join(users)}", field="name",
                           hint="remove those containers first (a stopped container still uses its volumes)")

    def remove(self, name: str) -> bool:
        """Remove a volume no container uses; False when it does not exist."""
        self.engine.require_writable(f"remove volume {name}")
        with self.engine.metadata("containers").transaction(), self.meta.transaction() as txn:
            if txn.find(validate_volume_name(name)) is None:
                return False
            self.refuse_in_use(name)
            self._destroy(txn, name)
            return True

    def _destroy(self, txn: Transaction, name: str) -> None:
        self.engine.require_writable(f"destroy volume {name}")
        path = self.mountpoint(name)
        if os.path.ismount(path):
            from ..syscalls import MNT_DETACH, default_syscalls

            default_syscalls().umount2(path, MNT_DETACH)
        txn.delete(name)
        trash = self.engine.layout.tmp / f"volume-{name}-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(path.parent, trash)  # gone from view at once; the rm -r may then take its time
        remove_tree(trash)

    def unused(self, *, all_volumes: bool) -> list[str]:
        """Names of the volumes a prune removes: unused ones, anonymous only
        unless ``all_volumes`` (as Docker 23+). Only reads."""
        return [record["name"] for record in self.list()
                if (record.get("anonymous") or all_volumes) and not self.users(record["name"])]

    def prune(self, *, all_volumes: bool) -> tuple[list[str], int]:
        """Remove the unused volumes (see ``unused``); their names and the bytes freed."""
        self.engine.require_writable("prune volumes")
        doomed, freed = [], 0
        with self.engine.metadata("containers").transaction(), self.meta.transaction() as txn:
            for record in txn.list():
                if (record.get("anonymous") or all_volumes) and not self.users(record["name"]):
                    doomed.append(record["name"])
                    freed += disk_usage(self.mountpoint(record["name"]))
                    self._destroy(txn, record["name"])
        return doomed, freed

    # -- copy-up ---------------------------------------------------------------------
    def copy_up(self, name: str, lowerdirs: list[Path], target: str, image: str | None = None) -> bool:
        """Docker's copy-up: an empty volume mounted over a directory that has
        content in the image first receives that content (owner and modes too).
        The image's directory is resolved inside the image root and copied fd
        to fd (see copyup.py): an image's symlinks never reach the host."""
        from ..layered import LayeredRoot, MergedDir
        from .copyup import copy_tree, is_empty

        path = self.ensure_mounted(name)
        label = f"image {image}" if image else "the image"
        with LayeredRoot(lowerdirs, label) as root:
            source = root.resolve(target)
            if source is None:
                return False
            with source:
                if not isinstance(source, MergedDir):
                    return False  # a file (or a link to one) at the target: nothing to copy
                dest = open_root(path)
                try:
                    if not is_empty(dest):
                        return False
                    try:
                        copy_tree(root, source, dest)
                    except OSError as err:
                        raise InvalidState(f"copy-up of {target} from {label} into volume {name} failed: {err}",
                                           field="mounts", hint="free space or descriptors on the host, or "
                                           "mount the volume with no_copy to skip the copy") from None
                finally:
                    os.close(dest)
        return True


def _mount(options: dict[str, str], path: Path) -> None:
    from ..mountopts import parse_options
    from ..syscalls import MS_BIND, MS_REC, default_syscalls

    flags, _propagation, data = parse_options([o for o in options.get("o", "").split(",") if o])
    calls = default_syscalls()
    try:
        if _is_bind(options):
            calls.mount(options["device"], path, None, MS_BIND | (flags & MS_REC))
            return
        calls.mount(options.get("device") or options["type"], path, options["type"], flags, data or None)
    except InvalidState as err:
        raise InvalidState(f"cannot mount volume ({options}): {err}", field="driver_options",
                           hint="check type, device and o as you would for mount(8)") from None
