"""The host's engine agent: runs berth modules' tasks with the engine warm.

Started on demand by a module's thin client (ansible/remote.py) as
``{python} -I -c BOOT {prefix} {path-json} {digest}`` with engine.json's
``python`` and ``path``, in a session of its own. One agent per installed
engine (its digest names the socket); a second one started for the same
digest exits at once (it cannot take ``agent-<d>.alive``'s flock).

Protocol (ansible/remote.py holds the framing):
  socket   ``{prefix}/run/agent-<digest[:16]>.sock``, directory 0700, socket 0600, bound under a temporary
           name and renamed into place (a client never sees a socket that does not listen yet); a peer
           whose SO_PEERCRED uid is neither 0 nor the agent's is refused.
  request  one frame: ``{"task": name, "params": {...}, "check_mode": bool, "diff": bool,
           "env": {...}, "cwd": str, "umask": int}``
  reply    the byte ``ACK`` as soon as a worker holds the connection, then one frame:
           ``{"result": {...}}`` (what exit_json gets) or ``{"failed": {"msg": str, "error"?: {...},
           "exception"?: str}}`` (what fail_json gets).

Each request is served by a worker forked from the agent (pydantic and every task's code already
imported): it takes the request's environment, cwd and umask, runs the task (tasks.execute), replies
and exits; an unexpected exception becomes a failure with its traceback in ``exception``. The agent
reaps its workers, and exits after ``BERTH_AGENT_IDLE`` seconds without a request (default 900), on
SIGTERM, and when its socket or engine.json no longer name it (the role installed another engine).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import struct
import sys
import time
import traceback
from typing import Any

from . import remote

CHECK_EVERY = 2.0          # seconds between the idle / still-installed checks
DEFAULT_IDLE = 900.0
_UCRED = struct.Struct("3i")


def main(prefix: str, digest: str) -> None:
    os.umask(0o077)
    os.chdir("/")
    alive = os.open(remote.agent_file(prefix, digest, "alive"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return   # this engine's agent runs already
    idle = float(os.environ.get("BERTH_AGENT_IDLE") or DEFAULT_IDLE)
    agent = Agent(prefix, digest, idle)
    listener = agent.bind()   # first: a client connects at once and its request waits in the backlog
    agent.load_error = preload()
    agent.serve(listener)


def preload() -> str | None:
    """Import every task (and so pydantic) once: the workers inherit them. The traceback if that fails."""
    try:
        from . import tasks

        tasks.preload()
    except Exception:   # the engine's install is broken: each request says so
        return traceback.format_exc()
    return None


class Agent:
    def __init__(self, prefix: str, digest: str, idle: float) -> None:
        self.prefix, self.digest, self.idle = prefix, digest, idle
        self.load_error: str | None = None
        self.path = remote.socket_path(prefix, digest)
        self.pidfile = remote.agent_file(prefix, digest, "pid")
        self.inode = 0

    def serve(self, listener: socket.socket) -> None:
        signal.signal(signal.SIGCHLD, lambda _sig, _frame: reap())
        signal.signal(signal.SIGTERM, _stop)
        last = time.monotonic()
        try:
            while True:
                try:
                    conn = listener.accept()[0]
                except TimeoutError:
                    if time.monotonic() - last > self.idle or not self.installed():
                        return
                    continue
                last = time.monotonic()
                self.dispatch(conn, listener)
        except SystemExit:
            pass
        finally:
            self.cleanup(listener)

    def bind(self) -> socket.socket:
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
        temporary = f"{self.path}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with remote.reachable(temporary) as address:
            listener.bind(address)
        os.chmod(temporary, 0o600)
        listener.listen(128)
        os.rename(temporary, self.path)   # atomic: the socket appears listening
        self.inode = os.stat(self.path).st_ino
        listener.settimeout(CHECK_EVERY)
        with open(self.pidfile, "w", encoding="ascii") as handle:
            handle.write(f"{os.getpid()}\n")
        return listener

    def installed(self) -> bool:
        """Whether this agent is still the one its install names (socket ours, engine.json's digest)."""
        try:
            if os.stat(self.path).st_ino != self.inode:
                return False
            return remote.read_install(self.prefix)["digest"] == self.digest
        except (OSError, ValueError):
            return False

    def dispatch(self, conn: socket.socket, listener: socket.socket) -> None:
        try:
            if not peer_allowed(conn):
                return
            if os.fork() == 0:   # pragma: no cover - the worker (tests see it from outside)
                listener.close()
                work(conn, self.load_error)
        finally:
            conn.close()

    def cleanup(self, listener: socket.socket) -> None:
        listener.close()
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self.inode:
                os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.unlink(self.pidfile)


def _stop(_sig: int, _frame: Any) -> None:
    raise SystemExit(0)


def reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def peer_allowed(conn: socket.socket) -> bool:
    _pid, uid, _gid = _UCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    return uid in (0, os.geteuid())


def work(conn: socket.socket, load_error: str | None) -> None:   # pragma: no cover - runs in the worker
    """The worker: ACK, one request, one reply, exit (never returns)."""
    code = 0
    try:
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)   # the task waits for its own children
        conn.settimeout(None)
        conn.sendall(remote.ACK)
        request = remote.recv_frame(conn)
        remote.send_frame(conn, handle(request, load_error))
    except BaseException:
        traceback.print_exc(file=sys.stderr)   # the agent's log
        code = 1
    finally:
        os._exit(code)


def handle(request: dict[str, Any], load_error: str | None) -> dict[str, Any]:
    """One request's reply; an unexpected exception is a failure naming berth's engine, with its traceback."""
    name = request.get("task")
    try:
        if load_error is not None:
            return {"failed": {"msg": "berth's engine installed on this host cannot be loaded: re-run the "
                                      "berth.engine.host role", "exception": load_error}}
        os.environ.clear()
        os.environ.update(request.get("env") or {})
        os.umask(int(request.get("umask", 0o022)))
        with contextlib.suppress(OSError):
            os.chdir(request.get("cwd") or "/")
        from . import tasks

        reply = tasks.execute(str(name), request["params"], bool(request.get("check_mode")),
                              bool(request.get("diff")))
        json.dumps(reply, default=remote.json_fallback)   # fail here, with a traceback, if it cannot be sent
        return reply
    except BaseException as exc:
        return {"failed": unexpected_failure(exc, str(name), request.get("params") or {})}


def unexpected_failure(exc: BaseException, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """A bug's failure: what it broke (the plan step and object, glue.task_failure), the traceback apart."""
    try:
        from .glue import task_failure

        failed = task_failure(exc, name, params)
    except BaseException:   # the engine itself cannot be imported: name the task alone
        failed = {"msg": f"could not run the {name} task", "exception": traceback.format_exc()}
    failed["msg"] = f"berth's engine failed unexpectedly: {failed['msg']} (a bug in berth: report it with the " \
                    "exception below)"
    return failed
