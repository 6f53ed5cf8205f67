"""Argument specs shared by the image, image_info, login and prune modules."""

from __future__ import annotations

from typing import Any

REGISTRY_ARGS: dict[str, dict[str, Any]] = {
    "validate_certs": {"type": "bool", "default": True, "aliases": ["tls_verify"]},
    "ca_cert": {"type": "path", "aliases": ["tls_ca_cert"]},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "config_path": {"type": "path", "default": "~/.docker/config.json"},
    "insecure_registries": {"type": "list", "elements": "str", "default": []},
}


def registry_options(params: dict[str, Any]) -> dict[str, Any]:
    return {key: params[key] for key in REGISTRY_ARGS}


def engine_options(params: dict[str, Any]) -> dict[str, Any]:
    return {"state_root": params["state_root"], "run_root": params["run_root"]}
