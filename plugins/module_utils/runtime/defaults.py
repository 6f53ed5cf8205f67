"""Docker's defaults for a container's runtime config: capabilities, mounts,
masked and read-only /proc paths. `berth-runtime spec` writes them, and the
engine starts every container's config.json from them."""

from __future__ import annotations

import os

from .caps import DOCKER_DEFAULT

# moby's current default (daemon/pkg/oci/defaults.go): /proc/interrupts and the
# per-CPU thermal_throttle directories leak host activity (GHSA-6fw5-f8r9-fgfm),
# powercap energy counters (GHSA-jq35-85cj-fj4p).
MASKED_PATHS = ("/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
                "/sys/devices/virtual/powercap", "/sys/firmware")
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def masked_paths(sys_root: str = "/sys") -> list[str]:
    """MASKED_PATHS plus /sys/devices/system/cpu/cpu<N>/thermal_throttle for
    each possible CPU where this host has one (as moby lists them: a spec
    cannot hold a glob)."""
    paths = list(MASKED_PATHS)
    cpu_dir = f"{sys_root}/devices/system/cpu"
    for cpu in _possible_cpus(f"{cpu_dir}/possible"):
        if os.path.isdir(f"{cpu_dir}/cpu{cpu}/thermal_throttle"):
            paths.append(f"/sys/devices/system/cpu/cpu{cpu}/thermal_throttle")
    return paths


def _possible_cpus(path: str) -> list[int]:
    """The CPU list of ``path`` ("0-3,8,10-11"); empty when unreadable."""
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return []
    cpus: list[int] = []
    for part in filter(None, text.split(",")):
        first, _sep, last = part.partition("-")
        if not first.isascii() or not first.isdigit() or (last and not (last.isascii() and last.isdigit())):
            return cpus
        cpus.extend(range(int(first), int(last or first) + 1)[:4096])
    return cpus


NAMESPACES = ("pid", "network", "ipc", "uts", "mount", "cgroup")


def default_mounts() -> list[dict]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    ]


def default_spec(args: list[str] | None = None, root: str = "rootfs") -> dict:
    caps = list(DOCKER_DEFAULT)
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0}, "args": args or ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": False,
        },
        "root": {"path": root, "readonly": False},
        "hostname": "berth",
        "mounts": default_mounts(),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": kind} for kind in NAMESPACES],
            "maskedPaths": masked_paths(),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
