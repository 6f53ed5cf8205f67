"""Network records: one metadata document per network in the ``networks``
collection (document id = the network's 64-hex id, names unique under the
collection lock), plus one address pool document per network
(``ipam-<network id>``: address → owning container id, written through
``Transaction.allocate``/``release``).

A network is in use while any container record's ``config.networks`` names
it; container records are read without a lock (documents are replaced
atomically), so this module never takes the containers lock.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import AlreadyExists, InvalidInput
from ..metadata import MetadataStore, Transaction, now
from .ipam import Ipam

COLLECTION = "networks"
POOL_PREFIX = "ipam-"
DEFAULT_NAME = "bridge"  # Docker's name for the default network
RESERVED_NAMES = ("host", "none")  # network modes, not networks
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(f"{name!r} is not a valid network name", field="name",
                           hint="use 1-128 characters from [a-zA-Z0-9_.-], starting with a letter or digit")
    if name in RESERVED_NAMES:
        raise InvalidInput(f"{name!r} is reserved (it is a network mode, not a network)", field="name",
                           hint="choose another name")
    return name


def pool_id(network_id: str) -> str:
    return POOL_PREFIX + network_id


def new_id(state_root: Path, name: str, replaces: str | None) -> str:
    """A new network's id (64 hex digits, as Docker's): derived, not drawn, so
    the id and the bridge name (``br-<id[:12]>``) a check run plans are the
    ones the apply makes. The state root keeps two engines' networks of one
    name apart (bridge names are host-wide); ``replaces``, the id of the
    network a recreation removes, gives the recreated one a new id."""
    seed = f"berth network\0{state_root}\0{name}\0{replaces or ''}"
    return hashlib.sha256(seed.encode()).hexdigest()


def new_record(network_id: str, name: str, bridge: str, ipam: Ipam, *, internal: bool, labels: dict[str, str],
               mtu: int | None, options: dict[str, Any]) -> dict[str, Any]:
    """The network document (docs: network-contract "Records and services")."""
    return {"id": network_id, "name": name, "driver": "bridge", "bridge": bridge, **ipam.as_record(),
            "internal": internal, "labels": dict(sorted(labels.items())), "mtu": mtu, "created": now(),
            "default": name == DEFAULT_NAME, "options": options}


def container_networks(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The network entries a container record's config lists (the one place
    this package reads container records)."""
    return [entry for entry in (record.get("config") or {}).get("networks") or [] if isinstance(entry, dict)]


def is_record(document: dict[str, Any]) -> bool:
    return "name" in document and "allocations" not in document


class NetworkStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.meta: MetadataStore = engine.metadata(COLLECTION)
        self.containers: MetadataStore = engine.metadata("containers")

    def list(self) -> list[dict[str, Any]]:
        records = [self.meta.find(i) for i in self.meta.ids() if not i.startswith(POOL_PREFIX)]
        return sorted((r for r in records if r is not None and is_record(r)), key=lambda r: r["name"])

    def find(self, ref: str) -> dict[str, Any] | None:
        """By name or full id."""
        for record in self.list():
            if ref in (record["name"], record["id"]):
                return record
        return None

    def by_name(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.list() if r["name"] == name), None)

    def allocations(self, network_id: str) -> dict[str, str]:
        """address → container id."""
        doc = self.meta.find(pool_id(network_id))
        return dict(doc["allocations"]) if doc else {}

    def attached(self, name: str) -> list[tuple[str, str]]:
        """(container id, container name) of every container whose config lists the network."""
        return [(container_id, cname) for container_id, cname, _entry in self.memberships(name)]

    def memberships(self, name: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(container id, container name, its entry: aliases, static address) of
        every container whose config lists the network, by container name."""
        found = []
        for record in self.containers.list():
            for entry in container_networks(record):
                if entry.get("name") == name:
                    found.append((record["id"], record.get("name", record["id"][:12]), entry))
                    break
        return sorted(found, key=lambda member: member[1])

    def container(self, ref: str) -> dict[str, Any] | None:
        """A container's record, by name or id (read without its lock)."""
        for record in self.containers.list():
            if ref in (record.get("name"), record.get("id")):
                return record
        return None

    # -- writes (inside a transaction on the networks collection) ----------------------------------------------
    @staticmethod
    def add(txn: Transaction, record: dict[str, Any]) -> None:
        if any(is_record(r) and r["name"] == record["name"] for r in txn.list()):
            raise AlreadyExists(f"a network named {record['name']!r} already exists", field="name",
                                hint="another run created it meanwhile; run the task again")
        txn.create(record["id"], record)

    @staticmethod
    def delete(txn: Transaction, network_id: str) -> None:
        txn.delete(network_id)
        txn.delete(pool_id(network_id))
