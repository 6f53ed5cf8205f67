"""The exec helper: a well-formed static ELF, sealed in its memfd, that runs
its argv[1] only when called as the runtime calls it."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.runtime import trampoline

x86_only = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the helper exists for x86-64 only")


def test_no_helper_for_unknown_machines() -> None:
    assert trampoline.program("pdp11") is None


@x86_only
def test_elf_headers() -> None:
    elf = trampoline.program("x86_64")
    assert elf is not None and elf[:4] == b"\x7fELF" and len(elf) < 1024
    e_type, e_machine, _version, entry, phoff = struct.unpack_from("<HHIQQ", elf, 16)
    assert (e_type, e_machine, phoff) == (2, 0x3E, 64)
    kinds = [struct.unpack_from("<II", elf, 64 + 56 * n) for n in range(2)]
    assert kinds == [(1, 5), (0x6474E551, 6)], "R+X load segment, non-executable stack"
    assert entry == 0x400000 + 64 + 2 * 56


def _run_helper(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Exec the helper from a child with exactly ``argv``."""
    code = ("import os, sys; from ansible_collections.berth.engine.plugins.module_utils.runtime import trampoline;"
            "fd, why = trampoline.load(); assert fd is not None, why;"
            f"os.execve(fd, {argv!r}, {{'PATH': '/bin'}})")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, check=False,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


@x86_only
def test_runs_its_command_with_argv_and_env() -> None:
    result = _run_helper([trampoline.MARKER, "/bin/sh", "sh", "-c", 'echo "$0 $1 $PATH"', "zero", "one"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"zero one /bin\n"


@x86_only
@pytest.mark.parametrize("argv", [["/proc/self/exe", "/bin/sh"], ["berthr", "/bin/true"], ["berthrtx", "/bin/true"],
                                  [trampoline.MARKER]])
def test_refuses_any_other_caller(argv: list[str]) -> None:
    result = _run_helper(argv)
    assert result.returncode == 126 and b"refused" in result.stderr


@x86_only
@pytest.mark.parametrize(("mode", "code", "errno_"), [(None, 127, 2), (0o644, 126, 13), (0o755, 126, 8)])
def test_exec_failures_say_errno_and_exit_like_runc(
        tmp_path: Path, mode: int | None, code: int, errno_: int) -> None:
    path = tmp_path / "command"
    if mode is not None:
        path.write_bytes(b"\x00\x01 not a program")
        path.chmod(mode)
    result = _run_helper([trampoline.MARKER, str(path), str(path)])
    assert result.returncode == code
    assert result.stderr.endswith(f"errno {errno_}\n".encode())


@x86_only
def test_the_memfd_is_sealed_against_writes() -> None:
    fd, _why = trampoline.load()
    assert fd is not None
    try:
        with pytest.raises(PermissionError):
            os.write(fd, b"x")
        again = os.open(f"/proc/self/fd/{fd}", os.O_RDWR)
        try:
            with pytest.raises(PermissionError):
                os.write(again, b"x")
        finally:
            os.close(again)
    finally:
        os.close(fd)
