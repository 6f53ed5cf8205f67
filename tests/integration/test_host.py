"""The host_info module and the demo playbook, through real ansible-playbook runs (the host role:
test_host_role.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.playbook import REPO, run_playbook, write_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="integration tests need root")


def test_host_info_reports_without_writing(tmp_path: Path) -> None:
    state = tmp_path / "never-created"
    play = write_playbook(tmp_path, [
        {"name": "info", "berth.engine.host_info": {"disk_usage": True}, "register": "info"},
        {"name": "facts are there", "ansible.builtin.assert": {"that": [
            "info is not changed",
            "info.host.state_root == '" + str(state) + "'",
            "info.host.store.initialized == false",
            "info.host.cgroups.mode in ['v1', 'v2', 'hybrid']",
            "info.host.features.overlay",
        ]}},
    ], module_defaults={"group/berth.engine.all": {"state_root": str(state), "run_root": str(tmp_path / "r")}})
    # (in check mode too, against a store: test_check_mode_readonly.py; a relative state_root is refused:
    # tests/unit/test_bad_input_modules.py)
    result = run_playbook(play)
    assert result.failed == 0 and result.changed == 0, result.output[-3000:]
    assert not state.exists()


def test_demo_playbook_is_valid_syntax() -> None:
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check",
                           "-i", str(REPO / "playbooks/inventory.ini"), str(REPO / "playbooks/demo.yml")],
                          capture_output=True, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build/collections")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
