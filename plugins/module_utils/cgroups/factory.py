"""Open the manager for a cgroup path on this host's hierarchy."""

from __future__ import annotations

from .base import BaseManager
from .detect import Hierarchy, detect, require
from .v1.manager import V1Manager
from .v2.manager import V2Manager


def open_manager(path: str, hierarchy: Hierarchy | None = None) -> BaseManager:
    found = require(hierarchy or detect())
    return V1Manager(path, found) if found.driver == "v1" else V2Manager(path, found)
