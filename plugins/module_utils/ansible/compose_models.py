"""The typed input of the ``compose`` module (pydantic; docker_compose_v2's option names).

Each field is an option of the module, with the documented default; the
contract test (tests/unit/test_module_contract.py) holds them equal to the
argument spec and DOCUMENTATION. What depends on several options (a project
from ``project_src`` or ``definition``, not both) is checked by the task
(``tasks/compose.py``), which names the option at fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from .image_models import RegistryOptions
from .models import EngineOptions, StrictModel
from .pydantic_compat import field_validator


class ComposeRequest(StrictModel):
    engine: EngineOptions = EngineOptions()
    registry: RegistryOptions = RegistryOptions()   # pulls and builds' base pulls
    project_src: Path | None = None
    project_name: str | None = None
    files: list[Path] = []
    definition: dict[str, Any] | None = None
    env_files: list[Path] = []
    profiles: list[str] = []
    state: Literal["present", "absent", "stopped", "restarted"] = "present"
    pull: Literal["always", "missing", "never", "policy"] = "policy"
    build: Literal["always", "never", "policy"] = "policy"
    recreate: Literal["auto", "always", "never"] = "auto"
    remove_orphans: bool = False
    remove_volumes: bool = False
    remove_images: Literal["all", "local"] | None = None
    services: list[str] = []
    scale: dict[str, int] = {}
    wait: bool = False
    wait_timeout: int = 300

    @field_validator("scale")
    @classmethod
    def _replicas(cls, value: dict[str, int]) -> dict[str, int]:
        for service, count in value.items():
            if count < 0:
                raise ValueError(f"the replicas of {service} must be 0 or more, got {count}")
        return value

    @field_validator("wait_timeout")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value
