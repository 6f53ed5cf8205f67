"""Docker's units for resource options, parsed once for every driver."""

from __future__ import annotations

import os
import re
import stat

from ..errors import InvalidInput

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)
_FACTOR = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_CPUSET = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


def parse_bytes(value: int | str, field: str) -> int:
    """``512m``, ``1g``, ``100k``, ``1.5g`` or a plain number of bytes (-1 stays -1)."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if match is None:
        if str(value).strip() == "-1":
            return -1
        raise InvalidInput(f"{value!r} is not a size", field=field,
                           hint="use a number of bytes with an optional unit b, k, m, g or t, e.g. 512m")
    return int(float(match.group(1)) * _FACTOR[match.group(2).lower()])


def parse_cpus(value: float | str, field: str = "cpus") -> float:
    """Docker's ``cpus``: a positive fraction of the host's CPUs."""
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{value!r} is not a number of CPUs", field=field, hint="e.g. 1.5") from None
    available = os.cpu_count() or 1
    if not 0.01 <= cpus <= available:
        raise InvalidInput(f"{cpus} CPUs is out of range", field=field,
                           hint=f"the range of CPUs is from 0.01 to {available} on this host")
    return cpus


def check_cpuset(value: str, field: str) -> str:
    """``0-3,5``: the kernel's list format."""
    text = value.replace(" ", "")
    if not _CPUSET.match(text):
        raise InvalidInput(f"{value!r} is not a CPU/memory-node list", field=field, hint="use a list like 0-2,4")
    return text


def expand_cpuset(text: str) -> set[int]:
    """The set a list names, so ``0,1`` and ``0-1`` compare equal."""
    found: set[int] = set()
    for part in filter(None, text.strip().split(",")):
        low, _sep, high = part.partition("-")
        found.update(range(int(low), int(high or low) + 1))
    return found


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144, default 1024) → cpu.weight (1..10000, default 100).

    The linear map runc and crun use, so a container moved between a v1 and
    a v2 host keeps its relative share: 2 → 1, 262144 → 10000, 1024 → 39.
    """
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """blkio.weight (10..1000) → io.weight (1..10000), the same linear idea."""
    return 1 + ((weight - 10) * 9999) // 990


def device_number(path: str, field: str) -> str:
    """``major:minor`` of a block device, for blkio/io limits."""
    try:
        info = os.stat(path)
    except OSError as err:
        raise InvalidInput(f"cannot use device {path}: {err.strerror}", field=field,
                           hint="give the path of a block device such as /dev/sda") from None
    if not stat.S_ISBLK(info.st_mode):
        raise InvalidInput(f"{path} is not a block device", field=field,
                           hint="throttling applies to block devices such as /dev/sda")
    return f"{os.major(info.st_rdev)}:{os.minor(info.st_rdev)}"
