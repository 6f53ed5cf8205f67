"""The last steps before execve, shared by a container's init and `exec`:
rlimits, executable lookup, user and groups, capabilities, no_new_privs,
seccomp, cwd, environment."""

from __future__ import annotations

import _socket
import errno
import fcntl
import os
import resource
import struct

from .. import syscalls as sc
from ..errors import InvalidInput, SystemCallError
from . import caps
from .spec import DEFAULT_PATH, process_env


class ExecFailed(InvalidInput):
    """The command cannot be executed; ``exit_code`` follows Docker (127: not
    found, 126: found but not executable)."""

    def __init__(self, message: str, exit_code: int, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.exit_code = exit_code


def set_rlimits(rlimits: list[dict], warnings: list[str], calls: sc.Syscalls) -> None:
    """setrlimit each; a hard limit above the host's own is lowered to it
    (without CAP_SYS_RESOURCE it could not be raised anyway)."""
    for limit in rlimits:
        kind = getattr(resource, limit["type"])
        _soft_now, hard_now = calls.getrlimit(kind)
        hard, soft = int(limit.get("hard", 0)), int(limit.get("soft", 0))
        if hard_now != resource.RLIM_INFINITY and (hard > hard_now or hard == resource.RLIM_INFINITY):
            warnings.append(f"{limit['type']} hard {hard} lowered to the host's hard limit {hard_now}")
            hard = hard_now
        soft = min(soft, hard) if hard != resource.RLIM_INFINITY else soft
        try:
            calls.setrlimit(kind, soft, hard)
        except SystemCallError as err:
            raise InvalidInput(f"cannot set {limit['type']} to soft {soft}, hard {hard}: {os.strerror(err.errno)}",
                               field="process.rlimits", hint="stay within the host's hard limits") from None


def lookup(command: str, env: dict[str, str]) -> str:
    """The file execve will run, found like execvp in the container's PATH."""
    if "/" in command:
        candidates = [command]
    else:
        candidates = [os.path.join(d or ".", command) for d in env.get("PATH", DEFAULT_PATH).split(":")]
    for candidate in candidates:
        if os.path.isfile(candidate):
            if not os.access(candidate, os.X_OK):
                raise ExecFailed(f'exec: "{command}": permission denied', 126, field="process.args",
                                 hint="make the file executable in the image")
            return candidate
    where = "no such file or directory" if "/" in command else "executable file not found in $PATH"
    raise ExecFailed(f'exec: "{command}": {where}', 127, field="process.args",
                     hint="install the command in the image or give its full path")


def switch_user(user: dict, sets: dict[str, set[int]], calls: sc.Syscalls) -> None:
    """Groups, gid, uid, then the capability sets (runc's order)."""
    caps.drop_bounding(sets["bounding"], calls)
    calls.prctl(sc.PR_SET_KEEPCAPS, 1)
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    try:
        calls.setgroups([int(g) for g in user.get("additionalGids") or []])
    except SystemCallError as err:
        if err.errno != errno.EPERM:  # denied in a user namespace with setgroups=deny; runc ignores it too
            raise
    calls.setresgid(gid, gid, gid)
    calls.setresuid(uid, uid, uid)
    calls.prctl(sc.PR_SET_KEEPCAPS, 0)
    caps.apply(sets, calls)


def environment(process: dict) -> dict[str, str]:
    env = process_env(process)
    env.setdefault("PATH", DEFAULT_PATH)
    if process.get("terminal") and "TERM" not in env:
        env["TERM"] = "xterm"
    return env


def enter_cwd(cwd: str, calls: sc.Syscalls) -> None:
    """chdir, then make sure the kernel agrees the result is inside the
    container's root: a cwd reached through a descriptor the runtime leaked
    (``/proc/self/fd/N``) would be a host directory (runc CVE-2024-21626),
    and getcwd(2) reports such a directory as unreachable."""
    try:
        calls.chdir(cwd)
    except SystemCallError as err:
        raise InvalidInput(f"cannot enter working directory {cwd}: {os.strerror(err.errno)}", field="process.cwd",
                           hint="create it in the image or choose another") from None
    try:
        here = os.getcwd()
    except OSError:  # glibc turns the kernel's "(unreachable)/..." into ENOENT
        here = ""
    if not here.startswith("/"):
        raise InvalidInput(f"working directory {cwd} is outside the container's root", field="process.cwd",
                           hint="possible container breakout: give a path inside the container")


def set_oom_score_adj(value: int | None) -> None:
    if value is None:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write(str(value))
    except OSError as err:
        raise InvalidInput(f"cannot set oom_score_adj {value}: {err.strerror}", field="process.oomScoreAdj",
                           hint="lowering it needs CAP_SYS_RESOURCE, which this host does not grant") from None


_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up() -> None:
    """Bring up ``lo`` in a new network namespace (runc does it too: a service
    listening on 127.0.0.1 must be reachable from inside the container)."""
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack_from("16sH", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        if not flags & _IFF_UP:
            fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))
    finally:
        sock.close()
