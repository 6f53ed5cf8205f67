"""The berth_containers inventory plugin as Ansible runs it: a ``*.berth.yml`` file read by the real
``ansible-inventory`` and ``ansible-playbook`` of the test venv, with this tree's collection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.devinstall import collections

BIN = Path(sys.executable).parent


def write_inventory(directory: Path, state_root: Path, run_root: Path, name: str = "containers.berth.yml",
                    **options: Any) -> Path:
    """An inventory file of the plugin on these roots, with more ``options``."""
    path = directory / name
    config = {"plugin": "berth.engine.berth_containers", "state_root": str(state_root), "run_root": str(run_root),
              **options}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def ansible_env(**more: str) -> dict[str, str]:
    """The environment of an Ansible command on this tree's collection: an inventory source that fails to
    parse fails the command (Ansible's default is a warning and an empty inventory)."""
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections()), ANSIBLE_NOCOLOR="1",
                ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1", ANSIBLE_INVENTORY_UNPARSED_FAILED="1",
                ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_LOCALHOST_WARNING="0",
                ANSIBLE_PYTHON_INTERPRETER=sys.executable, **more)


def run_inventory(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "ansible-inventory"), "-i", str(path), *args], capture_output=True, text=True,
                          env=ansible_env(), timeout=120, check=False)


def list_inventory(path: Path) -> dict[str, Any]:
    """``ansible-inventory --list``'s JSON (groups with their hosts and children, ``_meta.hostvars``)."""
    done = run_inventory(path, "--list")
    if done.returncode != 0:
        raise AssertionError(f"ansible-inventory failed (rc={done.returncode}):\n{done.stderr[-4000:]}")
    return plain(json.loads(done.stdout))


def plain(value: Any) -> Any:
    """The listing without ansible-core 2.19's trust markers: a string an inventory plugin sets is data, not a
    template, and ``--list`` writes it as ``{"__ansible_unsafe": "..."}`` (so a consumer keeps it untrusted)."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def group_hosts(listing: dict[str, Any], group: str) -> list[str]:
    """The hosts directly in ``group`` of an ``--list`` listing (none when the group is not there)."""
    return sorted(listing.get(group, {}).get("hosts", []))
