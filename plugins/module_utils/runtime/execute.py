"""`exec` (a new process in a running container's namespaces and cgroup) and
the foreground wait shared by `run` and `exec` without --detach."""

from __future__ import annotations

import contextlib
import json
import os
import signal

from .. import lifecycle as lc
from .. import syscalls as sc
from ..errors import InvalidInput
from . import init, state
from .cgroup import ContainerCgroup
from .container import Options, connect_console, current_status, spawn, write_pid_file
from .spec import check_process

_NS_FILES = {"user": "user", "pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
             "cgroup": "cgroup", "time": "time"}
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGWINCH)


def exec_in(root: str, container_id: str, process: dict, options: Options) -> int:
    """Start ``process`` inside the container; returns its pid."""
    record = state.load(root, container_id)
    lc.oci_require(current_status(record), lc.EXEC, container_id)
    check_process(process, "process")
    config = _bundle_config(record)
    if process.get("terminal") and not options.console_socket:
        raise InvalidInput("a terminal needs --console-socket", field="--tty", hint="pass --console-socket PATH")
    linux = config.get("linux") or {}
    joined = {}
    try:
        for kind in record.get("namespaces") or []:
            joined[kind] = os.open(f"/proc/{record['pid']}/ns/{_NS_FILES[kind]}", os.O_RDONLY | os.O_CLOEXEC)
        console_sock = connect_console(options.console_socket) if process.get("terminal") else None
        launch = init.Launch({"process": process, "linux": {"seccomp": linux.get("seccomp")}}, record["bundle"],
                             None, console_sock, sc.default_syscalls(), exec_mode=True)
        launch.preserve_fds = options.preserve_fds
        pids: list[int] = []
        pid = spawn(launch, ContainerCgroup(record["cgroup"]), pids, options, joined)
    finally:
        for fd in joined.values():
            with contextlib.suppress(OSError):
                os.close(fd)
    write_pid_file(options.pid_file, pid)
    return pid


def _bundle_config(record: dict) -> dict:
    try:
        with open(os.path.join(record["bundle"], "config.json")) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def process_from_args(record_bundle: str, args: list[str], env: list[str], cwd: str | None, user: str | None,
                      additional_gids: list[int], caps_added: list[str], tty: bool, no_new_privs: bool) -> dict:
    """The exec process built from flags, on top of the container's own process."""
    base = _bundle_config({"bundle": record_bundle}).get("process") or {}
    process = {k: v for k, v in base.items() if k in ("env", "cwd", "user", "capabilities", "rlimits",
                                                      "noNewPrivileges", "apparmorProfile")}
    process["args"] = args
    process["terminal"] = tty
    process["env"] = list(process.get("env") or []) + env
    if cwd:
        process["cwd"] = cwd
    if user:
        uid, _sep, gid = user.partition(":")
        try:
            process["user"] = {"uid": int(uid), "gid": int(gid or 0)}
        except ValueError:
            raise InvalidInput(f"user {user!r} is not uid[:gid]", field="--user",
                               hint="the runtime takes numeric ids, e.g. 1000:1000") from None
    if additional_gids:
        process.setdefault("user", {})["additionalGids"] = additional_gids
    if caps_added:
        capabilities = {k: list(v) for k, v in (process.get("capabilities") or {}).items()}
        for name in caps_added:
            for kind in ("bounding", "effective", "permitted", "ambient", "inheritable"):
                capabilities.setdefault(kind, []).append(name)
        process["capabilities"] = capabilities
    if no_new_privs:
        process["noNewPrivileges"] = True
    return process


def become_subreaper() -> None:
    """Orphans of the container (its init once the intermediate exits) become
    our children, so a foreground run/exec can wait for them."""
    sc.default_syscalls().prctl(sc.PR_SET_CHILD_SUBREAPER, 1)


def wait_foreground(pid: int) -> int:
    """Forward signals to ``pid`` and return its exit code (128+n if killed)."""
    for signum in FORWARDED:
        signal.signal(signum, lambda number, _frame: _forward(pid, number))
    while True:
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if done == pid:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code


def _forward(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
