"""Container records: one metadata document per container (``containers``
collection, keyed by the 64-hex id), names unique under the collection lock,
and each container's directory ``<state_root>/containers/<id>/`` (bundle,
upper/work dirs, logs).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import AlreadyExists, InvalidInput, NotFound
from ..metadata import Transaction, now

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(f"{name!r} is not a valid container name", field="name",
                           hint="use 1-128 characters from [a-zA-Z0-9_.-], starting with a letter or digit")
    return name


class ContainerStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.meta = engine.metadata("containers")
        self.root = engine.layout.state_root / "containers"

    @property
    def runtime_root(self) -> Path:
        return self.engine.layout.run_root / "runtime"

    def directory(self, container_id: str) -> Path:
        return self.root / container_id

    def log_path(self, container_id: str) -> Path:
        return self.directory(container_id) / "logs" / "container.log"

    def list(self) -> list[dict[str, Any]]:
        return self.meta.list()

    def find(self, ref: str) -> dict[str, Any] | None:
        """By name, full id or unique id prefix (as docker does)."""
        records = self.list()
        for record in records:
            if record["name"] == ref or record["id"] == ref:
                return record
        matches = [r for r in records if len(ref) >= 3 and r["id"].startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    def get(self, ref: str) -> dict[str, Any]:
        record = self.find(ref)
        if record is None:
            raise NotFound(f"container {ref!r} does not exist", field="name",
                           hint="list containers with `berth ps -a`")
        return record

    def add(self, txn: Transaction, name: str, document: dict[str, Any]) -> dict[str, Any]:
        validate_name(name)
        if any(r["name"] == name for r in txn.list()):
            raise AlreadyExists(f"a container named {name!r} already exists", field="name",
                                hint="remove it first, or choose another name")
        container_id = secrets.token_hex(32)
        record = {**document, "id": container_id, "name": name, "created": now()}
        txn.create(container_id, record)
        return record

    def update_state(self, container_id: str, **changes: Any) -> dict[str, Any]:
        with self.meta.transaction() as txn:
            record = txn.get(container_id)
            record["state"] = {**record.get("state", {}), **changes}
            txn.put(container_id, record)
            return record

    def forget(self, container_id: str) -> None:
        """Remove the record and the container's directory (its writable layer and logs)."""
        with self.meta.transaction() as txn:
            txn.delete(container_id)
        directory = self.directory(container_id)
        if directory.exists():
            shutil.rmtree(directory, ignore_errors=True)
        if directory.exists() and os.path.ismount(directory / "bundle" / "rootfs"):
            raise InvalidInput(f"{directory} is still mounted", field="name")
