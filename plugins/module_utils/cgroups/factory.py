"""Open the manager for a cgroup path on this host's hierarchy."""

from __future__ import annotations

from .base import BaseManager
from .detect import Hierarchy, detect, require
from .kernel import KERNEL, Kernel
from .v1.manager import V1Manager
from .v2.manager import V2Manager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def open_manager(path: str, hierarchy: Hierarchy | None = None, *, device: Callable[[str, str], str] | None = None,
                 kernel: Kernel = KERNEL) -> BaseManager:
    """The v1 or v2 driver for ``path``, whichever this host's limits live on."""
    found = require(hierarchy or detect())
    driver = V1Manager if found.driver == "v1" else V2Manager
    return driver(path, found, device=device, kernel=kernel)
