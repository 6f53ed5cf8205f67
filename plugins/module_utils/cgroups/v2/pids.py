"""v2 pids: identical file and semantics to v1."""

from __future__ import annotations

from ..v1.pids import writes

__all__ = ["writes"]
