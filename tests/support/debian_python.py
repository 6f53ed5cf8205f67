"""A Debian root filesystem with Python, for tests that run full Ansible
modules inside a container (the connection plugin's).

The benchmark image (debian.py) is debootstrap's minbase, which has no
Python. This is that root (docs and locales left out) plus Debian's own
``python3.11-minimal``/``libpython3.11-stdlib`` packages unpacked into it
(``apt-get download`` from the machine's mirror, ``dpkg -x``, merged over
merged-usr's links), cached beside
it. Made once under a lock; the minbase root must exist (the ``debian_image``
fixture makes it).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .debian import CACHE
from .isolation import in_host_netns

PACKAGES = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libexpat1", "libffi8")
INTERPRETER = "/usr/bin/python3"
LEFT_OUT = ("usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info", "usr/share/zoneinfo",
            "var/cache/apt", "var/lib/apt/lists")


def debian_python_rootfs(cache: Path = CACHE) -> Path:
    """The cached root with /usr/bin/python3, made first if absent."""
    target = cache / "debian-python-rootfs"
    with (cache / "debian-python.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "usr/bin/python3.11").exists() and (target / "lib").is_symlink():
            return target
        base = cache / "debian-rootfs"
        if not (base / "etc/debian_version").exists():
            raise FileNotFoundError(f"{base}: the minbase root is missing (request the debian_image fixture)")
        with tempfile.TemporaryDirectory(dir=cache, prefix=".debian-python-") as scratch:
            root, debs = Path(scratch) / "rootfs", Path(scratch) / "debs"
            debs.mkdir()
            excluded = [arg for path in LEFT_OUT for arg in ("--exclude", f"/{path}")]
            subprocess.run(["rsync", "-aHAX", "--numeric-ids", *excluded, f"{base}/", f"{root}/"], check=True)
            with in_host_netns():   # the mirror: not from a test worker's own network namespace
                subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True, capture_output=True,
                               timeout=600)
            staging = Path(scratch) / "staging"
            for deb in sorted(debs.glob("*.deb")):
                subprocess.run(["dpkg", "-x", str(deb), str(staging)], check=True)
            # --keep-dirlinks: a package's /lib/... goes through merged-usr's lib -> usr/lib, never replaces it
            subprocess.run(["rsync", "-aK", f"{staging}/", f"{root}/"], check=True)
            python3 = root / "usr/bin/python3"
            if not python3.exists():
                python3.symlink_to("python3.11")
            shutil.rmtree(target, ignore_errors=True)
            os.rename(root, target)
    return target
