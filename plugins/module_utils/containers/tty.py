"""`berth exec -t`: a command on a pseudo-terminal inside the container.

berth-runtime allocates the pty inside the container and hands its master
over a console socket (as runc does for conmon); this side proxies it to the
user's terminal in raw mode, with the window size, until the command exits.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import select
import socket
import subprocess
import sys
import tempfile
import termios
import tty
from pathlib import Path

from ..errors import InvalidState


def run_with_tty(command: list[str]) -> int:
    """Run ``command`` (a `berth-runtime exec` without the console flags) on a
    pty it receives over a console socket; its exit code."""
    with tempfile.TemporaryDirectory(prefix="berth-tty-") as scratch:
        path = str(Path(scratch) / "console.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        process = subprocess.Popen(with_console(command, path))
        try:
            master = receive_master(server, process)
            return _proxy(master, process)
        finally:
            server.close()
            if process.poll() is None:
                process.kill()
            process.wait()


def with_console(command: list[str], path: str) -> list[str]:
    """Insert `-t --console-socket PATH` right after the `exec` verb."""
    index = command.index("exec") + 1
    return [*command[:index], "-t", "--console-socket", path, *command[index:]]


def receive_master(server: socket.socket, process: subprocess.Popen) -> int:
    server.settimeout(0.1)
    while True:
        try:
            conn, _addr = server.accept()
            break
        except TimeoutError:
            if process.poll() is not None:
                raise InvalidState("the runtime exited before handing over the terminal",
                                   hint="see its error above") from None
    with conn:
        fds = array.array("i")
        _msg, ancillary, _flags, _addr = conn.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: fds.itemsize])
    if not fds:
        raise InvalidState("the runtime sent no terminal", hint="is berth-runtime up to date?")
    return fds[0]


def _proxy(master: int, process: subprocess.Popen) -> int:
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    interactive = os.isatty(stdin)
    saved = termios.tcgetattr(stdin) if interactive else None
    if interactive:
        with contextlib.suppress(OSError):
            fcntl.ioctl(master, termios.TIOCSWINSZ, fcntl.ioctl(stdin, termios.TIOCGWINSZ, b"\0" * 8))
        tty.setraw(stdin, termios.TCSANOW)  # keep what was typed ahead
    watched = [master, stdin]
    try:
        while master in watched:
            ready, _w, _x = select.select(watched, [], [], 0.1)
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""  # EIO: the command closed the terminal
                if not data:
                    watched.remove(master)
                else:
                    os.write(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    os.write(master, data)
                else:
                    watched.remove(stdin)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        os.close(master)
    return process.wait()
