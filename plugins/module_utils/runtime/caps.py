"""Linux capabilities: names, the five sets of a spec process, capset(2).

The order follows runc: drop the bounding set while still privileged, keep
permitted caps across the uid change (PR_SET_KEEPCAPS), then set effective,
permitted and inheritable with capset and raise the ambient ones. Every call
goes through the ``Syscalls`` interface (tests record them).
"""

from __future__ import annotations

from .. import syscalls as sc

NAMES = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
         "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
         "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
         "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
         "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
         "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE")
NUMBERS = {f"CAP_{name}": number for number, name in enumerate(NAMES)}

# Docker's default set (moby/oci/caps/defaults.go).
DOCKER_DEFAULT = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                  "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                  "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")

SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")

_LAST_CAP: list[int] = []


def last_cap() -> int:
    """The kernel's highest capability number (read once per process)."""
    if not _LAST_CAP:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as handle:
                _LAST_CAP.append(int(handle.read()))
        except OSError:
            _LAST_CAP.append(len(NAMES) - 1)
    return _LAST_CAP[0]


def to_numbers(names: list[str] | None, warnings: list[str]) -> set[int]:
    """Capability numbers this kernel knows; unknown names are warned about
    and skipped, as runc does, so a newer spec still runs on an older kernel."""
    top = last_cap()
    numbers: set[int] = set()
    for name in names or []:
        number = NUMBERS.get(name.upper() if name.upper().startswith("CAP_") else f"CAP_{name.upper()}")
        if number is None or number > top:
            warnings.append(f"ignoring unknown or unavailable capability {name}")
            continue
        numbers.add(number)
    return numbers


def capsets(capabilities: dict | None, warnings: list[str]) -> dict[str, set[int]]:
    """The five sets of ``process.capabilities`` as numbers (absent = empty)."""
    capabilities = capabilities or {}
    return {name: to_numbers(capabilities.get(name), warnings) for name in SETS}


def drop_bounding(bounding: set[int], calls: sc.Syscalls) -> None:
    for number in range(last_cap() + 1):
        if number not in bounding:
            calls.prctl(sc.PR_CAPBSET_DROP, number)


def apply(sets: dict[str, set[int]], calls: sc.Syscalls) -> None:
    """capset(2) the effective/permitted/inheritable sets, then raise ambient."""
    calls.capset(mask(sets["effective"]), mask(sets["permitted"]), mask(sets["inheritable"]))
    calls.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL)
    # The kernel only raises ambient caps that are permitted and inheritable;
    # runc skips the others silently (its own `runc spec` lists ambient caps
    # without inheritable ones), and so do we.
    for number in sorted(sets["ambient"] & sets["permitted"] & sets["inheritable"]):
        calls.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, number)


def mask(numbers: set[int]) -> int:
    """A set of capability numbers as capset's bit mask."""
    return sum(1 << n for n in numbers)
