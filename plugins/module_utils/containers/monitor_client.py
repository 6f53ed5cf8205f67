"""The client side of the monitor (monitor.py): a request out, its typed
reply back (protocol.py), and a monitor spawned when none answers.

Used by the container service and by the CLI's fast lane, so it stays
standard library only and cheap to import (subprocess, shutil and pathlib
are imported when a monitor is spawned; not even contextlib otherwise). It
speaks through ``_socket``, the C type under ``socket.socket``: the socket
module's enums (IntEnum of every constant) and selectors cost ~3 ms of CPU.
The transport is an object with one method, ``exchange``, so unit tests
put a fake monitor behind it.
"""

from __future__ import annotations

import os
import sys
import time

try:
    import _socket
except ImportError:  # an interpreter without CPython's C module: socket's own class has the same methods
    import socket as _socket

from ..errors import InvalidInput, InvalidState
from . import protocol

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol, TypeVar

    R = TypeVar("R")

    class Transport(Protocol):
        def exchange(self, payload: bytes, timeout: float, between: Callable[[], None] | None = None,
                     poll: float = ...) -> bytes: ...

REPLY_POLL = 1.0    # seconds between checks that the monitor is still alive while waiting for its reply
SPAWN_WAIT = 10.0   # seconds a spawned monitor has to start answering
# run roots whose monitor this process started without waiting (the fast lane's
# early spawn): the next ask waits for that one instead of spawning another
SPAWNED: set[str] = set()
# the monitor is not there (not yet, or no more): spawn one and ask again
GONE = (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError)


class SocketTransport:
    """One request line out, its reply line back, over the monitor's socket."""

    def __init__(self, path: str, monitor_alive: Callable[[], bool]) -> None:
        self.path = path
        self.monitor_alive = monitor_alive

    def exchange(self, payload: bytes, timeout: float, between: Callable[[], None] | None = None,
                 poll: float = REPLY_POLL) -> bytes:
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            conn.settimeout(timeout)
            conn.connect(self.path)
            conn.sendall(payload)
            return _read_line(conn, time.monotonic() + timeout, self.monitor_alive, between, poll)
        finally:
            conn.close()


class MonitorClient:
    """The monitor of one run root, as its clients see it."""

    def __init__(self, state_root: str | os.PathLike[str], run_root: str | os.PathLike[str],
                 transport: Transport | None = None, command: list[str] | None = None) -> None:
        self.state_root = os.path.abspath(state_root)
        self.run_root = os.path.abspath(run_root)
        self.socket_path = os.path.join(self.run_root, "monitor.sock")
        self.transport = transport or SocketTransport(self.socket_path, self.alive)
        self.command = command   # how to run `berth` (None: _berth_command)

    # -- asking ------------------------------------------------------------------------
    def call(self, request: Any, timeout: float = 120.0, *, between: Callable[[], None] | None = None,
             poll: float = REPLY_POLL) -> Any:
        """One exchange with a running monitor: its reply (an Error reply too).
        Raises OSError when no monitor answers, TimeoutError at the timeout;
        ``between`` runs every ``poll`` seconds while the reply is pending."""
        line = self.transport.exchange(protocol.encode(request), timeout, between, poll)
        try:
            return protocol.decode_reply(line)
        except InvalidInput as err:
            raise InvalidState(f"the monitor's reply could not be read: {err.message}",
                               hint="a monitor of another berth version may be running; it exits once its "
                                    "containers stop") from None

    def ask(self, request: Any, expected: type[R], timeout: float = 120.0) -> R:
        """The reply of type ``expected``, spawning a monitor when none answers;
        an Error reply is raised as its BerthError. A Wait past its timeout
        raises TimeoutError (the caller words it); any other request, InvalidState."""
        for attempt in range(2):
            try:
                reply = self.call(request, timeout)
                break
            except GONE:
                if attempt:
                    raise InvalidState("the container monitor does not answer", hint=self._see_log) from None
                self.spawn()
            except TimeoutError:
                if isinstance(request, protocol.Wait):
                    raise
                raise InvalidState(f"the container monitor did not finish {request.OP!r} within {timeout:.0f}s",
                                   hint=self._see_log) from None
        return protocol.expect(reply, expected, request)

    # -- is one there --------------------------------------------------------------------
    def alive(self) -> bool:
        """A monitor process runs for this run root (its pid file names a live process)."""
        try:
            with open(os.path.join(self.run_root, "monitor.pid")) as handle:
                return process_alive(int(handle.read()))
        except (OSError, ValueError):
            return False

    def connectable(self) -> bool:
        probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            probe.connect(self.socket_path)
        except OSError:
            return False
        finally:
            probe.close()
        return True

    def wait_connectable(self, timeout: float = SPAWN_WAIT) -> bool:
        """Until a monitor accepts connections (False: none did within ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connectable():
                return True
            time.sleep(0.002)
        return False

    # -- spawning ------------------------------------------------------------------------
    def spawn(self) -> None:
        """Start a monitor and wait until it answers; one this process started
        early (``spawn_early``) is waited for instead."""
        if self.run_root in SPAWNED:
            SPAWNED.discard(self.run_root)
            if self.wait_connectable():
                return
        if not self.alive():
            import contextlib

            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)   # left by a monitor that was killed
        self._popen(self.command or _berth_command())
        if not self.wait_connectable():
            raise InvalidState("the container monitor did not start", hint=self._see_log)

    def spawn_early(self, launcher: list[str]) -> None:
        """Start a monitor without waiting for it (the fast lane: its imports
        overlap the CLI's own); the next ``ask`` waits for it."""
        self._popen(launcher)
        SPAWNED.add(self.run_root)

    def _popen(self, berth: list[str]) -> None:
        import subprocess

        command = [*berth, "--state-root", self.state_root, "--run-root", self.run_root, "monitor"]
        with open(os.path.join(self.run_root, "monitor.log"), "ab") as log:   # the child keeps its own copy
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                             close_fds=True, cwd="/")

    @property
    def _see_log(self) -> str:
        return f"see {self.run_root}/monitor.log"


def process_alive(pid: int) -> bool:
    """A live (not zombie) process has this pid."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _berth_command() -> list[str]:
    """The berth CLI that runs the monitor: $BERTH_CLI, this checkout's
    bin/berth, else `berth` on PATH (the host role installs it). Modules run
    from a temporary copy of the engine, so the monitor, which outlives them,
    must come from an installed one."""
    import shutil
    from pathlib import Path

    given = os.environ.get("BERTH_CLI")
    checkout = Path(__file__).resolve().parents[3] / "bin" / "berth"
    path = Path(given) if given else checkout if checkout.is_file() else None
    if path is None:
        found = shutil.which("berth")
        if found is None:
            raise InvalidState("the berth CLI is not installed", field="BERTH_CLI",
                               hint="apply the berth.engine.host role, or set BERTH_CLI to bin/berth")
        path = Path(found)
    with open(path, "rb") as handle:
        python_launcher = b"python" in handle.readline()
    return [sys.executable, str(path)] if python_launcher else [str(path)]


def _read_line(conn: _socket.socket, deadline: float, monitor_alive: Callable[[], bool],
               between: Callable[[], None] | None, poll: float) -> bytes:
    """One reply line. A monitor killed mid-request may leave the connection
    open (a container init it forked still holds the fd until its execve), so
    the wait polls: a dead monitor reads as a reset connection (the caller
    spawns a new one and asks again), the deadline as TimeoutError."""
    data = b""
    while not data.endswith(b"\n"):
        conn.settimeout(max(0.01, min(poll, deadline - time.monotonic())))
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise
            if not monitor_alive():
                raise ConnectionResetError from None
            if between is not None:
                between()
            continue
        if not chunk:
            raise ConnectionResetError("the monitor closed the connection")
        data += chunk
    return data


# -- what the engine's tasks ask of a running monitor ----------------------------------------------------
_DIGEST: list[str] = []   # engine_digest of the code this process imported, computed once (~8 ms)


def running_digest() -> str:
    """version.engine_digest of the engine code this process runs."""
    if not _DIGEST:
        from ..version import engine_digest

        _DIGEST.append(engine_digest(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    return _DIGEST[0]


def _running(engine: Any) -> MonitorClient | None:
    """The run root's monitor when one runs (these calls never spawn one)."""
    client = MonitorClient(engine.layout.state_root, engine.layout.run_root)
    return client if client.alive() else None


def monitor_skew(engine: Any, digest: str | None = None) -> str | None:
    """A warning when the run root's monitor runs other engine code than ``digest`` (default: this
    process's): a monitor outlives the task that started it, so after an upgrade it keeps the old code
    for restarts, healthchecks and overlay names. None when they agree or no monitor runs."""
    client = _running(engine)
    if client is None:
        return None
    try:
        reply = client.call(protocol.Ping(), timeout=5.0)
    except (OSError, InvalidState):
        return None   # it is going away (or cannot answer): the next one starts with this engine
    if not isinstance(reply, protocol.Pong):
        return None
    ours = digest or running_digest()
    if reply.digest == ours:
        return None
    theirs = f"engine {reply.digest[:12]}" if reply.digest else "an engine from before engine digests"
    return (f"the container monitor of {client.run_root} (pid {reply.pid}) runs {theirs}, not this task's "
            f"engine {ours[:12]}: its restart policies, healthchecks and overlay network names follow the old "
            f"code until it exits, which it does by itself once no container of this host runs. To switch now, "
            f"stop this host's containers and start them again; do not kill the monitor (the containers' "
            f"output pipes end with it)")


def reload_resolvers(engine: Any) -> list[str]:
    """Tell the run root's monitor that overlay networks were created, changed or removed, so it serves
    their resolvers now (it also re-reads them every few seconds and at each container start). With no
    monitor there is nothing to do: no container runs, and the next monitor serves them from its start.
    Returns warnings for the task (empty when all is served)."""
    client = _running(engine)
    if client is None:
        return []
    try:
        reply = client.call(protocol.Reload(), timeout=10.0)
    except (OSError, InvalidState) as err:
        return [f"the container monitor of {client.run_root} did not reload the overlay resolvers ({err}); "
                f"it re-reads the networks within 10 seconds"]
    if isinstance(reply, protocol.Error):   # a monitor from before overlay resolvers: it serves no names
        return [f"the container monitor of {client.run_root} runs an engine without overlay name resolvers: "
                f"names on other hosts resolve once it was replaced (it exits when no container of this host "
                f"runs; stop and start the containers to replace it now)"]
    if isinstance(reply, protocol.Resolving):
        return [f"overlay network resolver not served: {failed}" for failed in reply.failed]
    return []
