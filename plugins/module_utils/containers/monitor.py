"""The monitor: one process per run root that keeps containers' stdio, reaps
their inits, records exit codes, applies restart policies and stops them.

Why one per host and not one per container (conmon's design): a Python
process costs ~10 MB; shared by N containers it costs 10/N MB each, and it
runs the runtime in-process (no interpreter start per create/start). It is
a child subreaper, and the runtime is called from it, so every container's
init is re-parented to it and it reads their exit status. It is started on
demand (``ensure_running``) and exits once nothing is left to watch, so no
daemon outlives its containers. If it is killed, containers keep running;
the records are corrected from the runtime's state (``service.refresh``) and
the next monitor watches them again through pidfds (exit codes then unknown).

Protocol: one JSON object per line on ``<run_root>/monitor.sock``:
``{"op": "start"|"stop"|"ping", "id": ..., "signal": 15, "timeout": 10}`` →
``{"ok": true, ...}`` or ``{"ok": false, "error": {kind, message, field, hint}}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import time
from typing import Any

from ..crashpoint import crash_point
from ..engine import Engine
from ..errors import BerthError, InvalidState
from ..runtime import container as runtime
from ..runtime.state import start_time
from . import health, limits, mounting, networking, policy
from .logs import LogWriter
from .store import ContainerStore, now

PR_SET_CHILD_SUBREAPER = 36
IDLE_EXIT = 0.5  # seconds with nothing to watch before the monitor exits


class Monitor:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = ContainerStore(engine)
        self.run_root = engine.layout.run_root
        self.sel = selectors.DefaultSelector()
        self.inits: dict[int, str] = {}            # init pid -> container id
        self.adopted: dict[int, str] = {}          # pidfd -> id (running before this monitor)
        self.logs: dict[str, LogWriter] = {}
        self.started: dict[str, float] = {}
        self.backoff: dict[str, float] = {}
        self.restart_at: dict[str, float] = {}
        self.stops: dict[str, tuple[float, list[socket.socket]]] = {}   # id -> (SIGKILL deadline, waiters)
        self.waiters: dict[str, list[socket.socket]] = {}              # id -> clients waiting for its exit
        self.next_probe: dict[str, float] = {}                           # id -> when its healthcheck runs next
        self.probes: dict[int, dict[str, Any]] = {}                      # probe pid -> what it checks
        self.idle_since = time.monotonic()
        self.network: networking.Networking | None = None

    # -- the loop ------------------------------------------------------------------
    def serve(self) -> None:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        path = self.run_root / "monitor.sock"
        path.unlink(missing_ok=True)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(path))
        path.chmod(0o600)
        server.listen(64)
        self.sel.register(server, selectors.EVENT_READ, ("accept", None))
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(wake_r, selectors.EVENT_READ, ("wake", None))
        self._adopt_running()
        try:
            while not self._idle():
                for key, _mask in self.sel.select(self._timeout()):
                    self._dispatch(key)
                self._reap()
                self._timers()
        finally:
            path.unlink(missing_ok=True)
            server.close()

    def _idle(self) -> bool:
        busy = (self.inits or self.adopted or self.restart_at or self.stops or self.waiters
                or len(self.sel.get_map()) > 2)
        if busy:
            self.idle_since = time.monotonic()
            return False
        return time.monotonic() - self.idle_since > IDLE_EXIT

    def _timeout(self) -> float:
        deadlines = (list(self.restart_at.values()) + [deadline for deadline, _waiters in self.stops.values()]
                     + list(self.next_probe.values()) + [probe["deadline"] for probe in self.probes.values()])
        soonest = min(deadlines, default=time.monotonic() + IDLE_EXIT) - time.monotonic()
        return max(0.0, min(soonest, IDLE_EXIT))

    def _dispatch(self, key: selectors.SelectorKey) -> None:
        kind, data = key.data
        if kind == "accept":
            conn, _addr = key.fileobj.accept()  # type: ignore[union-attr]
            self.sel.register(conn, selectors.EVENT_READ, ("client", bytearray()))
        elif kind == "wake":
            os.read(key.fd, 4096)
        elif kind == "client":
            self._client(key.fileobj, data)  # type: ignore[arg-type]
        elif kind == "log":
            self._pump(key.fd, *data)
        elif kind == "pidfd":
            self._adopted_exit(key.fd)
        elif kind == "probe":
            self._probe_output(key.fd, data)

    def _client(self, conn: socket.socket, buffer: bytearray) -> None:
        chunk = conn.recv(65536)
        if not chunk:
            self.sel.unregister(conn)
            conn.close()
            return
        buffer.extend(chunk)
        while b"\n" in buffer:
            line, _sep, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            try:
                request = json.loads(line)
            except ValueError:
                _reply(conn, {"ok": False, "error": {"kind": "invalid_input", "message": "not a JSON request"}})
                continue
            self._request(conn, request)

    def _request(self, conn: socket.socket, request: dict[str, Any]) -> None:
        try:
            op = request.get("op")
            if op == "start":
                _reply(conn, {"ok": True, "pid": self.start(request["id"])})
            elif op == "stop":
                self.stop(conn, request["id"], int(request.get("signal", 15)), float(request.get("timeout", 10)))
            elif op == "wait":
                self.wait(conn, request["id"])
            elif op == "cli":
                from .cli import in_monitor

                _reply(conn, in_monitor(self.engine, self.start, list(request["argv"])))
            elif op == "remove":   # the fast lane's `run --rm`, after the client read the output
                from .service import ContainerService

                ContainerService(self.engine).remove(request["id"], force=True, volumes=True)
                _reply(conn, {"ok": True})
            else:
                _reply(conn, {"ok": True, "pid": os.getpid()})
        except BerthError as err:
            _reply(conn, {"ok": False, "error": {**err.as_dict(), "text": str(err)}})
        except (OSError, KeyError, TypeError, ValueError) as err:
            # one bad request must not take down the monitor of every container
            _reply(conn, {"ok": False, "error": {"kind": "invalid_state", "message": f"monitor: {err!r}"}})

    def _networking(self) -> networking.Networking:
        """One for the monitor's life (it caches realized networks and parsed records)."""
        if self.network is None:
            self.network = networking.Networking(self.engine)
        return self.network

    # -- starting --------------------------------------------------------------------
    def start(self, container_id: str) -> int:
        record = self.store.meta.get(container_id)
        if any(cid == container_id for cid in self.inits.values()):
            return int(record["state"]["pid"])
        config = record["config"]
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        root = str(self.store.runtime_root)
        bundle = str(self.store.directory(container_id) / "bundle")
        with contextlib.suppress(BerthError):
            runtime.delete(root, container_id, force=True)   # leftovers of a crash
        mounting.before_start(self.engine, config)
        if str(config.get("network_mode")).startswith("container:"):
            self._networking().prepare_bundle(record)
        try:
            with _stdio(out_w, err_w):
                created = runtime.create(root, container_id, bundle, runtime.Options(log=_ignore))
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        crash_point("monitor.start.created")
        pid = created["pid"]
        self.inits[pid] = container_id
        writer = self.logs.get(container_id) or LogWriter(self.store.log_path(container_id),
                                                          config.get("log_max_size", 0),
                                                          config.get("log_max_file", 1))
        self.logs[container_id] = writer
        for fd, stream in ((out_r, "stdout"), (err_r, "stderr")):
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, ("log", (container_id, stream)))
        try:
            limits.apply(limits.of(record), config.get("resources") or {})
            attached = self._networking().attach(record, pid) if _networked(config) else {}
        except BaseException:
            self.inits.pop(pid, None)
            runtime.delete(root, container_id, force=True)
            raise
        crash_point("monitor.start.attached")
        runtime.start(root, container_id)
        crash_point("monitor.start.released")
        self.started[container_id] = time.monotonic()
        health = {"status": "starting", "failing_streak": 0, "log": []} if config.get("healthcheck") else None
        self.store.update_state(container_id, status="running", pid=pid, started_at=now(), finished_at=None,
                                exit_code=None, oom_killed=False, stopped_by_user=False, error=None, health=health,
                                paused=False, networks=attached.get("networks", {}), ports=attached.get("ports", []),
                                pid_start=start_time(pid))
        if health is not None:
            self.next_probe[container_id] = time.monotonic() + config["healthcheck"]["interval"]
        return pid

    def _pump(self, fd: int, container_id: str, stream: str) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if data:
            self.logs[container_id].write(stream, data)
            return
        self.sel.unregister(fd)
        os.close(fd)

    # -- exits -----------------------------------------------------------------------
    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            container_id = self.inits.pop(pid, None)
            if container_id is not None:
                self._exited(container_id, os.waitstatus_to_exitcode(status))
            elif pid in self.probes:
                self._probe_done(pid, os.waitstatus_to_exitcode(status))

    def _exited(self, container_id: str, code: int | None) -> None:
        exit_code = 128 - code if code is not None and code < 0 else code
        self.next_probe.pop(container_id, None)
        self._drain(container_id)
        root = str(self.store.runtime_root)
        record = self.store.meta.find(container_id)
        oom = _oom_killed(record) if record is not None else False
        with contextlib.suppress(BerthError):
            runtime.delete(root, container_id, force=True)
        if record is None:
            return
        state = record["state"]
        stopped_by_user = container_id in self.stops or state.get("stopped_by_user", False)
        self.store.update_state(container_id, status="exited", pid=0, finished_at=now(), exit_code=exit_code,
                                oom_killed=oom, stopped_by_user=stopped_by_user, networks={}, ports=[])
        self._finish_stop(container_id)   # replies after the record says exited
        self._wake_waiters(container_id, exit_code)
        # after the replies; the veths die with the init's network namespace
        networking.detach(self.engine, record, self.network, namespace_gone=True)
        config = record["config"]
        name, retries = policy.parse(config.get("restart_policy"))
        if policy.should_restart(name, retries, exit_code if exit_code is not None else 255,
                                 state.get("restart_count", 0), stopped_by_user):
            ran = time.monotonic() - self.started.get(container_id, time.monotonic())
            self.backoff[container_id] = policy.backoff(self.backoff.get(container_id, 0.0), ran)
            self.restart_at[container_id] = time.monotonic() + self.backoff[container_id]
            self.store.update_state(container_id, status="restarting")
        elif config.get("auto_remove"):
            self._close_log(container_id)
            self.store.forget(container_id)
            networking.release(self.engine, record)
            mounting.remove_anonymous(self.engine, record)   # --rm takes anonymous volumes along, as Docker's
        else:
            self._close_log(container_id)

    def wait(self, conn: socket.socket, container_id: str) -> None:
        """Reply when the container's process exits (now, if it is not running)."""
        if container_id in self.inits.values() or container_id in self.adopted.values():
            self.waiters.setdefault(container_id, []).append(conn)
            return
        state = self.store.meta.get(container_id)["state"]
        _reply(conn, {"ok": True, "exit_code": state.get("exit_code"), "status": state.get("status")})

    def _wake_waiters(self, container_id: str, exit_code: int | None) -> None:
        for conn in self.waiters.pop(container_id, []):
            with contextlib.suppress(OSError):
                _reply(conn, {"ok": True, "exit_code": exit_code, "status": "exited"})

    def _drain(self, container_id: str) -> None:
        for key in list(self.sel.get_map().values()):
            kind, data = key.data
            if kind == "log" and data[0] == container_id:
                while key.fd in self.sel.get_map():
                    self._pump(key.fd, container_id, data[1])

    def _close_log(self, container_id: str) -> None:
        writer = self.logs.pop(container_id, None)
        if writer is not None:
            writer.close()

    def _timers(self) -> None:
        clock = time.monotonic()
        for container_id, when in list(self.restart_at.items()):
            if when <= clock:
                del self.restart_at[container_id]
                record = self.store.meta.find(container_id)
                if record is None:
                    continue
                try:
                    count = record["state"].get("restart_count", 0) + 1
                    self.store.update_state(container_id, restart_count=count)
                    self.start(container_id)
                except BerthError as err:
                    self.store.update_state(container_id, status="exited", error=str(err))
        for container_id, when in list(self.next_probe.items()):
            if when <= clock and not any(p["id"] == container_id for p in self.probes.values()):
                del self.next_probe[container_id]
                self._probe(container_id)
        for pid, probe in self.probes.items():
            if probe["deadline"] <= clock and not probe["timed_out"]:
                probe["timed_out"] = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for container_id, (deadline, _waiters) in list(self.stops.items()):
            if deadline <= clock:
                with contextlib.suppress(BerthError, OSError):
                    runtime.kill(str(self.store.runtime_root), container_id, signal.SIGKILL, all_processes=True)
                self.stops[container_id] = (clock + 30, self.stops[container_id][1])

    # -- healthchecks ------------------------------------------------------------------
    def _probe(self, container_id: str) -> None:
        from ..runtime import execute

        record = self.store.meta.find(container_id)
        if record is None or record["state"].get("status") != "running":
            return
        config = record["config"]["healthcheck"]
        argv = health.probe_argv(config)
        bundle = str(self.store.directory(container_id) / "bundle")
        started, clock = now(), time.monotonic()
        read_end, write_end = os.pipe()
        try:
            process = execute.process_from_args(bundle, argv or ["true"], [], None, None, [], [], False, False)
            with _stdio(write_end, write_end):
                pid = execute.exec_in(str(self.store.runtime_root), container_id, process, runtime.Options(log=_ignore))
        except BerthError as err:
            os.close(read_end)
            self._record_probe(container_id, config, getattr(err, "exit_code", 1), str(err), started, clock)
            return
        finally:
            os.close(write_end)
        os.set_blocking(read_end, False)
        self.probes[pid] = {"id": container_id, "start": started, "clock": clock, "fd": read_end,
                            "deadline": clock + config["timeout"], "timed_out": False, "output": bytearray()}
        self.sel.register(read_end, selectors.EVENT_READ, ("probe", pid))

    def _probe_output(self, fd: int, pid: int) -> None:
        probe = self.probes[pid]
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if data:
            probe["output"] += data[: health.OUTPUT_KEEP]
            return
        self.sel.unregister(fd)
        os.close(fd)
        probe["fd"] = None

    def _probe_done(self, pid: int, code: int) -> None:
        probe = self.probes.pop(pid)
        if probe["fd"] is not None:
            with contextlib.suppress(OSError):  # what is left in the pipe, without blocking
                while chunk := os.read(probe["fd"], 65536):
                    probe["output"] += chunk[: health.OUTPUT_KEEP]
            self.sel.unregister(probe["fd"])
            os.close(probe["fd"])
        record = self.store.meta.find(probe["id"])
        if record is None or record["state"].get("status") != "running":
            return
        output = probe["output"].decode(errors="replace")
        if probe["timed_out"]:
            code, output = -1, f"the probe timed out after {record['config']['healthcheck']['timeout']}s"
        self._record_probe(probe["id"], record["config"]["healthcheck"], code, output, probe["start"], probe["clock"])

    def _record_probe(self, container_id: str, config: dict[str, Any], code: int, output: str, started: str,
                      clock: float) -> None:
        record = self.store.meta.find(container_id)
        if record is None:
            return
        state = record["state"]
        running_since = self.started.get(container_id, clock)
        updated = health.after_probe(state.get("health") or {}, config, passed=code == 0, exit_code=code,
                                     output=output, start=started, end=now(),
                                     in_start_period=clock - running_since < config["start_period"])
        self.store.update_state(container_id, health=updated)
        if container_id in self.inits.values() or container_id in self.adopted.values():
            self.next_probe[container_id] = time.monotonic() + config["interval"]

    # -- stopping ----------------------------------------------------------------------
    def stop(self, conn: socket.socket, container_id: str, signum: int, timeout: float) -> None:
        self.restart_at.pop(container_id, None)
        running = [pid for pid, cid in self.inits.items() if cid == container_id]
        running += [fd for fd, cid in self.adopted.items() if cid == container_id]
        if not running:
            self.store.update_state(container_id, stopped_by_user=True,
                                    status=_settled(self.store.meta.get(container_id)["state"]["status"]))
            _reply(conn, {"ok": True, "stopped": False})
            return
        deadline, waiters = self.stops.get(container_id, (time.monotonic() + timeout, []))
        self.stops[container_id] = (deadline, [*waiters, conn])
        self.store.update_state(container_id, stopped_by_user=True)
        try:
            runtime.kill(str(self.store.runtime_root), container_id, signum)
        except (BerthError, OSError):
            self.stops[container_id] = (time.monotonic(), self.stops[container_id][1])

    def _finish_stop(self, container_id: str) -> None:
        _deadline, waiters = self.stops.pop(container_id, (0.0, []))
        for conn in waiters:
            with contextlib.suppress(OSError):
                _reply(conn, {"ok": True, "stopped": True})

    # -- containers that outlived an earlier monitor ----------------------------------------
    def _adopt_running(self) -> None:
        for record in self.store.list():
            pid = record.get("state", {}).get("pid") or 0
            if record.get("state", {}).get("status") != "running" or not pid:
                continue
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue
            self.adopted[fd] = record["id"]
            self.sel.register(fd, selectors.EVENT_READ, ("pidfd", None))

    def _adopted_exit(self, fd: int) -> None:
        container_id = self.adopted.pop(fd)
        self.sel.unregister(fd)
        os.close(fd)
        self._exited(container_id, None)


def _settled(status: str) -> str:
    return "exited" if status == "restarting" else status


def _reply(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def _ignore(_level: str, _message: str) -> None:
    return None


@contextlib.contextmanager
def _stdio(out_fd: int, err_fd: int):  # type: ignore[no-untyped-def]
    """The runtime gives the container its own stdio: point ours at the log pipes meanwhile."""
    saved = [os.dup(0), os.dup(1), os.dup(2)]
    devnull = os.open("/dev/null", os.O_RDWR)
    try:
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        yield
    finally:
        for number, fd in enumerate(saved):
            os.dup2(fd, number)
            os.close(fd)
        os.close(devnull)


def _networked(config: dict[str, Any]) -> bool:
    """Whether the container's network needs setting up (old records have no network_mode: none)."""
    return "network_mode" in config and config["network_mode"] != "none"


def _oom_killed(record: dict[str, Any]) -> bool:
    """Read before the runtime removes the cgroup: the kernel's OOM-kill count (cgroup drivers' stats)."""
    with contextlib.suppress(BerthError, OSError):
        return bool(limits.stats(limits.of(record)).get("oom_kills"))
    return False


def main(state_root: str, run_root: str) -> int:
    """`berth monitor`: run until nothing is left to watch."""
    engine = Engine.open(state_root, run_root)
    import fcntl

    guard = open(engine.layout.run_root / "monitor.lock", "a")  # noqa: SIM115 - held for the process's life
    try:
        # A POSIX record lock, not flock: a container init this monitor forks keeps its fds until
        # execve, and an inherited flock would outlive a killed monitor, locking out every new one.
        fcntl.lockf(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0   # another monitor serves this run root (two CLIs started one at once)
    pid_file = engine.layout.run_root / "monitor.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    try:
        Monitor(engine).serve()
    except InvalidState:
        return 1
    finally:
        pid_file.unlink(missing_ok=True)
    return 0
