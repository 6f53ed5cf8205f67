"""The `network` module's container side: `connected` (with `appends`, as in
community.docker's docker_network) and the disconnect/reconnect that a
forced removal or a recreation needs. Containers change in place through
``ContainerService.set_networks`` (running ones are re-wired live)."""

from __future__ import annotations

from typing import Any

from ..engine import Engine
from ..errors import NotFound


class Attachments:
    def __init__(self, engine: Engine, network: str) -> None:
        from ..containers.service import ContainerService

        self.containers = ContainerService(engine)
        self.network = network
        self.cut: list[tuple[str, dict[str, Any]]] = []   # (container id, its entry) disconnected for a recreate

    def members(self) -> dict[str, dict[str, Any]]:
        """Container name -> its entry for this network, for every container listing it."""
        found = {}
        for record in self.containers.store.list():
            for entry in record.get("config", {}).get("networks") or []:
                if entry["name"] == self.network:
                    found[record["name"]] = entry
        return found

    def disconnect(self, container_id: str, network: str) -> None:
        """NetworkService's hook for force: remember the entry so a recreation can reconnect it."""
        record = self.containers.store.get(container_id)
        entries = record["config"].get("networks") or []
        self.cut += [(container_id, e) for e in entries if e["name"] == network]
        self.containers.set_networks(container_id, [e for e in entries if e["name"] != network])

    def reconnect(self) -> list[str]:
        """After a recreation: the containers cut off are attached again (same aliases and addresses)."""
        done = []
        for container_id, entry in self.cut:
            record = self.containers.store.find(container_id)
            if record is not None:
                self._set(record, [*(record["config"].get("networks") or []), entry])
                done.append(record["name"])
        return done

    def plan(self, connected: list[str], appends: bool, check_mode: bool) -> tuple[list[str], list[str]]:
        """(to connect, to disconnect) for `connected`; unknown containers are an error
        (in check mode, an earlier task may be about to create them)."""
        members = self.members()
        for name in connected:
            if self.containers.store.find(name) is None and not check_mode:
                raise NotFound(f"container {name!r} does not exist", field="connected",
                               hint="create the container first, or take it out of connected")
        to_connect = [n for n in connected if n not in members]
        to_disconnect = [] if appends else sorted(n for n in members if n not in connected)
        return to_connect, to_disconnect

    def apply(self, to_connect: list[str], to_disconnect: list[str]) -> None:
        for name in to_connect:
            record = self.containers.store.get(name)
            self._set(record, [*(record["config"].get("networks") or []), {"name": self.network}])
        for name in to_disconnect:
            record = self.containers.store.get(name)
            self._set(record, [e for e in record["config"].get("networks") or [] if e["name"] != self.network])

    def _set(self, record: dict[str, Any], entries: list[dict[str, Any]]) -> None:
        self.containers.set_networks(record["id"], entries)
