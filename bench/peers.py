"""Peers for side-by-side benchmarks: a private dockerd (own data/exec roots;
no bridge and no iptables unless asked — with ``bridge=True`` its docker0 and
iptables chains must be made in a network namespace of their own, as
bench/run.py's whole run is)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def private_dockerd(workdir: Path, bridge: bool = False) -> Iterator[list[str] | None]:
    """Yields the docker CLI prefix for a private daemon, or None without dockerd."""
    if not (shutil.which("dockerd") and shutil.which("docker")):
        yield None
        return
    short = Path(tempfile.mkdtemp(prefix="bd-"))  # socket paths must stay short
    sock = short / "docker.sock"
    log = (workdir / "dockerd.log").open("wb")
    daemon = subprocess.Popen(
        ["dockerd", "--data-root", str(workdir / "docker-data"), "--exec-root", str(short / "exec"),
         "--pidfile", str(short / "docker.pid"), "-H", f"unix://{sock}", "--storage-driver=overlay2",
         *([] if bridge else ["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false"])],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    cli = ["docker", "-H", f"unix://{sock}"]
    try:
        deadline = time.monotonic() + 30
        while subprocess.run([*cli, "info"], capture_output=True, check=False).returncode != 0:
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise RuntimeError(f"dockerd did not start; see {workdir / 'dockerd.log'}")
            time.sleep(0.2)
        yield cli
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        shutil.rmtree(short, ignore_errors=True)
