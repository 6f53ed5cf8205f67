"""The container's command is exec'd by a tiny static program held in a
sealed memfd, never by the runtime's own interpreter.

Why (the CVE-2019-5736 class): the init is a fork of the runtime, so until
its last ``execve`` its ``/proc/self/exe`` is the host's python3. The kernel
resolves an interpreter named by the command -- ``#!/proc/self/exe`` in a
script, or an ELF ``PT_INTERP`` of ``/proc/self/exe`` -- *before* it replaces
the process image, so such a command makes the kernel run the host's python3
inside the container, where any process of the container can open it through
``/proc/<pid>/exe`` and, once nothing executes it, write to it.

runc re-executes itself from a sealed memfd copy; re-executing Python costs a
whole interpreter start per container. Instead the init execs this helper
(about 500 bytes, built here, so nothing is installed on the host) through its
memfd, and the helper execs the command. Whatever the command names as its
interpreter through ``/proc/self/exe`` is then the helper itself: a sealed
memfd (no write, grow or shrink, made per container), which refuses to run
unless its ``argv[0]`` is ``MARKER``. The capabilities, seccomp filter,
no_new_privs and credentials the init set up pass through the helper's exec
unchanged (it has no file capabilities and is not set-id).

The helper (x86-64; other architectures fall back to a direct exec, with a
warning) does, in assembly::

    if argc < 2 or *(u64 *)argv[0] != "berthrt\\0": write(2, refusal); exit(126)
    execve(argv[1], argv + 2, envp)
    write(2, "... failed: errno "); write(2, decimal(-ret) "\\n")
    exit(126 if errno in (EACCES, ENOEXEC) else 127)      # runc's codes
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from ..syscalls_protocol import Syscalls

MARKER = "berthrt"  # the helper's argv[0]: 7 bytes and a NUL, compared as one word
_BASE = 0x400000  # load address of the helper's single segment
_MFD_CLOEXEC, _MFD_ALLOW_SEALING, _MFD_EXEC = 0x1, 0x2, 0x10
_F_ADD_SEALS = 1033
_F_SEAL_SEAL, _F_SEAL_SHRINK, _F_SEAL_GROW, _F_SEAL_WRITE, _F_SEAL_EXEC = 0x1, 0x2, 0x4, 0x8, 0x20
_SEALS = _F_SEAL_SEAL | _F_SEAL_SHRINK | _F_SEAL_GROW | _F_SEAL_WRITE

# machine -> (ELF e_machine, code). The x86-64 code is assembled from the
# listing above (GNU as); its two messages follow the instructions and the
# rip-relative offsets point at them, so the bytes are one unit.
_X86_64 = bytes.fromhex(
    "488b0c244883f9020f829e000000488b742408488b0648ba6265727468727400"
    "4839d00f8583000000488b7c2410488d742418488d54cc10b83b0000000f05f7"
    "d84189c4bf02000000488d3580000000ba3d000000b8010000000f054883ec10"
    "488d74240fc6060a4489e0b90a00000031d2f7f180c23048ffce881685c075f0"
    "488d5424104829f2bf02000000b8010000000f05bf7e0000004183fc0d742a41"
    "83fc087424bf7f000000eb1dbf02000000488d3555000000ba5f000000b80100"
    "00000f05bf7e000000b8e70000000f05"
) + (b"berth-runtime: exec of the container's command failed: errno "
     b"berth-runtime: refused: the container's command ran the runtime's exec helper (/proc/self/exe)\n")
_CODE = {"x86_64": (0x3E, _X86_64)}


def program(machine: str) -> bytes | None:
    """The helper as a static ELF executable for ``machine`` (os.uname's), or
    None where berth has none: one read+execute PT_LOAD segment holding the
    headers and the code, and a PT_GNU_STACK entry so the stack is not
    executable (without it some kernels set READ_IMPLIES_EXEC, which would be
    inherited by the container's command)."""
    if machine not in _CODE:
        return None
    e_machine, code = _CODE[machine]
    headers = 64 + 2 * 56
    size = headers + len(code)
    elf = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0,  # 64-bit, little-endian, SysV
                      2, e_machine, 1, _BASE + headers, 64, 0, 0, 64, 56, 2, 64, 0, 0)  # ET_EXEC
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, size, size, 0x1000)  # PT_LOAD, R+X
    stack = struct.pack("<IIQQQQQQ", 0x6474E551, 6, 0, 0, 0, 0, 0, 16)  # PT_GNU_STACK, RW
    return elf + load + stack + code


def load() -> tuple[int | None, str | None]:
    """A close-on-exec memfd holding the sealed helper, or (None, why not)."""
    code = program(os.uname().machine)
    if code is None:
        return None, f"no exec helper for {os.uname().machine}"
    try:
        try:
            fd = os.memfd_create("berth-exec", _MFD_CLOEXEC | _MFD_ALLOW_SEALING | _MFD_EXEC)
        except OSError as err:
            if err.errno != errno.EINVAL:  # EINVAL: a kernel before 6.3 has no MFD_EXEC
                raise
            fd = os.memfd_create("berth-exec", _MFD_CLOEXEC | _MFD_ALLOW_SEALING)
    except OSError as err:  # vm.memfd_noexec=2 refuses executable memfds
        return None, f"cannot make an executable memfd: {err.strerror}"
    os.write(fd, code)
    try:
        fcntl.fcntl(fd, _F_ADD_SEALS, _SEALS | _F_SEAL_EXEC)
    except OSError:
        fcntl.fcntl(fd, _F_ADD_SEALS, _SEALS)  # F_SEAL_EXEC is 6.3+
    return fd, None


def execve(helper: int | str, path: str, args: list[str], env: dict[str, str], calls: Syscalls) -> None:
    """Replace this process by the helper (a descriptor, or its /proc/self/fd
    path), which execs ``path``. Returns only if the helper itself could not
    be exec'd (the SystemCallError is raised)."""
    calls.execve(helper, [MARKER, path, *args], env)
