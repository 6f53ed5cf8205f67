"""The monitor: one process per run root that keeps containers' stdio, reaps
their inits, records exit codes, applies restart policies, runs healthchecks,
stops and pauses them.

Why one per host and not one per container (conmon's design): a Python
process costs ~10 MB; shared by N containers it costs 10/N MB each, and it
runs the runtime in-process (no interpreter start per create/start). It is
a child subreaper, and the runtime is called from it, so every container's
init is re-parented to it and it reads their exit status. It is started on
demand (monitor_client.py) and exits once nothing is left to watch, so no
daemon outlives its containers. If it is killed, containers keep running;
the records are corrected from the runtime's state (``service.refresh``) and
the next monitor watches them again through pidfds (exit codes then unknown).

Requests and replies are the typed messages of protocol.py, one JSON line
each on ``<run_root>/monitor.sock``. Per container it keeps one ``Watch``
(watch.py). What it does to the kernel and the store goes through its host
(monitor_host.py), and its timers read an injected clock, so the restart,
health and stop logic runs in unit tests against a fake host and a fake
clock.

It also serves the names of overlay networks (network/resolver.py): one DNS
resolver per overlay network on this host's slice gateway, its sockets in
this loop (``("dns", handler)`` keys, never blocking it), started with the
monitor, reloaded on a ``Reload`` request (the network task sends it), every
``RELOAD_EVERY`` seconds and when a container joins a network it does not
know, stopped for removed networks. Resolvers do not keep the monitor alive:
a host where no container runs has no names to answer, and its peers' queries
are refused by the kernel at once (nothing listens), which they read as "not
here". The Ping reply carries the digest of the code this process runs, so a
task whose engine differs can say so (monitor_client.monitor_skew).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import sys
import time
from typing import Any

from .. import lifecycle as lc
from ..errors import BerthError, InvalidInput, InvalidState, NotFound
from ..failures import error_text
from ..network.dnsserver import Resolvers
from . import health, policy, protocol
from .logs import writer as log_writer
from .store import now
from .watch import Facts, Probe, Stopping, SystemClock, Watch

PR_SET_CHILD_SUBREAPER = 36
IDLE_EXIT = 0.5      # seconds with nothing to watch before the monitor exits
KILL_RETRY = 30.0    # seconds between SIGKILLs of a container that does not die
DRAIN_WAIT = 1.0     # seconds to read what an exited container's pipes still hold
MAX_REQUEST = 1 << 20


class Monitor:
    def __init__(self, host: Any, clock: Any = None, digest: str = "", dns: Resolvers | None = None) -> None:
        self.host = host
        self.clock = clock or SystemClock()
        self.digest = digest   # of the code this process runs, computed once at its start
        self.sel = selectors.DefaultSelector()
        # a host without dns_networks (the unit tests' fake) serves no names
        self.dns = dns or Resolvers(self.sel, self.clock, host if hasattr(host, "dns_networks") else None)
        self.watches: dict[str, Watch] = {}
        self.clients = 0
        self.idle_since = self.clock.monotonic()
        self._handlers = {protocol.Ping: self._ping, protocol.Start: self._start, protocol.Stop: self._stop,
                          protocol.Wait: self._wait, protocol.Pause: self._pause, protocol.Unpause: self._pause,
                          protocol.Remove: self._remove, protocol.Create: self._create,
                          protocol.Reload: self._reload}

    # -- the loop ------------------------------------------------------------------
    def serve(self, path: str) -> None:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        os.chmod(path, 0o600)
        server.listen(64)
        self.sel.register(server, selectors.EVENT_READ, ("accept", None))
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_args: None)
        self.sel.register(wake_r, selectors.EVENT_READ, ("wake", None))
        self.adopt_running()
        self.dns.reload()
        try:
            while not self.idle():
                self.step(self._timeout())
        finally:
            self.dns.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            server.close()

    def step(self, wait: float) -> None:
        """One turn: what is readable, then exits, then timers."""
        for key, mask in self.sel.select(wait):
            self._guarded(self._dispatch, key, mask)
        for pid, code in self.host.reaped():
            self._guarded(self.child_exited, pid, code)
        self._guarded(self.timers)
        after_turn = getattr(self.host, "after_turn", None)   # the unit tests' fake hosts have none
        if after_turn is not None:
            self._guarded(after_turn)
        for watch in list(self.watches.values()):
            self._forget(watch)   # those with nothing left to do (a log pipe that reached EOF late)

    def _guarded(self, action: Any, *args: Any) -> None:
        """One container's failure is logged, not fatal: the monitor pumps
        every container's output, and a dead reader would SIGPIPE them all."""
        try:
            action(*args)
        except (BerthError, OSError, KeyError, TypeError, ValueError) as err:
            sys.stderr.write(f"berth monitor: {getattr(action, '__name__', action)}: {err!r}\n")

    def idle(self) -> bool:
        if self.clients or any(watch.busy for watch in self.watches.values()):
            self.idle_since = self.clock.monotonic()
            return False
        return self.clock.monotonic() - self.idle_since > IDLE_EXIT

    def _timeout(self) -> float:
        clock = self.clock.monotonic()
        deadlines = [when for watch in self.watches.values() for when in watch.deadlines()]
        deadlines += self.dns.deadlines()
        return max(0.0, min(min(deadlines, default=clock + IDLE_EXIT) - clock, IDLE_EXIT))

    def _dispatch(self, key: selectors.SelectorKey, mask: int = selectors.EVENT_READ) -> None:
        kind, data = key.data
        if kind == "dns":
            data(mask)   # an overlay resolver's socket (it logs its own failures)
        elif kind == "accept":
            conn, _addr = key.fileobj.accept()  # type: ignore[union-attr]
            self.sel.register(conn, selectors.EVENT_READ, ("client", bytearray()))
            self.clients += 1
        elif kind == "wake":
            os.read(key.fd, 4096)
        elif kind == "client":
            self._client(key.fileobj, data)  # type: ignore[arg-type]
        elif kind == "log":
            self.pump(key.fd, *data)
        elif kind == "pidfd":
            self._adopted_exit(data)
        elif kind == "probe":
            self._probe_output(data)

    def _client(self, conn: socket.socket, buffer: bytearray) -> None:
        try:
            chunk = conn.recv(65536)
        except OSError:
            chunk = b""
        if not chunk or len(buffer) > MAX_REQUEST:
            self.sel.unregister(conn)
            self.clients -= 1
            conn.close()
            return
        buffer.extend(chunk)
        while b"\n" in buffer:
            line, _sep, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            self.handle_line(line, _answerer(conn))

    # -- requests ----------------------------------------------------------------------
    def handle_line(self, line: bytes, answer: Any) -> None:
        """One request line; ``answer`` gets its reply, now or (Wait, Stop) once the container exits."""
        try:
            request = protocol.decode(line)
        except InvalidInput as err:
            answer(protocol.Error.of(err))   # an unknown op is an error, never "ok"
            return
        self.request(request, answer)

    def request(self, request: Any, answer: Any) -> None:
        try:
            self._handlers[type(request)](request, answer)
        except BerthError as err:
            answer(protocol.Error.of(err))
        except (OSError, KeyError, TypeError, ValueError) as err:
            # one bad request must not take down the monitor of every container; the
            # reply names the operation and its object, as a failed plan step does
            target = getattr(request, "id", None) or getattr(request, "name", None)
            operation = f"{request.OP} container {target}" if target else request.OP or "answer a request"
            answer(protocol.Error(kind=InvalidState.kind, message=f"monitor: could not {operation}: {error_text(err)}"))

    def _ping(self, _request: protocol.Ping, answer: Any) -> None:
        answer(protocol.Pong(pid=os.getpid(), digest=self.digest))

    def _reload(self, _request: protocol.Reload, answer: Any) -> None:
        answer(protocol.Resolving(**self.dns.reload()))

    def _start(self, request: protocol.Start, answer: Any) -> None:
        answer(protocol.Started(pid=self.start(request.id)))

    def _create(self, request: protocol.Create, answer: Any) -> None:
        if not self.host.serves(request.state_root):
            raise InvalidState(f"this run root's monitor serves another state root than {request.state_root}",
                               field="state_root", hint="give each state root its own run root")
        container_id = self.host.create(request.name, request.spec, request.stated)
        if request.start:
            self.start(container_id)
        answer(protocol.Created(id=container_id, log=str(self.host.log_path(container_id))))

    def _remove(self, request: protocol.Remove, answer: Any) -> None:
        """The fast lane's attached `run --rm`, once it read the output. A
        live container is refused: stopping it needs this loop, so the
        caller stops it first."""
        facts = self.host.get(request.id)
        watch = self.watches.get(request.id)
        if watch is not None and (watch.live or watch.restart_at is not None):
            lc.require(facts.state, lc.REMOVE, facts.name)
        elif lc.is_active(facts.state):
            self.host.set_state(request.id, status=lc.EXITED, pid=0)   # no process behind it: a stale record
        self.host.remove(request.id, volumes=request.volumes)
        if watch is not None:
            self._forget(watch, force=True)
        answer(protocol.Ok())

    # -- starting --------------------------------------------------------------------
    def start(self, container_id: str) -> int:
        """Start the container now (a pending restart too); its init's pid."""
        facts = self.host.get(container_id)
        watch = self.watches.get(container_id)
        if watch is not None and watch.live:
            return watch.pid
        lc.require(facts.state, lc.START, facts.name)
        watch = watch or self.watches.setdefault(container_id, Watch(container_id))
        watch.restart_at = None
        try:
            self._launch(watch, facts)
        except BaseException:
            self._forget(watch)
            raise
        return watch.pid

    def _launch(self, watch: Watch, facts: Facts) -> None:
        launched = self.host.launch(facts)
        clock = self.clock.monotonic()
        watch.pid, watch.pidfd, watch.started = launched.pid, None, clock
        if watch.log is None:
            watch.log = log_writer(self.host.log_path(watch.id), facts.log_driver, facts.log_max_size,
                                   facts.log_max_file)
        for fd, stream in ((launched.stdout, "stdout"), (launched.stderr, "stderr")):
            os.set_blocking(fd, False)
            watch.stdio[fd] = stream
            self.sel.register(fd, selectors.EVENT_READ, ("log", (watch, stream)))
        probed = facts.healthcheck if health.probe_argv(facts.healthcheck) else None
        self.host.set_state(watch.id, status=lc.RUNNING, pid=launched.pid, started_at=now(), finished_at=None,
                            exit_code=None, oom_killed=False, stopped_by_user=False, error=None, paused=False,
                            health={"status": "starting", "failing_streak": 0, "log": []} if probed else None,
                            networks=launched.networks, ports=launched.ports, pid_start=launched.pid_start)
        watch.next_probe = clock + probed["interval"] if probed else None
        self.dns.joined([item.get("network_id", "") for item in (launched.networks or {}).values()])

    def pump(self, fd: int, watch: Watch, stream: str) -> None:
        """Copy what the container wrote on this pipe into its log."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""   # a broken pipe reads as its end
        if data:
            if watch.log is not None:
                watch.log.write(stream, data)
            return
        self.sel.unregister(fd)
        os.close(fd)
        del watch.stdio[fd]

    # -- exits -----------------------------------------------------------------------
    def child_exited(self, pid: int, code: int) -> None:
        """A reaped child: a container's init or a healthcheck probe."""
        for watch in list(self.watches.values()):
            if watch.child and watch.pid == pid:
                self.exited(watch, code)
                return
            if watch.probe is not None and watch.probe.pid == pid:
                self._probe_done(watch, code)
                return

    def exited(self, watch: Watch, code: int | None) -> None:
        """The container's init ended (``code`` None: an adopted one, exit code
        unknown): record it, answer its waiters, then restart it, remove it or
        let it go, as its policy says."""
        exit_code = 128 - code if code is not None and code < 0 else code
        watch.pid, watch.pidfd, watch.next_probe = 0, None, None
        self._drain(watch)
        facts = self.host.find(watch.id)
        oom = self.host.end_run(watch.id, facts)
        if facts is None:
            self._forget(watch, force=True)
            return
        stopped_by_user = watch.stopping is not None or facts.stopped_by_user
        name, retries = policy.parse(facts.restart_policy)
        restart = policy.should_restart(name, retries, exit_code if exit_code is not None else 255,
                                        facts.restart_count, stopped_by_user)
        # one write: a reader between "exited" and "restarting" would take a container about to
        # restart for a stopped one (a `berth stop` then has nothing to stop, and it restarts)
        self.host.set_state(watch.id, status=lc.RESTARTING if restart else lc.EXITED, pid=0, finished_at=now(),
                            exit_code=exit_code, oom_killed=oom, stopped_by_user=stopped_by_user, paused=False,
                            networks={}, ports=[])
        self.dns.invalidate()   # its names go now, not a NAMES_TTL later
        stopping = self._answer_exit(watch, exit_code)   # after the record says it ended
        self.host.detach(facts)
        for answer in stopping:   # a stop returns once its ports and links are gone, as docker stop does
            answer(protocol.Stopped(stopped=True))
        if restart:
            clock = self.clock.monotonic()
            ran = clock - watch.started if watch.started is not None else policy.RESET_AFTER
            watch.backoff = policy.backoff(watch.backoff, ran)
            watch.restart_at = clock + watch.backoff
            return
        self._forget(watch)   # its log closed before an auto_remove takes its directory
        if facts.auto_remove:
            self.host.discard(facts)

    def _answer_exit(self, watch: Watch, exit_code: int | None) -> list[Any]:
        """Answer the exit's waiters now (an attached run prints its end at
        once); return the stop's, answered by the caller after the detach."""
        stopping, waiters = watch.stopping, watch.waiters
        watch.stopping, watch.waiters = None, []
        for answer in waiters:
            answer(protocol.Exited(exit_code=exit_code, status=lc.EXITED))
        return list(stopping.waiters) if stopping else []

    def _drain(self, watch: Watch) -> None:
        """What its pipes still hold (its processes died with the init, so they reach EOF)."""
        deadline = time.monotonic() + DRAIN_WAIT
        for fd in list(watch.stdio):
            while fd in watch.stdio:
                if not _readable(fd, deadline):
                    break
                self.pump(fd, watch, watch.stdio[fd])

    def _forget(self, watch: Watch, *, force: bool = False) -> None:
        """Drop a watch with nothing left to do (``force``: whatever it holds)."""
        if watch.busy and not force:
            return
        for fd in list(watch.stdio):
            self.sel.unregister(fd)
            os.close(fd)
        watch.stdio.clear()
        if watch.probe is not None:   # the probe itself is reaped as any child
            self._close_probe_output(watch.probe)
            watch.probe = None
        if watch.log is not None:
            watch.log.close()
            watch.log = None
        if self.watches.get(watch.id) is watch:
            del self.watches[watch.id]

    def _wait(self, request: protocol.Wait, answer: Any) -> None:
        watch = self.watches.get(request.id)
        if watch is not None and watch.live:
            watch.waiters.append(answer)
            return
        facts = self.host.get(request.id)
        answer(protocol.Exited(exit_code=facts.exit_code, status=facts.record_status))

    # -- timers ----------------------------------------------------------------------
    def timers(self) -> None:
        self._guarded(self.dns.timers)
        clock = self.clock.monotonic()
        for watch in list(self.watches.values()):
            if watch.restart_at is not None and watch.restart_at <= clock:
                self._restart(watch)
            if watch.next_probe is not None and watch.next_probe <= clock and watch.probe is None:
                watch.next_probe = None
                self._probe(watch)
            if watch.probe is not None and watch.probe.deadline <= clock and not watch.probe.timed_out:
                watch.probe.timed_out = True
                self.host.kill_process(watch.probe.pid)
            if watch.stopping is not None and watch.stopping.deadline <= clock:
                with contextlib.suppress(BerthError, OSError):
                    self.host.signal(watch.id, signal.SIGKILL, all_processes=True)
                watch.stopping.deadline = clock + KILL_RETRY

    def _restart(self, watch: Watch) -> None:
        watch.restart_at = None
        facts = self.host.find(watch.id)
        if facts is None:
            self._forget(watch, force=True)
            return
        try:
            self.host.set_state(watch.id, restart_count=facts.restart_count + 1)
            self._launch(watch, facts)
        except (BerthError, OSError) as err:
            self.host.set_state(watch.id, status=lc.EXITED, error=str(err))
            self._forget(watch)

    # -- healthchecks ------------------------------------------------------------------
    def _probe(self, watch: Watch) -> None:
        facts = self.host.find(watch.id)
        if facts is None or not watch.live or not facts.healthcheck:
            return
        config = facts.healthcheck
        if facts.state == lc.PAUSED:   # as Docker: no probes while frozen (they would time out)
            watch.next_probe = self.clock.monotonic() + config["interval"]
            return
        started_at, clock = now(), self.clock.monotonic()
        try:
            pid, fd = self.host.exec_probe(watch.id, health.probe_argv(config) or ["true"])
        except (BerthError, OSError) as err:
            self._record_probe(watch, facts, getattr(err, "exit_code", 1), str(err), started_at, clock)
            return
        os.set_blocking(fd, False)
        watch.probe = Probe(pid=pid, fd=fd, started_at=started_at, started=clock, deadline=clock + config["timeout"])
        self.sel.register(fd, selectors.EVENT_READ, ("probe", watch))

    def _probe_output(self, watch: Watch) -> None:
        probe = watch.probe
        if probe is None or probe.fd is None:
            return
        try:
            data = os.read(probe.fd, 65536)
        except BlockingIOError:
            return
        if data:
            probe.output += data[: health.OUTPUT_KEEP]
            return
        self._close_probe_output(probe)

    def _close_probe_output(self, probe: Probe) -> None:
        if probe.fd is not None:
            self.sel.unregister(probe.fd)
            os.close(probe.fd)
            probe.fd = None

    def _probe_done(self, watch: Watch, code: int) -> None:
        probe = watch.probe
        watch.probe = None
        if probe is None:
            return
        if probe.fd is not None:
            with contextlib.suppress(OSError):  # what is left in the pipe, without blocking
                while chunk := os.read(probe.fd, 65536):
                    probe.output += chunk[: health.OUTPUT_KEEP]
            self._close_probe_output(probe)
        facts = self.host.find(watch.id)
        if facts is None or not watch.live or facts.state not in (lc.RUNNING, lc.PAUSED) or not facts.healthcheck:
            self._forget(watch)
            return
        output = probe.output.decode(errors="replace")
        if probe.timed_out:
            code, output = -1, f"the probe timed out after {facts.healthcheck['timeout']}s"
        self._record_probe(watch, facts, code, output, probe.started_at, probe.started)

    def _record_probe(self, watch: Watch, facts: Facts, code: int, output: str, started_at: str,
                      started: float) -> None:
        config = facts.healthcheck or {}
        in_start_period = watch.started is not None and started - watch.started < config["start_period"]
        updated = health.after_probe(facts.health or {}, config, passed=code == 0, exit_code=code, output=output,
                                     start=started_at, end=now(), in_start_period=in_start_period)
        self.host.set_state(watch.id, health=updated)
        if watch.live:
            watch.next_probe = self.clock.monotonic() + config["interval"]

    # -- stopping and pausing ------------------------------------------------------------
    def _stop(self, request: protocol.Stop, answer: Any) -> None:
        """Signal the init, SIGKILL everything at the timeout; answered once it exited."""
        facts = self.host.get(request.id)
        watch = self.watches.get(request.id)
        if watch is not None:
            watch.restart_at = None
        if watch is None or not watch.live:
            # nothing runs: a pending restart is cancelled, and a stop keeps it from the next restore
            settled = lc.EXITED if facts.state == lc.RESTARTING else facts.record_status
            self.host.set_state(request.id, stopped_by_user=True, status=settled)
            if watch is not None:
                self._forget(watch)
            answer(protocol.Stopped(stopped=False))
            return
        if watch.stopping is not None:
            watch.stopping.waiters.append(answer)
            return
        watch.stopping = Stopping(deadline=self.clock.monotonic() + request.timeout, waiters=[answer])
        self.host.set_state(request.id, stopped_by_user=True)
        try:
            if facts.state == lc.PAUSED:   # a frozen process cannot act on, or die from, a signal
                self.host.freeze(request.id, False)
                self.host.set_state(request.id, paused=False)
            self.host.signal(request.id, request.signal)
        except (BerthError, OSError):
            watch.stopping.deadline = self.clock.monotonic()   # straight to SIGKILL

    def _pause(self, request: protocol.Pause | protocol.Unpause, answer: Any) -> None:
        """Freeze (Pause) or thaw (Unpause) every process of a running container."""
        verb = lc.PAUSE if isinstance(request, protocol.Pause) else lc.UNPAUSE
        facts = self.host.get(request.id)
        lc.require(facts.state, verb, facts.name)
        if not lc.is_noop(facts.state, verb):
            watch = self.watches.get(request.id)
            if watch is None or not watch.live:
                raise InvalidState(f"container {facts.name} has no process this monitor watches", field="name",
                                   hint="its record is stale; inspect it to correct it, then retry")
            self.host.freeze(request.id, verb == lc.PAUSE)
            self.host.set_state(request.id, paused=verb == lc.PAUSE)
        answer(protocol.Ok())

    # -- containers that outlived an earlier monitor ----------------------------------------
    def adopt_running(self) -> None:
        clock = self.clock.monotonic()
        for facts in self.host.running():
            fd = self.host.pidfd(facts.pid)
            if fd is None or facts.id in self.watches:
                continue
            watch = Watch(facts.id, pid=facts.pid, pidfd=fd)
            if health.probe_argv(facts.healthcheck):
                watch.next_probe = clock + facts.healthcheck["interval"]  # type: ignore[index]
            self.watches[facts.id] = watch
            self.sel.register(fd, selectors.EVENT_READ, ("pidfd", watch))

    def _adopted_exit(self, watch: Watch) -> None:
        if watch.pidfd is not None:
            self.sel.unregister(watch.pidfd)
            os.close(watch.pidfd)
        self.exited(watch, None)


def _readable(fd: int, deadline: float) -> bool:
    import select

    return bool(select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0])


def _answerer(conn: socket.socket) -> Any:
    def answer(reply: Any) -> None:
        with contextlib.suppress(OSError):   # a client that went away
            conn.sendall(protocol.encode(reply))
    return answer


def main(state_root: str, run_root: str) -> int:
    """`berth monitor`: run until nothing is left to watch."""
    import fcntl

    from ..engine import Engine
    from ..version import engine_digest
    from .monitor_host import RuntimeHost

    engine = Engine.open(state_root, run_root)
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
        digest = engine_digest(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        Monitor(RuntimeHost(engine), digest=digest).serve(str(engine.layout.run_root / "monitor.sock"))
    except (InvalidState, NotFound):
        return 1
    finally:
        pid_file.unlink(missing_ok=True)
    return 0
