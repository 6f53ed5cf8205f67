"""The host role and host_info module, through real ansible-playbook runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.playbook import REPO, assert_converges, run_playbook, write_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="integration tests need root")


def _role_vars(tmp_path: Path) -> dict[str, object]:
    return {
        "berth_state_root": str(tmp_path / "state"),
        "berth_run_root": str(tmp_path / "run"),
        "berth_prefix": str(tmp_path / "prefix"),
        "berth_bin_dir": str(tmp_path / "bin"),
        "berth_sysctl_file": str(tmp_path / "sysctl" / "60-berth.conf"),
    }


@pytest.mark.host_netns   # the role's apt reaches the package mirror over the host's network
def test_host_role_converges_and_installs_a_working_cli(tmp_path: Path) -> None:
    (tmp_path / "sysctl").mkdir()
    role_vars = _role_vars(tmp_path)
    play = write_playbook(tmp_path, [], vars=role_vars, roles=["berth.engine.host"])
    assert_converges(play)

    assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "run").stat().st_mode & 0o777) == "0o700"
    assert "net.ipv4.ip_forward = 1" in (tmp_path / "sysctl" / "60-berth.conf").read_text()
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"
    # The installed CLI runs from its own venv and copy of the engine, not the checkout.
    out = subprocess.run([str(tmp_path / "bin" / "berth"), "--state-root", str(tmp_path / "state"),
                          "--run-root", str(tmp_path / "run"), "info", "--json"],
                         capture_output=True, text=True, check=True, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert json.loads(out.stdout)["state_root"] == str(tmp_path / "state")
    # ... and so does the OCI runtime, for podman --runtime / containerd.
    runtime = subprocess.run([str(tmp_path / "bin" / "berth-runtime"), "--root", str(tmp_path / "rt"), "features"],
                             capture_output=True, text=True, check=True, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert "ociVersionMax" in json.loads(runtime.stdout)

    # A changed input changes the host again.
    changed = run_playbook(play, extra_vars={"berth_sysctls": {"net.ipv4.ip_forward": 1,
                                                               "net.ipv4.conf.all.forwarding": 1}})
    assert changed.failed == 0 and changed.changed > 0, changed.output[-3000:]


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
