"""Typed requests for the image, image_info and login modules (validated
from module params). Each field is an option with its documented default;
tests/unit/test_module_contract.py holds argspec, model and DOCUMENTATION
equal."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..registry.credentials import DEFAULT_CONFIG_PATH
from .models import EngineOptions, StrictModel
from .pydantic_compat import Field, field_validator


class RegistryOptions(StrictModel):
    """How to reach registries: TLS policy and credentials (never logged)."""

    validate_certs: bool = True
    ca_cert: Path | None = None
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    config_path: Path = DEFAULT_CONFIG_PATH
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
    engine: EngineOptions = EngineOptions()
    registry: RegistryOptions = RegistryOptions()
    name: str
    tag: str = "latest"
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
    def _tag_not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty; omit it for 'latest'")
        return value


class ImageInfoRequest(StrictModel):
    engine: EngineOptions = EngineOptions()
    name: list[str] | None = None
    disk_usage: bool = False


class LoginRequest(StrictModel):
    """``login``: the registry host is the task's subject, so the TLS options
    are its own fields here, not a ``registry`` group as in ``image``."""

    engine: EngineOptions = EngineOptions()
    registry: str
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    state: Literal["present", "absent"] = "present"
    reauthorize: bool = False
    config_path: Path = DEFAULT_CONFIG_PATH
    validate_certs: bool = True
    ca_cert: Path | None = None
    insecure_registries: list[str] = []
