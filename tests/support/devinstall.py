"""A dev install of berth's engine for localhost playbooks: what the
``berth.engine.host`` role writes on a real host, pointing at this tree.

``{prefix}/engine.json`` names the test venv's python and
``.build/collections`` as the engine's path, with the digest of
plugins/module_utils as it is now, so the modules' thin client hands each
task to an agent running this tree's code. Playbook runs get
``BERTH_PREFIX={prefix}``.

The agent lives in the namespaces of the client that started it, so a
prefix serves one network namespace: under ``BERTH_DEV_PREFIX_ROOT`` (set per
test process by tests/conftest.py; default .build/devinstall), one
directory per network namespace inode. ``stop_agents`` ends them (the leak
check counts processes).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

from ansible_collections.berth.engine.plugins.module_utils.version import BERTH_VERSION, engine_digest

REPO = Path(__file__).resolve().parents[2]
MODULE_UTILS = REPO / "plugins" / "module_utils"


def collections() -> Path:
    """Where the collection the playbooks run is (``BERTH_DEV_COLLECTIONS``: e.g. a bench's frozen copy)."""
    return Path(os.environ.get("BERTH_DEV_COLLECTIONS") or REPO / ".build" / "collections")


def prefix_root() -> Path:
    return Path(os.environ.get("BERTH_DEV_PREFIX_ROOT") or REPO / ".build" / "devinstall")


def dev_install() -> tuple[Path, str]:
    """This network namespace's dev install, (re)written with the tree's current digest, and that digest.
    A playbook run pins it on the controller (``BERTH_ENGINE_DIGEST``, which the action plugin then takes
    as is), so files edited while a play runs cannot make its later tasks see a skew."""
    prefix = prefix_root() / str(os.stat("/proc/self/ns/net").st_ino)
    digest = engine_digest(str(collections() / "ansible_collections" / "berth" / "engine" / "plugins" / "module_utils"))
    write_install(prefix, digest)
    return prefix, digest


def dev_prefix() -> Path:
    return dev_install()[0]


def write_install(prefix: Path, digest: str, *, python: str = sys.executable) -> Path:
    manifest = {"version": BERTH_VERSION, "digest": digest, "python": python, "path": [str(collections())],
                "installed": "dev"}
    prefix.mkdir(parents=True, exist_ok=True)
    target = prefix / "engine.json"
    with contextlib.suppress(OSError, ValueError):
        if json.loads(target.read_text()) == manifest:
            return target
    temporary = prefix / f".engine.json.{os.getpid()}"
    temporary.write_text(json.dumps(manifest))
    temporary.replace(target)   # written last and atomically, as the role does
    return target


def agent_pids(root: Path | None = None) -> list[int]:
    pids = []
    for pidfile in (root or prefix_root()).glob("*/run/agent-*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(pidfile.read_text()))
    return pids


def stop_agents(root: Path | None = None, timeout: float = 10.0) -> None:
    """SIGTERM every dev agent under ``root`` and wait for them to go (their workers finish on their own)."""
    pids = [pid for pid in agent_pids(root) if _signal(pid, signal.SIGTERM)]
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = [pid for pid in pids if _alive(pid)]
    for pid in pids:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
