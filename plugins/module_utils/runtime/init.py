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

Both forked processes are non-dumpable from their first step until the
final execve (runc's nsexec does the same): until then they are the host's
python3 with the runtime's memory, and a dumpable process's /proc/<pid>/exe,
mem and fds are open to any process of the container that shares its user.
The final execve goes through the sealed helper of ``trampoline`` so that
nothing the command names as its interpreter can be the host's python3.
"""

from __future__ import annotations

import os

from .. import lifecycle as lc
from .. import syscalls as sc
from ..errors import InvalidInput, InvalidState, SystemCallError
from . import caps, channel, devices, hooks, mounts, process, seccomp, trampoline
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
        self.lock_fd: int | None = None  # the state dir's lock: the runtime's alone, closed here
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
        try:
            prepare_intermediate(launch, sock, joined)
            pid = os.fork()
            if pid == 0:
                run_init(launch, sock)
            channel.send(sock, "pid", pid=pid)
        except BaseException as err:
            channel.send_error(sock, err)
            code = 1
    finally:
        os._exit(code)  # never back into the runtime's code, whatever happened above


def prepare_intermediate(launch: Launch, sock: socket.socket, joined: dict[str, int] | None) -> None:
    """The intermediate's steps before it forks the init, in order."""
    # First: nothing of the container (namespaces, root) is touched while dumpable.
    launch.calls.prctl(sc.PR_SET_DUMPABLE, 0)
    if launch.lock_fd is not None:
        os.close(launch.lock_fd)  # flock is per open file: the runtime's copy keeps the lock
        launch.lock_fd = None
    _enter_namespaces(launch, sock, joined)


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
        calls.setresgid(0, 0, 0)
        calls.setresuid(0, 0, 0)
    # The cgroup namespace waits for the init (see _await_cgroup): it must be
    # created after the init is in the container's cgroup.
    flags = sum(FLAGS[kind] for kind, path in wanted.items() if path is None and kind not in ("user", "cgroup"))
    if flags:
        calls.unshare(flags)


def run_init(launch: Launch, sock: socket.socket) -> None:
    """The container's init (or exec'd process). Never returns."""
    code = 1
    try:
        _init(launch, sock)  # execs on success
    except BaseException as err:
        channel.send_error(sock, err)
        code = getattr(err, "exit_code", 1)
    finally:
        os._exit(code)


def _init(launch: Launch, sock: socket.socket) -> None:
    """The init's checklist, top to bottom; the order is the point (see the
    comments and tests/unit/runtime/test_startup_order.py)."""
    config, calls = launch.config, launch.calls
    proc = config["process"]
    calls.prctl(sc.PR_SET_DUMPABLE, 0)  # inherited from the intermediate; stated where the checklist starts
    calls.setsid()
    exec_mode = launch.exec_mode
    if exec_mode:
        _await_cgroup(launch, sock, new_namespace=False)
    else:
        if namespaces(config).get("network", "") is None:
            process.loopback_up()
        _build_root(launch, sock)  # mounts through /proc/self/fd, /dev, pivot_root, masked paths
    process.set_oom_score_adj(proc.get("oomScoreAdj"))
    if launch.console_sock is not None:
        from . import console  # loaded by the runtime before the fork (see container._connect_console)

        console.attach(launch.console_sock, calls, mount_console=not exec_mode)
    process.set_rlimits(proc.get("rlimits") or [], launch.warnings, calls)
    helper, why_not = trampoline.load()  # before seccomp: a profile may forbid memfd_create
    if helper is None:
        launch.warnings.append(f"{why_not}: the command is exec'd directly, /proc/self/exe is not shielded")
    env = process.environment(proc)
    nnp = bool(proc.get("noNewPrivileges"))
    if launch.seccomp and not nnp:
        seccomp.load(launch.seccomp, calls)  # without no_new_privs it needs CAP_SYS_ADMIN: before the caps drop
    process.switch_user(proc.get("user") or {}, launch.sets, calls)
    calls.prctl(sc.PR_SET_DUMPABLE, 0)  # a change of uid resets it to fs.suid_dumpable
    process.enter_cwd(proc.get("cwd") or "/", calls)  # checked to be inside the root after chdir
    path = process.lookup(proc["args"][0], env)
    for warning in launch.warnings:
        channel.send(sock, "warning", message=warning)
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
                        {**launch.state, "status": lc.OCI_RUNNING, "pid": os.getpid()}, "startContainer")
    _close_inherited(3 + launch.preserve_fds)
    if launch.seccomp and nnp:
        # allowed unprivileged now; as late as possible, so the filter sees
        # (and may refuse) as few of the runtime's own calls as possible
        seccomp.load(launch.seccomp, calls)
    _exec(helper, path, proc["args"], env, calls)


def _exec(helper: int | None, path: str, args: list[str], env: dict[str, str], calls: sc.Syscalls) -> None:
    """execve the command, through the sealed helper where there is one. If
    the helper cannot be exec'd by descriptor (execveat), it is tried through
    /proc/self/fd; the command is never exec'd directly as a fallback, as
    that would reopen the /proc/self/exe window."""
    try:
        if helper is None:
            calls.execve(path, args, env)
        try:
            trampoline.execve(helper, path, args, env, calls)
        except SystemCallError:
            trampoline.execve(f"/proc/self/fd/{helper}", path, args, env, calls)
    except SystemCallError as err:
        os.write(2, f"berth-runtime: exec {args[0]}: {os.strerror(err.errno)}\n".encode())
        os._exit(126 if err.errno in (13, 8) else 127)


def _build_root(launch: Launch, sock: socket.socket) -> None:
    config, calls = launch.config, launch.calls
    linux = config.get("linux") or {}
    rootfs = os.path.realpath(config["root"]["path"])
    spec_mounts = config.get("mounts") or []
    root_mounts = [m for m in spec_mounts if m["destination"].rstrip("/") == ""]
    root_fd = mounts.prepare_root(rootfs, linux.get("rootfsPropagation"), root_mounts, calls)
    try:
        now, after_cgroup = _split_mounts(spec_mounts)
        _mount_all(launch, root_fd, rootfs, now)
        dev_bound = any(m["destination"] == "/dev" and "bind" in (m.get("options") or []) + [m.get("type")]
                        for m in spec_mounts)
        if not dev_bound:
            # made after the mounts (so inside the /dev tmpfs), through the root's descriptor
            devices.create_devices(root_fd, linux.get("devices") or [], "user" in namespaces(config), calls)
            devices.dev_symlinks(root_fd)
        _await_cgroup(launch, sock, new_namespace=namespaces(config).get("cgroup", "") is None)
        _mount_all(launch, root_fd, rootfs, after_cgroup)
        _make_cwd(root_fd, config["process"].get("cwd") or "/")
        hook_set = config.get("hooks") or {}
        if hook_set.get("prestart") or hook_set.get("createRuntime"):
            channel.send(sock, "hooks")
            channel.expect(sock, "ok")
        hooks.run_hooks(hook_set.get("createContainer") or [], {**launch.state, "status": lc.OCI_CREATING},
                        "createContainer")
        mounts.pivot(root_fd, calls)
    finally:
        os.close(root_fd)
    _after_pivot(config, calls)


def _make_cwd(root_fd: int, cwd: str) -> None:
    """As runc: a missing cwd is created (inside the root, like every mount target)."""
    try:
        os.close(mounts.make_dir_in_root(root_fd, cwd))
    except OSError as err:
        raise InvalidInput(f"cannot create working directory {cwd} inside the container: {err.strerror}",
                           field="process.cwd", hint="give a directory path inside the image") from None


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


def _mount_all(launch: Launch, root_fd: int, rootfs: str, entries: list[tuple[int, dict]]) -> None:
    for index, mount in entries:
        field = f"mounts[{index}]"
        try:
            mounts.mount_entry(root_fd, rootfs, launch.bundle, mount, launch.calls, launch.cgroup_mount, field)
        except SystemCallError as err:
            raise InvalidState(f"cannot mount {mount['destination']}: {err.message}", field=field,
                               hint=err.hint) from None
        except OSError as err:  # the target could not be opened or made inside the root
            raise InvalidState(f"cannot mount {mount['destination']}: {err.strerror or err}", field=field,
                               hint="symlinks in the image must stay inside it, and /proc/self/... is not followed"
                               ) from None


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
