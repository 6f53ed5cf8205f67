"""``docker rename``: a container's new name in its record, and in the hosts
files of the containers that share a user-defined network with it (they
resolve it by name). Overlay networks' resolvers read names from the
records, so they follow within their TTL without being told."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import AlreadyExists, InvalidInput
from .store import validate_name

if TYPE_CHECKING:
    from .service import ContainerService


def rename(service: ContainerService, ref: str, new_name: str) -> dict[str, Any]:
    """The record, renamed; AlreadyExists when another container has ``new_name``."""
    service.engine.require_writable(f"rename container {ref}")
    validate_name(new_name)
    record = service.current(ref)
    if record.name == new_name:
        raise InvalidInput(f"container {ref!r} is already named {new_name!r}", field="NEW_NAME",
                           hint="give a name it does not have")
    with service.store.meta.transaction() as txn:
        if any(other["name"] == new_name for other in txn.list()):
            raise AlreadyExists(f"a container named {new_name!r} already exists", field="NEW_NAME",
                                hint="remove it first, or choose another name")
        document = txn.get(record.id)
        document["name"] = new_name
        txn.put(record.id, document)
    if record.running and record.state.networks:
        from .networking import Networking

        Networking(service.engine).peer_renamed(record.id, dict(record.state.networks))
    return document
