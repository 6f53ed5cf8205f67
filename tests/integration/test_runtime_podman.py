"""podman (with conmon) drives berth-runtime: `podman --runtime bin/berth-runtime`.

Podman gets its own storage and run roots under the test's tmp dir and no
network (so no bridge or firewall state is made on the host)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.leaks import ContainerWatch, cgroup_dirs
from tests.support.peers import needs_peer
from tests.support.runtime import REPO, make_rootfs, mounts_under, wait_for

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root"), needs_peer("podman")]
RUNTIME = str(REPO / "bin" / "berth-runtime")
IMAGE = "localhost/berth-probe:1"


class Podman:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.prefix = ["podman", "--root", str(base / "storage"), "--runroot", str(base / "run"),
                       "--tmpdir", str(base / "tmp"), "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                       "--runtime", RUNTIME]

    def __call__(self, *args: str, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=timeout,
                                check=False)
        if check:
            assert result.returncode == 0, f"podman {' '.join(args)}: {result.stderr}"
        return result


@pytest.fixture(scope="module")
def podman() -> Iterator[Podman]:
    # podman refuses a runroot longer than 50 characters, which an xdist
    # worker's temp dir (/tmp/pytest-of-root/pytest-N/popen-gwN/...) exceeds
    base = Path(tempfile.mkdtemp(prefix="berth-podman-"))
    rootfs = make_rootfs(base / "image")
    tool = Podman(base)
    tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True).stdout
    imported = subprocess.run([*tool.prefix, "import", "-", IMAGE], input=tar, capture_output=True, check=False)
    assert imported.returncode == 0, imported.stderr
    made = ContainerWatch(base / "storage" / "overlay-containers")   # podman's <id>/ per container
    yield tool
    tool("rm", "--all", "--force", "--time", "0")
    tool("system", "reset", "--force")
    subprocess.run(["umount", "-R", str(base / "storage")], capture_output=True, check=False)
    names = {f"libpod-{container_id}" for container_id in made.ids()}
    made.close()
    leftovers = cgroup_dirs(names.__contains__)   # other suites' podman containers are not ours
    assert not leftovers, f"podman+berth left cgroups: {leftovers}"
    assert not mounts_under(base)
    shutil.rmtree(base)


def test_podman_run_rm(podman: Podman) -> None:
    result = podman("run", "--rm", "--network", "none", IMAGE, "sh", "-c",
                    "echo hello from berth; echo $$; grep CapEff /proc/self/status; exit 3")
    assert result.returncode == 3, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "hello from berth" and lines[1] == "1"
    assert lines[2].split()[1] == "00000000800405fb", "podman's default capability set"


def test_podman_detached_exec_top_pause_stop(podman: Podman) -> None:
    name = "berth-podman-life"
    podman("run", "-d", "--name", name, "--network", "none", IMAGE, "sleep", "300", check=True)
    try:
        assert podman("exec", name, "cat", "/proc/1/comm", check=True).stdout.strip() == "sleep"
        assert podman("exec", name, "sh", "-c", "exit 5").returncode == 5
        assert "sleep 300" in podman("top", name, check=True).stdout
        podman("pause", name, check=True)
        assert podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip() == "paused"
        podman("unpause", name, check=True)
        podman("kill", name, check=True)
        assert wait_for(lambda: podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
                        == "exited", timeout=20)
        assert podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "137"
    finally:
        podman("rm", "--force", "--time", "0", name)
    assert not os.path.exists(f"/run/berth-runtime/{name}")


def test_podman_reports_a_missing_command(podman: Podman) -> None:
    result = podman("run", "--rm", "--network", "none", IMAGE, "nosuchcmd")
    assert result.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in result.stderr
