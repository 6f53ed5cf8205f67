"""The action plugin of every berth module (meta/runtime.yml routes each one here).

A task goes to the host's engine agent through the direct call
(plugin_utils/direct_call.py: the parameters validated here, one small client
run on the host) and, where that cannot answer first, through the module,
run as ``ansible.builtin.normal`` does. Either way with two variables in
the module's environment: ``BERTH_ENGINE_DIGEST``/``BERTH_ENGINE_VERSION``,
the engine this controller's collection carries, which the module's thin
client (module_utils/ansible/remote.py) compares with the host's installed
engine (``{prefix}/engine.json``), so controller and host code never mix.
The task's own ``environment:`` still wins (a test can fake a skew), and
``BERTH_ENGINE_DIGEST`` set on the controller pins the digest instead of
computing it (tests/support/playbook.py does, for a tree edited mid-play).

The digest hashes every engine source (~20 ms); it is cached in a file keyed
by the sources' (path, mtime_ns, size), so a task pays a stat of each (~1 ms).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

from ansible.plugins.action import ActionBase
from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.utils.vars import merge_hash

from ansible_collections.berth.engine.plugins.module_utils.version import BERTH_VERSION, engine_digest, engine_files
from ansible_collections.berth.engine.plugins.plugin_utils import direct_call

MODULE_UTILS = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "module_utils"))


def cached_digest(module_utils: str = MODULE_UTILS, cache_dir: str | None = None) -> str:
    """engine_digest(module_utils), from the cache when no source changed (by mtime_ns and size)."""
    stamp = hashlib.sha256()
    for rel in engine_files(module_utils):
        info = os.stat(os.path.join(module_utils, rel))
        stamp.update(f"{rel}\0{info.st_mtime_ns}\0{info.st_size}\0".encode())
    key = stamp.hexdigest()
    cache_dir = cache_dir or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "berth")
    cache = os.path.join(cache_dir, f"digest-{hashlib.sha256(module_utils.encode()).hexdigest()[:16]}.json")
    try:
        with open(cache, encoding="utf-8") as handle:
            known = json.load(handle)
        if known.get("key") == key:
            return str(known["digest"])
    except (OSError, ValueError, AttributeError):
        pass
    digest = engine_digest(module_utils)
    try:
        os.makedirs(cache_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cache_dir, delete=False, encoding="utf-8") as handle:
            json.dump({"key": key, "digest": digest}, handle)
        os.replace(handle.name, cache)   # atomic: parallel forks read a whole file or none
    except OSError:
        pass   # no cache: the next task computes it again
    return digest


class ActionModule(NormalAction):
    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        saved = self._task.environment
        own = saved if isinstance(saved, list) else ([saved] if saved else [])
        digest = os.environ.get("BERTH_ENGINE_DIGEST") or cached_digest()
        ours = {"BERTH_ENGINE_DIGEST": digest, "BERTH_ENGINE_VERSION": BERTH_VERSION}
        self._task.environment = [ours, *own]   # later entries win: the task's own environment
        try:
            if direct_call.enabled():
                result = ActionBase.run(self, tmp, task_vars)   # the base checks (check mode support, ...)
                if not result.get("skipped"):
                    direct = direct_call.call(self, task_vars or {})
                    if direct is not None:
                        return merge_hash(result, direct)
            return super().run(tmp, task_vars)
        finally:
            self._task.environment = saved
