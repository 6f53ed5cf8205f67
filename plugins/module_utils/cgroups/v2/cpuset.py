"""v2 cpuset: the same lists as v1, under the unified hierarchy."""

from __future__ import annotations

from ..v1.cpuset import writes

__all__ = ["writes"]
