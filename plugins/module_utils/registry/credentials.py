"""Registry credentials in a Docker-config-like file (``{"auths": {host: {"auth": b64}}}``).

The default is ``~/.docker/config.json``, the file docker, podman, skopeo and
community.docker's docker_login use, so a login by any of them serves the
others. Written atomically with mode 0600; secrets never appear in messages.
"""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..fsutil import atomic_write_json
from ..locking import FileLock
from .auth import Credentials

DEFAULT_CONFIG_PATH = Path("~/.docker/config.json")
_HUB_KEYS = ("https://index.docker.io/v1/", "docker.io", "index.docker.io", "registry-1.docker.io")


def config_path(path: str | Path | None) -> Path:
    return Path(path or DEFAULT_CONFIG_PATH).expanduser()


def _keys_for(registry: str) -> tuple[str, ...]:
    if registry == "docker.io":
        return _HUB_KEYS
    return (registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v1/")


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return {}
    except ValueError as err:
        raise InvalidInput(f"{path} is not valid JSON: {err}", field="config_path",
                           hint="fix or remove the file") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{path} is not a JSON object", field="config_path")
    return doc


def lookup(registry: str, path: str | Path | None = None) -> Credentials | None:
    auths = _read(config_path(path)).get("auths") or {}
    for key in _keys_for(registry):
        entry = auths.get(key)
        if isinstance(entry, dict) and entry.get("auth"):
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                user, _sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
                return Credentials(user, password)
    return None


def store(registry: str, credentials: Credentials, path: str | Path | None = None) -> bool:
    """Save credentials; returns whether the file changed."""
    target = config_path(path)
    encoded = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
    with FileLock(target.with_name(target.name + ".lock")).held():
        doc = _read(target)
        auths = doc.setdefault("auths", {})
        key = _keys_for(registry)[0]
        if auths.get(key, {}).get("auth") == encoded:
            return False
        auths[key] = {**auths.get(key, {}), "auth": encoded}
        atomic_write_json(target, doc, mode=0o600)
    return True


def remove(registry: str, path: str | Path | None = None) -> bool:
    target = config_path(path)
    if not target.exists():
        return False
    with FileLock(target.with_name(target.name + ".lock")).held():
        doc = _read(target)
        auths = doc.get("auths") or {}
        removed = [k for k in _keys_for(registry) if auths.pop(k, None) is not None]
        if removed:
            atomic_write_json(target, doc, mode=0o600)
    return bool(removed)
