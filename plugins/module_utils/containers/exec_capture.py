"""The exec variants a module needs beyond a plain captured run
(``ContainerService.execute``): a command on a pseudo-terminal whose output
is captured rather than proxied to ours (``container_exec`` with ``tty``),
and a command started detached (``detach``).

A terminal's output is stdout and stderr together, as Docker returns it for
an exec with a TTY; the input is echoed back by the terminal, as there. The
input ends with the terminal's end-of-file character (^D), so a command
reading its input does not wait forever for a person to type.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import InvalidState
from .tty import receive_master, with_console

_EOF = b"\x04"   # VEOF; a second one is needed when the last line has no newline yet
_CHUNK = 65536


def run_on_tty(command: list[str], stdin: bytes, timeout: float | None) -> subprocess.CompletedProcess[bytes]:
    """``command`` (a `berth-runtime exec` without console flags) on a pty the
    runtime hands over; what it printed on it as stdout, the runtime's own
    errors as stderr. subprocess.TimeoutExpired past ``timeout`` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="berth-tty-") as scratch:
        path = str(Path(scratch) / "console.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        process = subprocess.Popen(with_console(command, path), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            master = _master_of(server, process)
            output = _converse(master, process, stdin + _end_of(stdin), deadline, command)
            process.wait(timeout=_left(deadline))
            return subprocess.CompletedProcess(command, process.returncode, output, _errors_of(process))
        finally:
            server.close()
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stderr is not None:
                process.stderr.close()


def _master_of(server: socket.socket, process: subprocess.Popen[bytes]) -> int:
    try:
        return receive_master(server, process)
    except InvalidState as err:
        process.wait()
        said = _errors_of(process).decode(errors="replace").strip() or err.message
        raise InvalidState(f"cannot start the command on a terminal: {said}", field="tty", hint=err.hint) from None


def _end_of(stdin: bytes) -> bytes:
    return _EOF if not stdin or stdin.endswith(b"\n") else _EOF + _EOF


def _converse(master: int, process: subprocess.Popen[bytes], pending: bytes, deadline: float | None,
              command: list[str]) -> bytes:
    """Write ``pending`` to the terminal while reading what it prints, until the command closes it."""
    chunks: list[bytes] = []
    os.set_blocking(master, False)
    try:
        while True:
            wait = _left(deadline)
            if wait is not None and wait <= 0:
                raise subprocess.TimeoutExpired(command, 0, output=b"".join(chunks))
            readable, writable, _x = select.select([master], [master] if pending else [], [], wait)
            if writable:
                with contextlib.suppress(BlockingIOError):
                    pending = pending[os.write(master, pending[:_CHUNK]):]
            if readable:
                data = _read(master)
                if data is None:
                    return b"".join(chunks)
                chunks.append(data)
    finally:
        os.close(master)


def _read(master: int) -> bytes | None:
    """What the terminal printed; None once the command closed it (EIO or EOF)."""
    try:
        return os.read(master, _CHUNK) or None
    except BlockingIOError:
        return b""
    except OSError:
        return None


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _errors_of(process: subprocess.Popen[bytes]) -> bytes:
    return process.stderr.read() if process.stderr is not None else b""


def start_detached(command: list[str]) -> int:
    """``command`` (a `berth-runtime exec`) started with ``-d``: the pid of the
    command, which runs on with its output discarded (as Docker discards a
    detached exec's); the runtime's error when it could not start it."""
    index = command.index("exec")
    with tempfile.TemporaryDirectory(prefix="berth-exec-") as scratch:
        log, pid_file = Path(scratch) / "runtime.log", Path(scratch) / "pid"
        detached = [*command[:index], "--log", str(log), "exec", "-d", "--pid-file", str(pid_file),
                    *command[index + 1:]]
        # the command inherits the runtime's stdio: a pipe here would stay open while it runs
        done = subprocess.run(detached, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False)
        if done.returncode != 0 or not pid_file.exists():
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            raise InvalidState(f"cannot start the detached command: {lines[-1] if lines else 'no error logged'}",
                               field="detach", hint=f"berth-runtime exited {done.returncode}")
        return int(pid_file.read_text().strip())
