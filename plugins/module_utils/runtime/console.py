"""process.terminal: a pty made inside the container (from its own devpts
instance) whose master end is handed to whoever listens on --console-socket,
as runc does for conmon and containerd-shim."""

from __future__ import annotations

# _socket, not socket: socket.py's enum wrappers cost ~2 ms per runtime start
import _socket
import array
import fcntl
import os
import struct
import termios

from .. import syscalls as sc
from ..errors import InvalidInput

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    import socket

_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431


def connect(path: str) -> socket.socket:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as err:
        sock.close()
        raise InvalidInput(f"cannot connect to console socket {path}: {err.strerror}", field="--console-socket",
                           hint="start the listener first (conmon, recvtty) or drop process.terminal") from None
    return sock


def attach(sock: socket.socket, calls: sc.Syscalls, mount_console: bool) -> None:
    """Open a pty pair, send the master, make the slave our controlling tty and stdio."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("i", fcntl.ioctl(master, _TIOCGPTN, struct.pack("i", 0)))[0]
    slave_path = f"/dev/pts/{number}"
    slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY)
    if mount_console:
        if not os.path.exists("/dev/console"):
            os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        calls.mount(slave_path, "/dev/console", None, sc.MS_BIND)
    sock.sendmsg([slave_path.encode()], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", [master]))])
    sock.close()
    os.close(master)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    if slave > 2:
        os.close(slave)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
