"""Device access control on cgroup v2: the v1 devices controller's job done by
an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the container's cgroup.

The OCI rules are applied in order, a later rule overriding an earlier one,
and anything no rule allows is denied. The program checks the rules from the
last to the first and returns at the first match, which gives that order:

    r2 = type (1 block, 2 char)   r3 = access (1 mknod, 2 read, 4 write)
    r4 = major                    r5 = minor
    per rule: skip unless type, access, major and minor match; r0 = allow; exit
    r0 = 0; exit

An allow rule matches a request whose access it fully covers; a deny rule one
whose access it touches. ``evaluate`` runs a program in Python, so unit tests
check the semantics without a kernel.
"""

from __future__ import annotations

import ctypes
import os
import struct

from ..errors import InvalidInput, InvalidState

ACCESS = {"m": 1, "r": 2, "w": 4}
DEVICE_TYPE = {"b": 1, "c": 2}
# (allow, type "a"/"b"/"c", major or -1, minor or -1, access bits)
Rule = tuple[bool, str, int, int, int]

_BPF_SYSCALL = {"x86_64": 321, "aarch64": 280}
_PROG_LOAD, _PROG_ATTACH = 5, 8
_PROG_TYPE_CGROUP_DEVICE, _CGROUP_DEVICE, _F_ALLOW_MULTI = 15, 6, 2
# opcodes (linux/bpf.h, linux/bpf_common.h)
_LDX_W, _AND32_K, _RSH32_K, _MOV64_K = 0x61, 0x54, 0x74, 0xB7
_JNE_K, _JSET_K, _JA, _EXIT = 0x55, 0x45, 0x05, 0x95


def rules_from_spec(spec_rules: list[dict], defaults: list[str]) -> list[Rule]:
    """OCI linux.resources.devices, then the runtime's default allows ("c 1:3 rwm" form)."""
    rules: list[Rule] = []
    for index, rule in enumerate(spec_rules):
        kind = rule.get("type") or "a"
        access = rule.get("access") or "rwm"
        if kind not in ("a", "b", "c") or set(access) - set(ACCESS):
            raise InvalidInput(f"bad device rule {rule}", field=f"linux.resources.devices[{index}]",
                               hint='type is a, b or c; access letters are r, w, m')
        rules.append((bool(rule.get("allow")), kind, _number(rule.get("major")), _number(rule.get("minor")),
                      _bits(access)))
    for entry in defaults:
        kind, numbers, access = entry.split()
        major, minor = numbers.split(":")
        rules.append((True, kind, -1 if major == "*" else int(major), -1 if minor == "*" else int(minor),
                      _bits(access)))
    return rules


def _number(value: object) -> int:
    return -1 if value in (None, -1) else int(value)  # type: ignore[call-overload]


def _bits(access: str) -> int:
    return sum(ACCESS[letter] for letter in set(access))


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> tuple[int, int, int, int, int]:
    return (code, dst, src, off, imm)


def assemble(rules: list[Rule]) -> list[tuple[int, int, int, int, int]]:
    program = [_insn(_LDX_W, 2, 1, 0), _insn(_AND32_K, 2, imm=0xFFFF), _insn(_LDX_W, 3, 1, 0),
               _insn(_RSH32_K, 3, imm=16), _insn(_LDX_W, 4, 1, 4), _insn(_LDX_W, 5, 1, 8)]
    for rule in reversed(rules):
        block = _block(rule)
        program += block
        if len(block) == 2:
            return program  # matches everything: the kernel's verifier refuses unreachable code after it
    return [*program, _insn(_MOV64_K, 0, imm=0), _insn(_EXIT)]


def _block(rule: Rule) -> list[tuple[int, int, int, int, int]]:
    allow, kind, major, minor, access = rule
    checks: list[tuple[int, int, int]] = []        # (code, register, imm); jumps are filled in below
    if kind != "a":
        checks.append((_JNE_K, 2, DEVICE_TYPE[kind]))
    if access != 7 and allow:
        checks.append((_JSET_K, 3, ~access & 7))   # asks for more than the rule allows
    elif access != 7:
        checks += [(_JSET_K, 3, access), (_JA, 0, 0)]  # touches none of the denied access: skip
    if major >= 0:
        checks.append((_JNE_K, 4, major))
    if minor >= 0:
        checks.append((_JNE_K, 5, minor))
    length = len(checks) + 2
    block = []
    for index, (code, register, imm) in enumerate(checks):
        skip = length - index - 1
        if code == _JSET_K and not allow and access != 7:
            block.append(_insn(code, register, off=1, imm=imm))   # over the JA that follows
        else:
            block.append(_insn(code, register, off=skip, imm=imm))
    return [*block, _insn(_MOV64_K, 0, imm=1 if allow else 0), _insn(_EXIT)]


def encode(program: list[tuple[int, int, int, int, int]]) -> bytes:
    return b"".join(struct.pack("<BBhi", code, (src << 4) | dst, off, imm) for code, dst, src, off, imm in program)


def evaluate(program: list[tuple[int, int, int, int, int]], dev_type: int, access: int, major: int,
             minor: int) -> int:
    """Run the program on one request (the subset of eBPF ``assemble`` emits)."""
    context = struct.pack("<III", (access << 16) | dev_type, major, minor)
    regs = [0] * 11
    pc = 0
    while True:
        code, dst, off, imm = program[pc][0], program[pc][1], program[pc][3], program[pc][4]
        pc += 1
        if code == _LDX_W:
            regs[dst] = struct.unpack_from("<I", context, off)[0]
        elif code == _AND32_K:
            regs[dst] &= imm & 0xFFFFFFFF
        elif code == _RSH32_K:
            regs[dst] >>= imm
        elif code == _MOV64_K:
            regs[dst] = imm
        elif (code == _JNE_K and regs[dst] != imm) or (code == _JSET_K and regs[dst] & imm) or code == _JA:
            pc += off
        elif code == _EXIT:
            return regs[0]


def attach(cgroup_dir: str, rules: list[Rule]) -> None:
    """Load the program and attach it to the cgroup (it stays with the cgroup)."""
    number = _BPF_SYSCALL.get(os.uname().machine)
    if number is None:
        raise InvalidState(f"device control on cgroup v2 is not supported on {os.uname().machine}",
                           field="linux.resources.devices", hint="use an x86_64 or aarch64 host")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    insns = ctypes.create_string_buffer(encode(assemble(rules)))
    license_text = ctypes.create_string_buffer(b"Apache")
    log = ctypes.create_string_buffer(65536)
    count = len(insns.raw) // 8
    load = ctypes.create_string_buffer(struct.pack(
        "<IIQQIIQII16sII", _PROG_TYPE_CGROUP_DEVICE, count, ctypes.addressof(insns),
        ctypes.addressof(license_text), 1, len(log), ctypes.addressof(log), 0, 0, b"berth_devices", 0, 0))
    prog_fd = libc.syscall(ctypes.c_long(number), ctypes.c_int(_PROG_LOAD), load, ctypes.c_uint(len(load.raw)))
    if prog_fd < 0:
        err = ctypes.get_errno()
        raise InvalidState(f"loading the device filter failed: {os.strerror(err)}: "
                           f"{log.value.decode(errors='replace')[-400:]}", field="linux.resources.devices")
    cgroup_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        attr = ctypes.create_string_buffer(struct.pack("<IIIII", cgroup_fd, prog_fd, _CGROUP_DEVICE,
                                                       _F_ALLOW_MULTI, 0))
        if libc.syscall(ctypes.c_long(number), ctypes.c_int(_PROG_ATTACH), attr, ctypes.c_uint(len(attr.raw))) < 0:
            err = ctypes.get_errno()
            raise InvalidState(f"attaching the device filter to {cgroup_dir} failed: {os.strerror(err)}",
                               field="linux.resources.devices")
    finally:
        os.close(cgroup_fd)
        os.close(prog_fd)
