"""What ``berth top`` and ``berth stats`` read of a running container from
the host side: its processes (every process in its init's pid namespace,
from /proc), its network counters (the init's /proc/<pid>/net/dev, which
shows the container's network namespace) and its block I/O (the blkio
controller on cgroup v1, io.stat on v2). Nothing runs inside the container:
a busybox image has no ``ps`` worth asking.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any

CGROUP_ROOT = "/sys/fs/cgroup"
BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def processes(init_pid: int) -> list[dict[str, Any]]:
    """The processes sharing ``init_pid``'s pid namespace: pid, uid, cpu seconds and command line."""
    try:
        namespace = os.readlink(f"/proc/{init_pid}/ns/pid")
    except OSError:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                found.append(_process(int(entry)))
    return sorted(found, key=lambda p: p["pid"])


def _process(pid: int) -> dict[str, Any]:
    with open(f"/proc/{pid}/stat") as handle:
        stat = handle.read()
    # the command name sits in parentheses and may itself hold spaces and parentheses
    comm = stat[stat.index("(") + 1: stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])   # utime + stime
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        argv = [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
    uid = os.stat(f"/proc/{pid}").st_uid
    return {"pid": pid, "uid": uid, "seconds": ticks / os.sysconf("SC_CLK_TCK"),
            "cmd": " ".join(argv) if argv else f"[{comm}]"}


def top_table(procs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """``docker top``'s table for these processes: PID USER TIME CMD (host pids and host user names)."""
    import pwd

    def user(uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)

    rows = [[str(p["pid"]), user(p["uid"]), cpu_time(p["seconds"]), p["cmd"]] for p in procs]
    return ["PID", "USER", "TIME", "CMD"], rows


def cpu_time(seconds: float) -> str:
    """procps' TIME column: ``HH:MM:SS`` of CPU time."""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def net_io(init_pid: int) -> tuple[int, int] | None:
    """Bytes received and sent by the container's interfaces (loopback left out); None when unreadable."""
    try:
        with open(f"/proc/{init_pid}/net/dev") as handle:
            lines = handle.read().splitlines()[2:]
    except OSError:
        return None
    received = sent = 0
    for line in lines:
        name, _sep, counters = line.partition(":")
        values = counters.split()
        if name.strip() != "lo" and len(values) >= 9:
            received += int(values[0])
            sent += int(values[8])
    return received, sent


def block_io(cgroup: str) -> tuple[int, int] | None:
    """Bytes read and written by the container's cgroup (cgroup v1 blkio, else v2 io.stat)."""
    relative = cgroup.strip("/")
    v1 = f"{CGROUP_ROOT}/blkio/{relative}/blkio.throttle.io_service_bytes"
    with contextlib.suppress(OSError, ValueError), open(v1) as handle:
        return _v1_bytes(handle.read())
    for root in (CGROUP_ROOT, f"{CGROUP_ROOT}/unified"):
        with contextlib.suppress(OSError, ValueError), open(f"{root}/{relative}/io.stat") as handle:
            return _v2_bytes(handle.read())
    return None


def _v1_bytes(text: str) -> tuple[int, int]:
    read = written = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "Read":
            read += int(parts[2])
        elif len(parts) == 3 and parts[1] == "Write":
            written += int(parts[2])
    return read, written


def _v2_bytes(text: str) -> tuple[int, int]:
    read = written = 0
    for line in text.splitlines():
        for item in line.split()[1:]:
            key, _sep, value = item.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                written += int(value)
    return read, written


def host_memory() -> int:
    """The host's memory in bytes: what ``docker stats`` shows as the limit of an unlimited container."""
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def binary_size(size: float) -> str:
    """Docker's ``BytesSize``: binary units, four significant digits (``1.5MiB``, ``1.944GiB``)."""
    for unit in BINARY_UNITS:
        if abs(size) < 1024 or unit == BINARY_UNITS[-1]:
            return f"{size:.4g}{unit}"
        size /= 1024
    return f"{size:.4g}{BINARY_UNITS[-1]}"   # pragma: no cover - the loop returns
