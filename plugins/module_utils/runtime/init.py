"""The container side of create: the forked processes that enter the
namespaces, build the root and finally execve the container's command.

    runtime ──fork──> intermediate: setns/unshare ──fork──> init (pid 1)
                      sends init's pid, exits          builds the mount tree;
    runtime: moves the init into its cgroup, "go" ──>  cgroup ns + mounts,
                                                       pivot_root, waits on
                                                       exec.fifo, execve

The intermediate exists because a new pid namespace only applies to the
children of the process that unshared it. Nothing is imported after
pivot_root: every module used here is loaded before the fork.
"""

from __future__ import annotations

import os

from .. import syscalls as sc
from ..errors import InvalidState, SystemCallError
from . import caps, channel, hooks, mounts, process, seccomp
from .spec import namespaces

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    import socket

FLAGS = {"user": sc.CLONE_NEWUSER, "pid": sc.CLONE_NEWPID, "network": sc.CLONE_NEWNET, "mount": sc.CLONE_NEWNS,
         "ipc": sc.CLONE_NEWIPC, "uts": sc.CLONE_NEWUTS, "cgroup": sc.CLONE_NEWCGROUP, "time": sc.CLONE_NEWTIME}
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "time", "cgroup", "mount")


class Launch:
    """What the forked side needs besides the config (all prepared before fork)."""

    def __init__(self, config: dict, bundle: str, fifo: str | None, console_sock: socket.socket | None,
                 calls: sc.Syscalls, cgroup_mount: object = None, exec_mode: bool = False,
                 state: dict | None = None) -> None:
        self.config = config
        self.exec_mode = exec_mode
        self.state = state or {}
        self.fifo_fd: int | None = None
        self.preserve_fds = 0
        self.bundle = bundle
        self.fifo = fifo
        self.console_sock = console_sock
        self.calls = calls
        self.cgroup_mount = cgroup_mount
        self.warnings: list[str] = []
        process_ = config["process"]
        self.sets = caps.capsets(process_.get("capabilities"), self.warnings)
        linux = config.get("linux") or {}
        self.seccomp = seccomp.compile_profile(linux["seccomp"]) if linux.get("seccomp") else None


def run_intermediate(launch: Launch, sock: socket.socket, joined: dict[str, int] | None = None) -> None:
    """First child: enter namespaces, fork the init, report its pid. Never returns."""
    code = 0
    try:
        _enter_namespaces(launch, sock, joined)
        pid = os.fork()
        if pid == 0:
            run_init(launch, sock)
        channel.send(sock, "pid", pid=pid)
    except BaseException as err:
        channel.send_error(sock, err)
        code = 1
    os._exit(code)


def _enter_namespaces(launch: Launch, sock: socket.socket, joined: dict[str, int] | None) -> None:
    calls = launch.calls
    wanted = namespaces(launch.config)
    fds = joined if joined is not None else {
        kind: os.open(path, os.O_RDONLY | os.O_CLOEXEC) for kind, path in wanted.items() if path}
    for kind in JOIN_ORDER:
        if kind in fds:
            calls.setns(fds[kind], FLAGS[kind])
            os.close(fds[kind])
    if joined is not None:
        return
    if "user" in wanted and wanted["user"] is None:
        calls.unshare(sc.CLONE_NEWUSER)
        channel.send(sock, "userns")
        channel.expect(sock, "ok")
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    # The cgroup namespace waits for the init (see _await_cgroup): it must be
    # created after the init is in the container's cgroup.
    flags = sum(FLAGS[kind] for kind, path in wanted.items() if path is None and kind not in ("user", "cgroup"))
    if flags:
        calls.unshare(flags)


def run_init(launch: Launch, sock: socket.socket) -> None:
    """The container's init (or exec'd process). Never returns."""
    try:
        _init(launch, sock)
    except BaseException as err:
        channel.send_error(sock, err)
        os._exit(getattr(err, "exit_code", 1))
    os._exit(1)  # not reached: _init execs


def _init(launch: Launch, sock: socket.socket) -> None:
    config, calls = launch.config, launch.calls
    proc = config["process"]
    os.setsid()
    exec_mode = launch.exec_mode
    if exec_mode:
        _await_cgroup(launch, sock, new_namespace=False)
    else:
        if namespaces(config).get("network", "") is None:
            process.loopback_up()
        _build_root(launch, sock)
    process.set_oom_score_adj(proc.get("oomScoreAdj"))
    if launch.console_sock is not None:
        from . import console  # loaded by the runtime before the fork (see container._connect_console)

        console.attach(launch.console_sock, calls, mount_console=not exec_mode)
    process.set_rlimits(proc.get("rlimits") or [], launch.warnings)
    for warning in launch.warnings:
        channel.send(sock, "warning", message=warning)
    env = process.environment(proc)
    nnp = bool(proc.get("noNewPrivileges"))
    if launch.seccomp and not nnp:
        seccomp.load(launch.seccomp)  # needs CAP_SYS_ADMIN: before the caps drop
    process.switch_user(proc.get("user") or {}, launch.sets, calls)
    process.enter_cwd(proc.get("cwd") or "/")
    path = process.lookup(proc["args"][0], env)
    if nnp:
        calls.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    fifo_fd = launch.fifo_fd
    channel.send(sock, "ready")
    sock.close()
    if fifo_fd is not None:
        # Blocks until `start` opens the other end: the container is "created" till then.
        fd = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(fd, b"0")
        os.close(fd)
        os.close(fifo_fd)
        hooks.run_hooks((config.get("hooks") or {}).get("startContainer") or [],
                        {**launch.state, "status": "running", "pid": os.getpid()}, "startContainer")
    _close_inherited(3 + launch.preserve_fds)
    if launch.seccomp and nnp:
        seccomp.load(launch.seccomp)
    try:
        os.execve(path, proc["args"], env)
    except OSError as err:
        os.write(2, f"berth-runtime: exec {proc['args'][0]}: {err.strerror}\n".encode())
        os._exit(126 if err.errno in (13, 8) else 127)


def _build_root(launch: Launch, sock: socket.socket) -> None:
    config, calls = launch.config, launch.calls
    linux = config.get("linux") or {}
    rootfs = config["root"]["path"]
    spec_mounts = config.get("mounts") or []
    root_mounts = [m for m in spec_mounts if m["destination"] == "/"]
    mounts.prepare_root(rootfs, linux.get("rootfsPropagation"), root_mounts, calls)
    now, after_cgroup = _split_mounts(spec_mounts)
    _mount_all(launch, rootfs, now)
    dev_bound = any(m["destination"] == "/dev" and "bind" in (m.get("options") or []) + [m.get("type")]
                    for m in spec_mounts)
    if not dev_bound:
        in_userns = "user" in namespaces(config)
        mounts.create_devices(rootfs, linux.get("devices") or [], in_userns, calls)
        mounts.dev_symlinks(rootfs, with_pts=os.path.ismount(rootfs + "/dev/pts"))
    _await_cgroup(launch, sock, new_namespace=namespaces(config).get("cgroup", "") is None)
    _mount_all(launch, rootfs, after_cgroup)
    cwd = mounts.secure_join(rootfs, (config["process"].get("cwd") or "/"))
    os.makedirs(cwd, exist_ok=True)  # as runc: a missing cwd is created
    hook_set = config.get("hooks") or {}
    if hook_set.get("prestart") or hook_set.get("createRuntime"):
        channel.send(sock, "hooks")
        channel.expect(sock, "ok")
    hooks.run_hooks(hook_set.get("createContainer") or [], {**launch.state, "status": "creating"}, "createContainer")
    mounts.pivot(rootfs, calls)
    _after_pivot(config, calls)


def _split_mounts(spec_mounts: list[dict]) -> tuple[list[tuple[int, dict]], list[tuple[int, dict]]]:
    """The spec's mounts (but "/") in order, split into those made while the
    runtime moves the init into its cgroup and those that need the cgroup
    namespace: cgroup filesystems and anything mounted beneath them."""
    cgroup_points = [m["destination"].rstrip("/") for m in spec_mounts if m.get("type") in ("cgroup", "cgroup2")]
    now, after = [], []
    for index, mount in enumerate(spec_mounts):
        destination = mount["destination"].rstrip("/") or "/"
        if destination == "/":
            continue
        beneath = any(destination == p or destination.startswith(p + "/") for p in cgroup_points)
        (after if beneath else now).append((index, mount))
    return now, after


def _mount_all(launch: Launch, rootfs: str, entries: list[tuple[int, dict]]) -> None:
    for index, mount in entries:
        try:
            mounts.mount_entry(rootfs, launch.bundle, mount, launch.calls, launch.cgroup_mount)
        except SystemCallError as err:
            raise InvalidState(f"cannot mount {mount['destination']}: {err.message}",
                               field=f"mounts[{index}]", hint=err.hint) from None


def _await_cgroup(launch: Launch, sock: socket.socket, *, new_namespace: bool) -> None:
    """Wait until the runtime has moved this process into the container's
    cgroup. The move is slow on the kernel's side (an RCU grace period on the
    first migration, ~10 ms), so the init builds its root meanwhile; only the
    cgroup namespace and cgroup mounts wait for it."""
    channel.expect(sock, "go")
    if new_namespace:
        launch.calls.unshare(sc.CLONE_NEWCGROUP)


def _after_pivot(config: dict, calls: sc.Syscalls) -> None:
    linux = config.get("linux") or {}
    for key, value in (linux.get("sysctl") or {}).items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as handle:
            handle.write(str(value))
    mounts.mask_paths(linux.get("maskedPaths") or [], calls)
    mounts.readonly_paths(linux.get("readonlyPaths") or [], calls)
    if (config.get("root") or {}).get("readonly"):
        mounts.readonly_root(calls)
    if config.get("hostname"):
        calls.sethostname(config["hostname"])
    if config.get("domainname"):
        calls.setdomainname(config["domainname"])


def _close_inherited(first: int) -> None:
    """Mark every fd from ``first`` on close-on-exec: nothing the runtime's
    caller left open may leak into the container (--preserve-fds keeps some)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                continue
