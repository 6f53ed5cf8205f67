"""A loaded Compose project: its normalised services and resources."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput


@dataclass
class Project:
    """What ``load_project`` returns.

    ``services`` etc. hold exactly what ``docker compose config --format json``
    prints for them (long syntax, absolute paths, durations as strings).
    """

    name: str
    working_dir: str
    config_files: list[str]
    services: dict[str, dict[str, Any]]
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=dict)
    disabled: dict[str, dict[str, Any]] = field(default_factory=dict)  # dropped by profiles

    def to_config(self) -> dict[str, Any]:
        """``docker compose config --format json``'s document."""
        out: dict[str, Any] = {"name": self.name, "services": copy.deepcopy(self.services)}
        for key in ("networks", "volumes", "secrets", "configs"):
            value = getattr(self, key)
            if value:
                out[key] = copy.deepcopy(value)
        out.update(copy.deepcopy(self.extensions))
        return out

    def replicas(self, service: str) -> int:
        spec = self.services[service]
        return int(spec.get("scale", (spec.get("deploy") or {}).get("replicas", 1)))

    def dependencies(self, service: str) -> list[str]:
        return [name for name in (self.services[service].get("depends_on") or {}) if name in self.services]

    def service_order(self) -> list[str]:
        """Services with every dependency before its dependents; a cycle is an error naming it."""
        order: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = [*trail[trail.index(name):], name]
                raise InvalidInput(f"dependency cycle: {' -> '.join(cycle)}",
                                   field=f"services.{trail[-1]}.depends_on",
                                   hint="remove one depends_on of the cycle")
            state[name] = 1
            for dep in self.dependencies(name):
                visit(dep, [*trail, name])
            state[name] = 2
            order.append(name)

        for name in sorted(self.services):
            visit(name, [])
        return order
