"""podman-compose (PyPI 1.6) on Debian's podman, isolated from the host's podman.

Everything podman makes lives under a short temp dir of its own (storage,
run root, tmp dir, CNI network configs, containers.conf) and every podman
call runs in a network namespace made for it, so CNI's bridges, veths and
iptables-nft tables are made there and go with it. podman-compose runs in
Docker Compose compatibility mode (``-`` in names, no pod, the default
network as Compose makes it) and reaches podman through a wrapper script
(``--podman-path``) that adds the global flags.

What stays host-wide and is cleaned by name: CNI's IPAM and result cache
under /var/lib/cni (one dir per network, one file per attachment), podman's
cgroups (libpod-<id>) and the storage's overlay mounts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.support.isolation import netns_name
from tests.support.leaks import cgroup_dirs
from tests.support.runtime import mounts_under

CNI_STATE = Path("/var/lib/cni")
PODMAN_COMPOSE = str(Path(sys.executable).parent / "podman-compose")
# The machine's hard nofile limit is 20000 (/work/shared/MACHINE.md): podman's default ask of 1048576 fails.
_CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
network_backend = "cni"
network_config_dir = "{cni}"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


class PodmanCompose:
    """One isolated podman (store, network configs, network namespace) and podman-compose on it."""

    def __init__(self, short: str = "pc") -> None:
        # podman refuses a run root longer than 50 characters: a short dir under /tmp
        self.base = Path(tempfile.mkdtemp(prefix="berth-pc-"))
        self.netns = netns_name(short)
        self.cni = self.base / "cni"
        self.cni.mkdir()
        (self.base / "tmp").mkdir()
        (self.base / "containers.conf").write_text(_CONTAINERS_CONF.format(cni=self.cni))
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        self.podman_path = self.base / "podman"
        self.podman_path.write_text(
            "#!/bin/sh\n"
            f"export CONTAINERS_CONF={self.base}/containers.conf\n"
            f"exec nsenter --net=/run/netns/{self.netns} /usr/bin/podman --root {self.base}/storage "
            f"--runroot {self.base}/run --tmpdir {self.base}/tmp --network-config-dir {self.cni} \"$@\"\n")
        self.podman_path.chmod(0o755)
        self.container_ids: set[str] = set()
        self.networks: set[str] = set()   # every network podman made, for CNI's host-wide state

    def load(self, oci_ref: str, name: str = "docker.io/library/busybox:latest") -> None:
        """An image from an OCI layout (``oci:<dir>:<tag>``) into this podman's store, without a registry."""
        store = f"containers-storage:[overlay@{self.base}/storage+{self.base}/run]{name}"
        subprocess.run(["skopeo", "copy", "--quiet", oci_ref, store], check=True, capture_output=True)

    def podman(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.podman_path), *args], capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL)

    def compose(self, *args: str, cwd: Path, env: dict[str, str] | None = None,
                timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """``podman-compose ARGS`` in ``cwd``; ``env``: the shell environment it sees (over a minimal one)."""
        environ = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "PODMAN_COMPOSE_DOCKER_COMPOSE_COMPAT": "1", **(env or {})}
        # a session of its own: a timeout ends podman-compose with the podman calls it is waiting on
        with subprocess.Popen([PODMAN_COMPOSE, "--podman-path", str(self.podman_path), *args], cwd=cwd, env=environ,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True) as process:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                stdout, stderr = process.communicate()
                stderr += f"\n(podman-compose killed after {timeout} s)"
        self._remember_containers()
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def inspect(self, *names: str) -> list[dict[str, Any]]:
        if not names:
            return []
        found = self.podman("inspect", "--type", "container", *names)
        return json.loads(found.stdout) if found.stdout.strip() else []

    def names(self) -> list[str]:
        listed = self.podman("ps", "-a", "--format", "{{.Names}}")
        return sorted(listed.stdout.split())

    def reset(self) -> None:
        """Every container, pod, volume and network of this podman gone (between projects)."""
        self._remember_containers()
        for _attempt in range(3):   # podman 4.3 refuses to remove a container others --requires first
            if self.podman("rm", "--all", "--force", "--time", "0").returncode == 0:
                break
        self.podman("volume", "prune", "--force")
        networks = [n for n in self.podman("network", "ls", "--format", "{{.Name}}").stdout.split() if n != "podman"]
        if networks:
            self.podman("network", "rm", "--force", *networks)
        self._forget_cni_state(sorted(self.networks))

    def close(self) -> list[str]:
        """Tear everything down; what was left behind (empty when clean)."""
        self.reset()
        self.podman("system", "reset", "--force")
        for mount_point in sorted(mounts_under(self.base), key=len, reverse=True):   # deepest first
            subprocess.run(["umount", "-l", mount_point], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True, check=False)
        names = {f"{kind}-{cid}" for cid in self.container_ids for kind in ("libpod", "libpod-conmon")}
        left = sorted(cgroup_dirs(names.__contains__)) + sorted(mounts_under(self.base))
        shutil.rmtree(self.base, ignore_errors=True)
        return left

    def _remember_containers(self) -> None:
        listed = self.podman("ps", "-a", "--no-trunc", "--format", "{{.ID}}")
        self.container_ids |= set(listed.stdout.split())
        self.networks |= {path.stem for path in self.cni.glob("*.conflist")}

    def _forget_cni_state(self, networks: list[str]) -> None:
        """CNI's host-local IPAM dir and cached results of these networks (host-wide, keyed by name and id)."""
        if not networks:
            return
        for network in networks:
            shutil.rmtree(CNI_STATE / "networks" / network, ignore_errors=True)
        results = CNI_STATE / "results"
        if results.is_dir():
            for cached in results.iterdir():
                if any(cid in cached.name for cid in self.container_ids):
                    cached.unlink(missing_ok=True)
