"""Container lifecycle on the runtime side: create, start, state, kill,
pause/resume, delete. Each is a short-lived command; what persists is the
state file, the cgroup and the container's own processes."""

from __future__ import annotations

import contextlib
import os
import signal
import time

from .. import lifecycle as lc
from .. import syscalls as sc
from ..crashpoint import crash_point
from ..errors import AlreadyExists, Conflict, InvalidInput, InvalidState, NotFound
from . import channel, hooks, init, state
from .cgroup import ContainerCgroup, cgroup_path, mount_cgroupfs
from .spec import load_bundle, namespaces

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    import socket

_NAMESPACED_SYSCTL = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                      "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


class Options:
    """Per-command flags that reach create."""

    def __init__(self, console_socket: str | None = None, pid_file: str | None = None,
                 log: object = None, preserve_fds: int = 0) -> None:
        self.console_socket = console_socket
        self.preserve_fds = preserve_fds
        self.pid_file = pid_file
        self.log = log


def create(root: str, container_id: str, bundle: str, options: Options) -> dict:
    """Build the container up to the blocked init; returns its state record."""
    bundle = os.path.abspath(bundle)
    config = load_bundle(bundle)
    _check_platform(config, options)
    directory, lock = _reserve(root, container_id)
    record = {"id": container_id, "bundle": bundle, "rootfs": config["root"]["path"], "state_dir": directory,
              "created": _now(), "annotations": config.get("annotations") or {}, "pid": 0,
              "hooks": config.get("hooks") or {}}
    cgroup: ContainerCgroup | None = None
    pids: list[int] = []
    try:
        cgroup_dir = cgroup_path(config, container_id)
        state.save_pending(directory, {"cgroup": cgroup_dir})  # before the cgroup exists: a crash can clean it
        cgroup = ContainerCgroup(cgroup_dir)
        record["cgroup"] = cgroup.path
        _prepare_cgroup(cgroup, config, options)
        fifo = os.path.join(directory, "exec.fifo")
        os.mkfifo(fifo, 0o622)
        os.chmod(fifo, 0o622)
        console_sock = connect_console(options.console_socket) if config["process"].get("terminal") else None
        launch = init.Launch(config, bundle, fifo, console_sock, sc.default_syscalls(),
                             cgroup_mount=mount_cgroupfs(cgroup.v1_mounts),
                             state={"ociVersion": state.OCI_VERSION, "id": container_id, "bundle": bundle})
        launch.preserve_fds = options.preserve_fds
        launch.lock_fd = lock  # the forked side closes its copy: only this process holds the lock
        # opened here, by the host's root: a user namespace's root may not be
        # able to walk to the state dir; the init reopens it via /proc/self/fd
        launch.fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        try:
            pid = spawn(launch, cgroup, pids, options)
        finally:
            os.close(launch.fifo_fd)
        crash_point("runtime.create.mid")  # the init waits on exec.fifo, no state.json yet
        record["pid"], record["pid_start"] = pid, state.start_time(pid)
        record["namespaces"] = sorted(namespaces(config))
        state.save(directory, record)
        write_pid_file(options.pid_file, pid)
        return record
    except BaseException:
        for pid in pids:
            _kill_quietly(pid)
        if cgroup is not None:
            _remove_cgroup_quietly(cgroup)
        _remove_tree(directory, ignore_errors=True)
        raise
    finally:
        os.close(lock)


def _reserve(root: str, container_id: str) -> tuple[str, int]:
    """The locked state directory; the leftovers of a create that crashed
    (no state.json, lock free) are cleaned first, so the id can be used again."""
    try:
        return state.reserve(root, container_id)
    except FileExistsError:
        pass
    directory = state.state_dir(root, container_id)
    if state.has_state(directory) or not remove_unfinished(directory):
        raise AlreadyExists(f"container {container_id} already exists", field="container-id",
                            hint="delete it first or choose another id")
    try:
        return state.reserve(root, container_id)
    except FileExistsError:
        raise AlreadyExists(f"container {container_id} already exists", field="container-id",
                            hint="another create of this id is under way") from None


def remove_unfinished(directory: str) -> bool:
    """Remove a state directory whose create crashed: no state.json and a
    free lock (a held lock is a create under way: it is left alone). Its init,
    if one was forked, waits in the container's cgroup and is killed with it.
    True if the directory is gone."""
    try:
        lock = state.try_lock(directory)
    except FileNotFoundError:
        return True
    if lock is None:
        return False
    try:
        if state.has_state(directory):
            return False
        cgroup_dir = state.load_pending(directory).get("cgroup")
        if isinstance(cgroup_dir, str) and cgroup_dir:
            _remove_cgroup_quietly(ContainerCgroup(cgroup_dir))
        _remove_tree(directory, ignore_errors=True)
        return True
    finally:
        os.close(lock)


def _check_platform(config: dict, options: Options) -> None:
    process = config["process"]
    if process.get("terminal") and not options.console_socket:
        raise InvalidInput("process.terminal is true but no --console-socket was given", field="process.terminal",
                           hint="pass --console-socket PATH (conmon and containerd do) or set terminal to false")
    wanted = namespaces(config)
    if "mount" not in wanted:
        raise InvalidInput("berth-runtime needs a mount namespace", field="linux.namespaces",
                           hint='add {"type": "mount"}')
    linux = config.get("linux") or {}
    for key in linux.get("sysctl") or {}:
        net_ok = key.startswith("net.") and _own_netns(wanted)
        if not (key in _NAMESPACED_SYSCTL or key.startswith("fs.mqueue.") or net_ok):
            raise InvalidInput(f"sysctl {key} is not namespaced for this container", field="linux.sysctl",
                               hint="only IPC sysctls and, with a new network namespace, net.* are allowed")
    if (config.get("hostname") or config.get("domainname")) and wanted.get("uts", "") is not None:
        raise InvalidInput("setting hostname needs a new UTS namespace", field="hostname",
                           hint='add {"type": "uts"} to linux.namespaces')


def _own_netns(wanted: dict[str, str | None]) -> bool:
    """A new network namespace, or a joined one that is not the host's (podman's netns path)."""
    if "network" not in wanted:
        return False
    path = wanted["network"]
    if path is None:
        return True
    try:
        return os.stat(path).st_ino != os.stat("/proc/1/ns/net").st_ino
    except OSError:
        return True  # joining fails later with an error naming the path


def _prepare_cgroup(cgroup: ContainerCgroup, config: dict, options: Options) -> None:
    cgroup.create()
    linux_resources = (config.get("linux") or {}).get("resources") or {}
    from . import resources

    if resources.has_limits(linux_resources):
        warnings: list[str] = []
        resources.apply(linux_resources, cgroup.path, warnings)
        for warning in warnings:
            log_warning(options, warning)
    cgroup.apply_devices(linux_resources.get("devices") or [])


def spawn(launch: init.Launch, cgroup: ContainerCgroup, pids: list[int], options: Options,
          joined: dict[str, int] | None = None) -> int:
    """Fork the intermediate, drive the set-up conversation, return the
    container process's pid once it reports ready (or exec'd, for exec)."""
    parent, child = channel.pair()
    intermediate = os.fork()
    if intermediate == 0:  # pragma: no cover - runs in the child
        parent.close()
        init.run_intermediate(launch, child, joined)
    child.close()
    if launch.console_sock is not None:
        launch.console_sock.close()
    try:
        return _converse(parent, launch, intermediate, pids, options, cgroup)
    except BaseException:
        _kill_quietly(intermediate)
        raise
    finally:
        parent.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(intermediate, 0)


def _converse(sock: socket.socket, launch: init.Launch, intermediate: int, pids: list[int], options: Options,
              cgroup: ContainerCgroup) -> int:
    pid = 0
    while True:
        message = channel.receive(sock)
        kind = message["kind"]
        if kind == "userns":
            _write_id_maps(intermediate, launch.config)
            channel.send(sock, "ok")
        elif kind == "pid":
            pid = message["pid"]
            pids.append(pid)
            try:
                cgroup.add(pid)  # the init builds its root meanwhile, then waits for "go"
                channel.send(sock, "go")
            except OSError:
                continue  # the init failed already: its error is the next message
        elif kind == "hooks":
            hook_set = launch.config.get("hooks") or {}
            payload = {**launch.state, "status": lc.OCI_CREATING, "pid": pid}
            hooks.run_hooks(hook_set.get("prestart") or [], payload, "prestart")
            hooks.run_hooks(hook_set.get("createRuntime") or [], payload, "createRuntime")
            channel.send(sock, "ok")
        elif kind == "warning":
            log_warning(options, message["message"])
        elif kind == "ready" or (kind == "eof" and launch.exec_mode and pid):
            return pid
        elif kind == "error":
            raise channel.rebuild_error(message)
        else:
            raise InvalidState("the container's init exited during set-up", hint="see --log for its last words")


def _write_id_maps(pid: int, config: dict) -> None:
    linux = config.get("linux") or {}
    for key, name in (("uidMappings", "uid_map"), ("gidMappings", "gid_map")):
        lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux.get(key) or [])
        try:
            with open(f"/proc/{pid}/{name}", "w") as handle:
                handle.write(lines)
        except OSError as err:
            raise InvalidInput(f"the kernel refused {key}: {err.strerror}", field=f"linux.{key}",
                               hint="ranges must not overlap and must exist on the host") from None


def start(root: str, container_id: str) -> dict:
    record = state.load(root, container_id)
    lc.oci_require(state.status(record, frozen=False), lc.START, container_id)
    fifo = os.path.join(record["state_dir"], "exec.fifo")
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        _await_fifo(fd, record)
    finally:
        os.close(fd)
        os.unlink(fifo)
    record["started"] = _now()
    state.save(record["state_dir"], record)
    payload = state.oci_state(record, lc.OCI_RUNNING)
    hooks.run_hooks(record["hooks"].get("poststart") or [], payload, "poststart")
    return record


def _await_fifo(fd: int, record: dict) -> None:
    while True:
        alive = state.alive(record)  # read before the fifo: a command that ran and exited meanwhile wrote first
        try:
            if os.read(fd, 1):
                return
        except BlockingIOError:
            pass
        if not alive:
            raise InvalidState(f"container {record['id']} exited before it could start",
                               hint="see the container's output and --log")
        time.sleep(0.0005)


def current_status(record: dict) -> str:
    alive = state.alive(record)
    frozen = alive and ContainerCgroup(record["cgroup"]).frozen()
    return state.status(record, frozen)


def kill(root: str, container_id: str, signum: int, all_processes: bool = False) -> None:
    record = state.load(root, container_id)
    if all_processes:
        ContainerCgroup(record["cgroup"]).signal_all(signum)
        return
    # paused or not is the same cell for kill: skip the cgroup read
    lc.oci_require(state.status(record, frozen=False), lc.KILL, container_id)
    os.kill(record["pid"], signum)


def pause(root: str, container_id: str, paused: bool) -> None:
    record = state.load(root, container_id)
    lc.oci_require(current_status(record), lc.PAUSE if paused else lc.RESUME, container_id)
    ContainerCgroup(record["cgroup"]).freeze(paused)


def delete(root: str, container_id: str, force: bool = False) -> None:
    try:
        record = state.load(root, container_id)
    except NotFound:
        if not force:
            raise
        _delete_unfinished(root, container_id)
        return
    current = current_status(record)
    lc.oci_require(current, lc.DELETE, container_id, force=force)
    cgroup = ContainerCgroup(record["cgroup"])
    if current != lc.OCI_STOPPED:
        if current == lc.OCI_PAUSED:
            cgroup.freeze(False)
        cgroup.signal_all(signal.SIGKILL)
        _kill_quietly(record["pid"])
        _wait_gone(record)
    cgroup.remove()
    _remove_tree(record["state_dir"], ignore_errors=True)
    hooks_poststop = record["hooks"].get("poststop") or []
    if hooks_poststop:
        # the spec: poststop failures are logged, the delete stands
        with contextlib.suppress(InvalidState):
            hooks.run_hooks(hooks_poststop, state.oci_state(record, lc.OCI_STOPPED), "poststop")


def _delete_unfinished(root: str, container_id: str) -> None:
    """delete --force of a container without state.json (runc's --force: an
    aborted create is removed quietly; conmon calls this after every failed
    create). One whose create is still under way is left alone."""
    directory = state.state_dir(root, container_id)
    if not os.path.lexists(directory) or remove_unfinished(directory):
        return
    if state.has_state(directory):  # its create finished meanwhile
        delete(root, container_id, force=True)
        return
    raise InvalidState(f"container {container_id} is being created", field="container-id",
                       hint="wait until its create finishes, then delete it")


def _wait_gone(record: dict, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while state.alive(record):
        _reap(record["pid"])
        if time.monotonic() > deadline:
            raise InvalidState(f"container {record['id']} did not die within {timeout:.0f}s after SIGKILL")
        time.sleep(0.001)


def write_pid_file(path: str | None, pid: int) -> None:
    if not path:
        return
    temporary = f"{path}.tmp"
    with open(temporary, "w") as handle:
        handle.write(str(pid))
    os.replace(temporary, path)


def log_warning(options: Options, message: str) -> None:
    if options.log is not None:
        options.log("warning", message)  # type: ignore[operator]


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _remove_cgroup_quietly(cgroup: ContainerCgroup) -> None:
    try:
        cgroup.signal_all(signal.SIGKILL)
        cgroup.remove()
    except (OSError, Conflict, InvalidState):
        pass


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"


def _remove_tree(path: str, ignore_errors: bool = True) -> None:
    """The engine's one tree remover (iterative, never follows links), imported
    only on delete and failure paths: keeps `create`'s start-up lean."""
    from ..fsutil import remove_tree

    try:
        remove_tree(path)
    except OSError:
        if not ignore_errors:
            raise


def connect_console(path: str | None) -> socket.socket:
    """Connect to --console-socket. console is imported only for terminals
    (termios & co. cost start-up time); the init
    finds it in sys.modules after pivot_root, when the host's stdlib is gone."""
    from .console import connect

    return connect(path or "")
