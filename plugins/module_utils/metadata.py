"""Metadata documents: one JSON file per object, per collection.

``metadata/<collection>/<id>.json``, private to root (dirs 0700, documents
0600: container records hold their env). Reads need no lock (every write is an
atomic rename, so a reader sees a whole old or whole new document). Every
read-modify-write happens inside ``transaction()``, which holds the
collection's flock: two playbooks converging one host serialise there, so
they cannot lose each other's writes or hand out the same name, address or
number twice (``Transaction.allocate``).

A read-only view of the engine gives ``MetadataView``: the same reads, and a
``transaction()`` (the only way to write) that raises ``ReadOnlyViolation``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import AlreadyExists, InvalidInput, NotFound, ReadOnlyViolation
from .fsutil import atomic_write_json, fsync_dir, read_json
from .layout import PRIVATE_DIR, PRIVATE_FILE, Layout
from .readonly import refuse_writes

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def now() -> str:
    """RFC 3339 UTC with nanoseconds: the records' timestamps."""
    stamp = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp // 10**9)) + f".{stamp % 10**9:09d}Z"


def validate_id(value: str, *, field: str = "name") -> str:
    """IDs become file names: no separators, no leading dot, bounded length."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise InvalidInput(f"{value!r} is not a valid name", field=field,
                           hint="use 1-128 characters from [A-Za-z0-9_.-], starting with a letter or digit")
    return value


class MetadataStore:
    def __init__(self, layout: Layout, collection: str) -> None:
        self.layout = layout
        self.collection = collection
        self.dir = layout.metadata / collection

    def _path(self, object_id: str) -> Path:
        return self.dir / f"{validate_id(object_id, field='id')}.json"

    def get(self, object_id: str) -> dict[str, Any]:
        try:
            return read_json(self._path(object_id))
        except FileNotFoundError:
            raise NotFound(f"{self.collection[:-1] if self.collection.endswith('s') else self.collection} "
                           f"{object_id!r} does not exist", field="name") from None

    def find(self, object_id: str) -> dict[str, Any] | None:
        try:
            return self.get(object_id)
        except NotFound:
            return None

    def ids(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.stem for p in self.dir.glob("*.json") if not p.name.startswith("."))

    def list(self) -> list[dict[str, Any]]:
        # The listing verbs read every record on each call (200 containers: 200 files): names
        # from one scandir, each file read whole and parsed, no Path or validation per record
        # (a name that is no valid id is no record of ours). A record removed meanwhile is skipped.
        directory = str(self.dir)
        try:
            with os.scandir(directory) as entries:
                ids = sorted(e.name[:-5] for e in entries if e.name.endswith(".json") and _ID_RE.fullmatch(e.name[:-5]))
        except (FileNotFoundError, NotADirectoryError):
            return []
        docs = []
        for object_id in ids:   # in ids() order
            try:
                with open(os.path.join(directory, object_id + ".json"), "rb") as handle:
                    docs.append(json.loads(handle.read()))
            except FileNotFoundError:
                continue
        return docs

    @contextlib.contextmanager
    def transaction(self, *, timeout: float | None = 300.0) -> Iterator[Transaction]:
        with self.layout.lock(self.collection).held(timeout=timeout):
            yield Transaction(self)


@refuse_writes(MetadataStore, reads=("_path", "get", "find", "ids", "list"))
class MetadataView(MetadataStore):
    """One collection, read-only: every write goes through ``transaction()``, which is refused."""

    def transaction(self, *, timeout: float | None = 300.0) -> contextlib.AbstractContextManager[Transaction]:
        raise ReadOnlyViolation(f"a write transaction on {self.collection}")


class Transaction:
    """Writes to one collection while its lock is held."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def get(self, object_id: str) -> dict[str, Any]:
        return self.store.get(object_id)

    def find(self, object_id: str) -> dict[str, Any] | None:
        return self.store.find(object_id)

    def list(self) -> list[dict[str, Any]]:
        return self.store.list()

    def put(self, object_id: str, document: dict[str, Any]) -> None:
        path = self.store._path(object_id)
        if not path.parent.is_dir():
            path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        atomic_write_json(path, document, mode=PRIVATE_FILE)   # records may hold env secrets

    def create(self, object_id: str, document: dict[str, Any]) -> None:
        if self.store.find(object_id) is not None:
            raise AlreadyExists(f"{object_id!r} already exists in {self.store.collection}", field="name")
        self.put(object_id, document)

    def delete(self, object_id: str) -> bool:
        path = self.store._path(object_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        return True

    def allocate(self, pool: str, candidates: Iterable[Any], owner: str) -> Any:
        """Reserve the first candidate not yet taken in ``pool`` for ``owner``.

        The pool is a document ``<pool>`` mapping str(value) -> owner; an owner
        that already holds a value gets the same one back (idempotent re-runs).
        """
        doc = self.find(pool) or {"allocations": {}}
        taken: dict[str, str] = doc["allocations"]
        for value, holder in taken.items():
            if holder == owner:
                return _same_type(value, candidates)
        for candidate in candidates:
            if str(candidate) not in taken:
                taken[str(candidate)] = owner
                self.put(pool, doc)
                return candidate
        raise InvalidInput(f"pool {pool!r} is exhausted", field=pool,
                           hint="release unused allocations or widen the pool")

    def release(self, pool: str, owner: str) -> list[str]:
        doc = self.find(pool)
        if doc is None:
            return []
        freed = [v for v, holder in doc["allocations"].items() if holder == owner]
        for value in freed:
            del doc["allocations"][value]
        if freed:
            self.put(pool, doc)
        return freed


def _same_type(value: str, candidates: Iterable[Any]) -> Any:
    for candidate in candidates:
        if str(candidate) == value:
            return candidate
    return value
