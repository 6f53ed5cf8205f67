"""Typed requests for the image modules (validated from module params)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..models import EngineOptions, StrictModel
from ..pydantic_compat import Field, field_validator


class RegistryOptions(StrictModel):
    """How to reach registries: TLS policy and credentials (never logged)."""

    validate_certs: bool = True
    ca_cert: Path | None = None
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    config_path: Path | None = None
    insecure_registries: list[str] = []


class ImportConfig(StrictModel):
    """Config for ``source: import`` (like ``docker import --change``)."""

    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    env: dict[str, str] = {}
    working_dir: str | None = None
    user: str | None = None
    labels: dict[str, str] = {}
    exposed_ports: list[str] = []
    volumes: list[str] = []


class ImageRequest(StrictModel):
    engine: EngineOptions
    registry: RegistryOptions
    name: str
    tag: str | None = None
    state: Literal["present", "absent"] = "present"
    source: Literal["pull", "load", "import", "local"] = "pull"
    pull: Literal["missing", "always"] = "missing"
    pull_check_mode_behavior: Literal["image_not_present", "always"] = "image_not_present"
    platform: str | None = None
    load_path: Path | None = None
    import_path: Path | None = None
    import_config: ImportConfig = ImportConfig()
    repository: str | None = None
    push: bool = False
    archive_path: Path | None = None
    archive_format: Literal["docker", "oci"] = "docker"
    force_absent: bool = False
    force_tag: bool = False

    @field_validator("tag")
    @classmethod
    def _tag_not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value:
            raise ValueError("must not be empty; omit it for 'latest'")
        return value
