"""Docker's units, parsed once for every option that takes them: sizes
(memory limits, tmpfs and log sizes), CPU counts, CPU/memory-node lists and
block-device numbers."""

from __future__ import annotations

import math
import os
import re
import stat

from .errors import InvalidInput
from .strict import INT64_MAX, brief, parse_uint

# Docker's RAMInBytes, tightened: ASCII digits, an optional fraction, at most one
# space, then b or a unit letter with optional i and b ("1ib" and "1 k b" are not sizes).
_SIZE = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<frac>[0-9]+))? ?(?P<unit>[kmgtp]i?b?|b)?", re.ASCII | re.IGNORECASE)
_FACTOR = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_MAX_TEXT = 64
# The kernel's largest CONFIG_NR_CPUS (x86-64) and more NUMA nodes than MAX_NUMNODES:
# a bound that keeps "0-4294967295" from expanding into a set of four billion ids.
MAX_CPUSET_ID = 8191
_CPUSET_PART = re.compile(r"(?P<low>[0-9]+)(?:-(?P<high>[0-9]+))?", re.ASCII)
SIZE_HINT = "use a number of bytes with an optional unit b, k, m, g, t or p (e.g. 512m, 1.5g)"


def parse_bytes(value: object, field: str, *, unlimited: bool | None = None) -> int:
    """``512m``, ``1g``, ``100k``, ``1.5g`` or a whole number of bytes, up to
    2**63-1. ``unlimited`` admits -1 (by default only for Docker's ``memory_swap: -1``)."""
    if unlimited is None:
        unlimited = field == "memory_swap"
    if isinstance(value, bool):
        raise InvalidInput(f"{value!r} is a boolean, not a size", field=field, hint=SIZE_HINT)
    if unlimited and value in (-1, "-1"):
        return -1
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise InvalidInput(f"{value!r} is not a size", field=field, hint=SIZE_HINT)
        value = int(value)
    if isinstance(value, int):
        return parse_uint(value, field=field, what="size", hint=SIZE_HINT)
    if not isinstance(value, str):
        raise InvalidInput(f"{value!r} is not a size", field=field, hint=SIZE_HINT)
    text = value.strip(" \t")
    match = _SIZE.fullmatch(text) if len(text) <= _MAX_TEXT else None
    if match is None:
        raise InvalidInput(f"{brief(value)} is not a size", field=field,
                           hint=SIZE_HINT + (", or -1 for unlimited" if unlimited else ""))
    factor = _FACTOR[(match["unit"] or "b")[0].lower()]
    frac = match["frac"] or ""
    size = int(match["whole"]) * factor + (int(frac or "0") * factor) // 10 ** len(frac)
    if size > INT64_MAX:
        raise InvalidInput(f"{value!r} is too large", field=field, hint="sizes go up to 2**63-1 bytes (8 EiB)")
    return size


def parse_cpus(value: object, field: str = "cpus") -> float:
    """Docker's ``cpus``: a positive fraction of the host's CPUs, e.g. ``1.5``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"{value!r} is not a number of CPUs", field=field, hint="e.g. 1.5")
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,12}(?:\.[0-9]{1,12})?", value.strip(" \t"), re.ASCII):
        raise InvalidInput(f"{brief(value)} is not a number of CPUs", field=field, hint="write a decimal such as 1.5")
    if isinstance(value, int) and abs(value) > 1 << 20:  # float() overflows on huge ints
        value = float("inf")
    cpus = float(value)
    available = os.cpu_count() or 1
    if not 0.01 <= cpus <= available:  # also false for nan
        raise InvalidInput(f"{value!r} CPUs is out of range", field=field,
                           hint=f"the range of CPUs is from 0.01 to {available} on this host")
    return cpus


def check_cpuset(value: object, field: str) -> str:
    """``0-3,5``: the kernel's list format, ids 0..8191, ranges low-high."""
    if not isinstance(value, str):
        raise InvalidInput(f"{value!r} is not a CPU/memory-node list", field=field, hint="use a list like 0-2,4")
    text = value.replace(" ", "")
    parse_cpuset(text, field)
    return text


def parse_cpuset(text: str, field: str) -> list[tuple[int, int]]:
    """The (low, high) ranges of a list such as ``0-2,4``."""
    ranges = []
    for part in text.split(","):
        match = _CPUSET_PART.fullmatch(part)
        if match is None:
            raise InvalidInput(f"{brief(text)} is not a CPU/memory-node list", field=field,
                               hint="use comma-separated ids and ranges like 0-2,4")
        low, high = (_cpuset_id(text, match[name] or match["low"], field) for name in ("low", "high"))
        if low > high:
            raise InvalidInput(f"{text!r}: range {part} ends before it starts", field=field,
                               hint=f"write ranges low-high, e.g. {high}-{low}")
        ranges.append((low, high))
    return ranges


def _cpuset_id(text: str, digits: str, field: str) -> int:
    return parse_uint(digits, field=field, what=f"{brief(text)}: id", maximum=MAX_CPUSET_ID,
                      hint=f"CPU and memory-node ids go from 0 to {MAX_CPUSET_ID}")


def expand_cpuset(text: str, field: str = "cpuset") -> set[int]:
    """The set a list names, so ``0,1`` and ``0-1`` compare equal ("" is empty)."""
    text = text.strip().replace(" ", "")
    if not text:
        return set()
    found: set[int] = set()
    for low, high in parse_cpuset(text, field):
        found.update(range(low, high + 1))
    return found


def device_number(path: str, field: str) -> str:
    """``major:minor`` of a block device, for blkio/io limits."""
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise InvalidInput(f"{path!r} is not a device path", field=field,
                           hint="give the absolute path of a block device such as /dev/sda")
    try:
        info = os.stat(path)
    except OSError as err:
        raise InvalidInput(f"cannot use device {path}: {err.strerror}", field=field,
                           hint="give the path of a block device such as /dev/sda") from None
    if not stat.S_ISBLK(info.st_mode):
        raise InvalidInput(f"{path} is not a block device", field=field,
                           hint="throttling applies to block devices such as /dev/sda")
    return f"{os.major(info.st_rdev)}:{os.minor(info.st_rdev)}"
