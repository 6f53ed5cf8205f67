"""The typed input of the ``volume`` and ``volume_info`` modules (pydantic,
kept apart from the service so containers' mounts never import pydantic).

Each field is an option of the module, with the documented default; the
contract test (tests/unit/test_module_contract.py) holds them equal to the
argument spec and DOCUMENTATION."""

from __future__ import annotations

from typing import Any, Literal

from .models import EngineOptions, StrictModel


class VolumeRequest(StrictModel):
    engine: EngineOptions = EngineOptions()
    name: str
    state: Literal["present", "absent"] = "present"
    driver: str = "local"
    driver_options: dict[str, Any] = {}
    labels: dict[str, Any] = {}
    recreate: Literal["never", "options-changed", "always"] = "never"


class VolumeInfoRequest(StrictModel):
    engine: EngineOptions = EngineOptions()
    name: str | None = None
    size: bool = True
