"""Pydantic models: the typed boundary between module arguments and the engine.

Modules validate their raw parameters into these models (``glue.py``
turns a ValidationError into an InvalidInput naming the field), and the engine
only ever sees validated, normalised values.
"""

from __future__ import annotations

from pathlib import Path

from ..layout import DEFAULT_RUN_ROOT, DEFAULT_STATE_ROOT
from .pydantic_compat import BaseModel, ConfigDict, field_validator


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineOptions(StrictModel):
    """Options every module and CLI command takes (set once via module_defaults
    and the ``berth.engine.all`` action group)."""

    state_root: Path = DEFAULT_STATE_ROOT
    run_root: Path = DEFAULT_RUN_ROOT

    @field_validator("state_root", "run_root")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise ValueError("must be an absolute path, e.g. /var/lib/berth")
        return value


class HostInfoRequest(StrictModel):
    engine: EngineOptions = EngineOptions()
    disk_usage: bool = False


class ImagesFilters(StrictModel):
    dangling_only: bool = True


class VolumesFilters(StrictModel):
    all: bool = False


class PruneRequest(StrictModel):
    """The ``prune`` module: what kinds to prune, and which of them."""

    engine: EngineOptions = EngineOptions()
    images: bool = False
    images_filters: ImagesFilters = ImagesFilters()
    volumes: bool = False
    volumes_filters: VolumesFilters = VolumesFilters()
