"""The engine's version, shared by modules, the CLI and galaxy.yml checks.

``BERTH_VERSION`` is the release; ``engine_digest`` names the exact code. The
host role records the digest of the engine it installs in
``<prefix>/engine.json``; the controller's action plugin computes the digest
of the collection it runs and the module compares the two, so a controller
and a host never mix engine code silently (a release number alone would not
see a change made between releases).
"""

from __future__ import annotations

import hashlib
import os

BERTH_VERSION = "0.1.0"
ENGINE_MANIFEST = "engine.json"   # <prefix>/engine.json: what the role installed (written last)


def engine_files(module_utils: str) -> list[str]:
    """The engine's source files, as sorted paths relative to ``module_utils``."""
    found = []
    for top, dirs, files in os.walk(module_utils):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        rel = os.path.relpath(top, module_utils)
        for name in files:
            if name.endswith(".py"):
                found.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return sorted(found)


def engine_digest(module_utils: str) -> str:
    """sha256 over the engine's sources (path, NUL, bytes, NUL per file, sorted by path)."""
    digest = hashlib.sha256()
    for rel in engine_files(module_utils):
        with open(os.path.join(module_utils, rel), "rb") as source:
            digest.update(rel.encode() + b"\0" + source.read() + b"\0")
    return digest.hexdigest()
