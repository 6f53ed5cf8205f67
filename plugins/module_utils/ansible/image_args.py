"""The argument spec of the registry options the ``image`` module shares with
the ``berth.engine.registry`` doc fragment (the model is ``RegistryOptions``)."""

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
