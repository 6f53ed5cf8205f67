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


class BuildConfig(StrictModel):
    """``source: build`` (community.docker's ``build`` options)."""

    path: Path
    dockerfile: str = "Dockerfile"
    args: dict[str, str] = {}
    target: str | None = None
    nocache: bool = False
    pull: bool = False
    network: str = "none"
    labels: dict[str, str] = {}
    compression: Literal["gzip", "zstd"] = "gzip"

    @field_validator("args", "labels", mode="before")
    @classmethod
    def _strings(cls, value: object) -> object:
        # YAML makes VERSION: 1.4 a float; a build arg is text, as docker_image takes it
        if isinstance(value, dict):
            return {str(k): v if isinstance(v, str) else _scalar_text(v) for k, v in value.items()}
        return value


def _scalar_text(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else value


class CommitConfig(StrictModel):
    """``source: commit`` (like ``docker commit``)."""

    container: str
    changes: list[str] = []
    message: str | None = None
    author: str | None = None
    pause: bool = True


class ImageRequest(StrictModel):
    engine: EngineOptions = EngineOptions()
    registry: RegistryOptions = RegistryOptions()
    name: str
    tag: str = "latest"
    state: Literal["present", "absent"] = "present"
    source: Literal["pull", "load", "import", "local", "build", "commit"] = "pull"
    pull: Literal["missing", "always"] = "missing"
    pull_check_mode_behavior: Literal["image_not_present", "always"] = "image_not_present"
    platform: str | None = None
    load_path: Path | None = None
    import_path: Path | None = None
    import_config: ImportConfig = ImportConfig()
    build: BuildConfig | None = None
    commit: CommitConfig | None = None
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
