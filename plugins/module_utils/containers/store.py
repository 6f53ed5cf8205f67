"""Container records: one metadata document per container (``containers``
collection, keyed by the 64-hex id), names unique under the collection lock,
and each container's directory ``<state_root>/containers/<id>/`` (bundle,
upper/work dirs, logs), private to root (0700: it holds the env secrets in
config.json and the writable layer, whose setuid files must stay out of an
unprivileged user's reach).

Creation is crash-safe: ``add(..., creating=True)`` first leaves a marker
``creating/<id>`` naming the creating process (pid + start time),
then writes the record with the same ``creating`` field; ``finish_creating``
drops both once the bundle is complete. If the creator dies in between,
``drop_half_made`` removes the record, its directory and its marker and
hands the record back: what it held elsewhere (addresses, anonymous volumes)
is given back by removal.py, whose step of ``Engine.recover`` runs both, so
the next engine call removes a half-made container and a re-run creates it
afresh. The store itself needs neither networking nor mounting.

Reads come in two forms: the documents (``list``/``find``/``get``: the JSON
that ``inspect`` and ``container_info`` show) and the typed records the
engine's own code reads (``records``/``find_record``/``record``/``by_id``:
``record.ContainerRecord``). Writes change the document inside a metadata
transaction.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import AlreadyExists, InvalidInput, NotFound
from ..fsutil import read_json, remove_tree
from ..layout import PRIVATE_DIR
from ..metadata import Transaction, now

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .record import ContainerRecord

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
        self.root = engine.layout.containers
        self.creating_dir = engine.layout.creating

    @property
    def runtime_root(self) -> Path:
        return self.engine.layout.run_root / "runtime"

    def directory(self, container_id: str) -> Path:
        return self.root / container_id

    def make_directory(self, container_id: str) -> Path:
        """``containers/<id>/bundle``, private, before anything is written into it."""
        directory = self.directory(container_id)
        for path in (self.root, directory, directory / "bundle"):
            path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
            os.chmod(path, PRIVATE_DIR)
        return directory / "bundle"

    def log_path(self, container_id: str) -> Path:
        return self.directory(container_id) / "logs" / "container.log"

    # -- the documents: what ``inspect``, ``ps`` and ``container_info`` show ---------------
    def list(self) -> list[dict[str, Any]]:
        return self.meta.list()

    def find(self, ref: str) -> dict[str, Any] | None:
        """By name, full id or unique id prefix (as docker does)."""
        documents = self.list()
        for document in documents:
            if document["name"] == ref or document["id"] == ref:
                return document
        matches = [d for d in documents if len(ref) >= 3 and d["id"].startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    def get(self, ref: str) -> dict[str, Any]:
        document = self.find(ref)
        if document is None:
            raise NotFound(f"container {ref!r} does not exist", field="name",
                           hint="list containers with `berth ps -a`")
        return document

    # -- typed reads: what the engine's own code reads records as ----------------------
    def records(self) -> list[ContainerRecord]:
        return [_typed(document) for document in self.list()]

    def find_record(self, ref: str) -> ContainerRecord | None:
        document = self.find(ref)
        return None if document is None else _typed(document)

    def record(self, ref: str) -> ContainerRecord:
        """By name, id or unique id prefix; NotFound when there is none."""
        return _typed(self.get(ref))

    def by_id(self, container_id: str) -> ContainerRecord | None:
        """By full id only (one file read, no listing)."""
        document = self.meta.find(container_id)
        return None if document is None else _typed(document)

    def add(self, txn: Transaction, name: str, document: dict[str, Any], *, creating: bool = False
            ) -> dict[str, Any]:
        validate_name(name)
        if any(r["name"] == name for r in txn.list()):
            raise AlreadyExists(f"a container named {name!r} already exists", field="name",
                                hint="remove it first, or choose another name")
        container_id = secrets.token_hex(32)
        record = {**document, "id": container_id, "name": name, "created": now()}
        if creating:
            record["creating"] = _this_process()
            # the marker first: a record marked creating is always findable by recovery
            self.creating_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            _write_marker(self.creating_dir / container_id, record["creating"])
        txn.create(container_id, record)
        return record

    def finish_creating(self, container_id: str) -> dict[str, Any]:
        """The bundle is complete: the record stops being half-made."""
        from ..crashpoint import crash_point

        with self.meta.transaction() as txn:
            document = txn.get(container_id)
            document.pop("creating", None)
            txn.put(container_id, document)
        crash_point("container.create.finish")
        (self.creating_dir / container_id).unlink(missing_ok=True)
        return document

    def drop_half_made(self) -> list[ContainerRecord]:
        """Drop containers whose creating process died before the bundle was
        complete (record, directory, marker); returns their records, whose
        addresses and anonymous volumes are the caller's to give back
        (removal.remove_half_made). Cheap when nothing is being created: one listdir."""
        try:
            markers = [p for p in self.creating_dir.iterdir() if not p.name.startswith(".")]
        except FileNotFoundError:
            return []
        dropped = []
        for marker in markers:
            with contextlib.suppress(FileNotFoundError, ValueError):
                if creator_alive(read_json(marker)):
                    continue   # still being created
            record = self.drop_if_half_made(marker.name)
            if record is not None:
                dropped.append(record)
            marker.unlink(missing_ok=True)
        return dropped

    def drop_if_half_made(self, container_id: str) -> ContainerRecord | None:
        """Remove this container's record and directory if it is half-made and
        its creator is dead; the removed record (what it held elsewhere is not
        released), else None."""
        with self.meta.transaction() as txn:
            document = txn.find(container_id)
            if document is None or "creating" not in document or creator_alive(document["creating"]):
                return None
            txn.delete(container_id)
        self._remove_directory(container_id)
        (self.creating_dir / container_id).unlink(missing_ok=True)
        return _typed(document)

    def update_state(self, container_id: str, **changes: Any) -> dict[str, Any]:
        with self.meta.transaction() as txn:
            document = txn.get(container_id)
            document["state"] = {**document.get("state", {}), **changes}
            txn.put(container_id, document)
            return document

    def forget(self, container_id: str) -> None:
        """Remove the record and the container's directory (its writable layer and logs)."""
        with self.meta.transaction() as txn:
            txn.delete(container_id)
        self._remove_directory(container_id)
        (self.creating_dir / container_id).unlink(missing_ok=True)

    def _remove_directory(self, container_id: str) -> None:
        directory = self.directory(container_id)
        if directory.exists() and os.path.ismount(directory / "bundle" / "rootfs"):
            raise InvalidInput(f"{directory} is still mounted", field="name",
                               hint="stop the container (or unmount its rootfs) and remove it again")
        with contextlib.suppress(OSError):
            remove_tree(directory)


def _typed(document: dict[str, Any]) -> ContainerRecord:
    # imported here: the module glue imports the store (removal.py's recovery step), and
    # only the typed readers need the record's dataclasses (~4 ms to build)
    from .record import ContainerRecord

    return ContainerRecord.load(document)


def _this_process() -> dict[str, Any]:
    from ..runtime.state import start_time

    return {"pid": os.getpid(), "pid_start": start_time(os.getpid())}


def creator_alive(mark: dict[str, Any]) -> bool:
    """The process named by a creating mark still runs (same pid *and* start time)."""
    from ..runtime.state import start_time

    pid = mark.get("pid") or 0
    return pid > 0 and start_time(pid) == mark.get("pid_start")


def _write_marker(path: Path, creator: dict[str, Any]) -> None:
    """The creating marker, without fsync: it only has to outlive a killed
    process (the page cache does); after a power cut a lost marker is still
    found through the record's own ``creating`` field by converge. Two fewer
    fsyncs per create on a slow root disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, json.dumps(creator).encode())
    finally:
        os.close(fd)
