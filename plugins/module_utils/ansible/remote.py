"""The thin client every berth module runs on the host (standard library only).

AnsiballZ ships a module with this file and its argument spec, nothing of
the engine: the module validates its parameters (AnsibleModule), then hands
``{task, params, check_mode, diff, env, cwd, umask}`` to the engine the
``berth.engine.host`` role installed under ``{prefix}`` (env
``BERTH_PREFIX``, default /opt/berth), described by ``{prefix}/engine.json``:

- no engine.json: when the whole engine is importable in this process (unit
  tests), the task runs here; otherwise the module fails naming the role;
- env ``BERTH_ENGINE_DIGEST`` (set by the collection's action plugin: the
  controller's engine) differs from engine.json's digest: the module fails
  naming both — controller and host code never mix;
- else the request goes to the host's agent (ansible/agent.py) over
  ``{prefix}/run/agent-<digest[:16]>.sock``; when no agent listens, one is
  started (under a flock, so concurrent tasks start one) and awaited ≤ 5 s.

Nothing here keeps state between calls (Mitogen runs modules in a
persistent interpreter), and no child stays attached: the agent is started
through a double fork whose intermediate process is reaped here.

The wire format (shared with the agent): a frame is a 4-byte big-endian
length and that many bytes of UTF-8 JSON. The client sends one request
frame; the worker that takes it answers one byte (``ACK``) and then one
reply frame, ``{"result": {...}}`` or ``{"failed": {"msg": ..., ...}}``.
EOF before the ACK means no worker took the request (an agent stopping):
the client retries once with a fresh agent.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import importlib.util
import json
import os
import socket
import struct
import time
from typing import Any

DEFAULT_PREFIX = "/opt/berth"
MANIFEST = "engine.json"
ROLE = "berth.engine.host"
TASKS_PACKAGE = "ansible_collections.berth.engine.plugins.module_utils.ansible.tasks"
SPAWN_WAIT = 5.0
ACK = b"A"
MAX_FRAME = 256 * 1024 * 1024
_HEADER = struct.Struct(">I")
# The agent's command line: engine.json's path in front of sys.path, then the agent's main (ansible/agent.py).
BOOT = ("import json, sys; sys.path[:0] = json.loads(sys.argv[2]); "
        "from ansible_collections.berth.engine.plugins.module_utils.ansible.agent import main; "
        "main(sys.argv[1], sys.argv[3])")


class AgentGone(Exception):
    """The connection closed before a worker took the request."""


# -- the wire ------------------------------------------------------------------------------------------
def send_frame(conn: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message, default=json_fallback).encode()
    conn.sendall(_HEADER.pack(len(body)) + body)


def recv_exact(conn: socket.socket, size: int) -> bytes:
    """``size`` bytes, or fewer only at EOF."""
    chunks, got = [], 0
    while got < size:
        chunk = conn.recv(min(size - got, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_frame(conn: socket.socket) -> dict[str, Any]:
    header = recv_exact(conn, _HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the peer closed the connection before a frame")
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes is more than the protocol allows")
    body = recv_exact(conn, size)
    if len(body) < size:
        raise EOFError("the peer closed the connection within a frame")
    return json.loads(body)


def json_fallback(value: Any) -> Any:
    # what AnsibleModule's exit_json accepts beyond JSON: sets and datetimes (and paths, for us)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "__fspath__"):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# -- where things are ---------------------------------------------------------------------------------
def socket_path(prefix: str, digest: str) -> str:
    return os.path.join(prefix, "run", f"agent-{digest[:16]}.sock")


def agent_file(prefix: str, digest: str, suffix: str) -> str:
    """The agent's lock, pid or log file beside its socket."""
    return os.path.join(prefix, "run", f"agent-{digest[:16]}.{suffix}")


@contextlib.contextmanager
def reachable(path: str) -> Any:
    """``path`` as a unix socket address: a socket's path must fit sun_path (108 bytes), so a longer one
    is reached through its directory's /proc/self/fd link."""
    if len(os.fsencode(path)) < 100:
        yield path
        return
    directory = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{directory}/{os.path.basename(path)}"
    finally:
        os.close(directory)


def read_install(prefix: str) -> dict[str, Any]:
    """engine.json, checked for what the client needs (FileNotFoundError: not installed)."""
    with open(os.path.join(prefix, MANIFEST), encoding="utf-8") as handle:
        install = json.load(handle)
    if not isinstance(install, dict) or not all(isinstance(install.get(k), str) for k in ("digest", "python")) \
            or not isinstance(install.get("path"), list):
        raise ValueError("it lacks digest, python or path")
    return install


# -- the module's side --------------------------------------------------------------------------------
def run(module: Any, task: str) -> None:
    """Run ``task`` on the host's engine with the module's validated parameters; exit the module with
    its result (warnings through ``module.warn``) or fail it with the engine's message."""
    reply = dispatch(task, dict(module.params), module.check_mode, bool(getattr(module, "_diff", False)))
    finish(module, reply)


def finish(module: Any, reply: dict[str, Any]) -> None:
    if "result" in reply:
        result = reply["result"]
        for warning in result.pop("warnings", None) or []:
            module.warn(warning)   # (exit_json's `warnings` is deprecated in ansible-core 2.19)
        module.exit_json(**result)
    module.fail_json(**reply["failed"])


def dispatch(task: str, params: dict[str, Any], check_mode: bool, diff: bool,
             env: dict[str, str] | None = None) -> dict[str, Any]:
    """The reply for one task: ``{"result": ...}`` or ``{"failed": {"msg": ...}}`` (never raises but for
    an unexpected error of a task run in this process, which a test must see)."""
    env = dict(os.environ if env is None else env)
    prefix = env.get("BERTH_PREFIX") or DEFAULT_PREFIX
    manifest = os.path.join(prefix, MANIFEST)
    try:
        install = read_install(prefix)
    except FileNotFoundError:
        if engine_here():
            return importlib.import_module(TASKS_PACKAGE).execute(task, params, check_mode, diff)
        if check_mode:
            return not_installed_yet(task, manifest, params)
        return _failed(f"berth's engine is not installed on this host (no {manifest}): "
                       f"apply the {ROLE} role to it first")
    except (OSError, ValueError) as exc:
        return _failed(f"cannot read berth's engine install {manifest}: {exc}; re-run the {ROLE} role")
    skew = digest_skew(install, env)
    if skew:
        return _failed(skew)
    request = {"task": task, "params": params, "check_mode": check_mode, "diff": diff, "env": env,
               "cwd": _cwd(), "umask": _umask()}
    try:
        return ask_agent(prefix, install, request)
    except (OSError, EOFError, ValueError, AgentGone) as exc:
        return _failed(f"cannot run the task on berth's engine agent ({socket_path(prefix, install['digest'])}): "
                       f"{exc}. berth modules run as root (become: true); the agent's log is "
                       f"{agent_file(prefix, install['digest'], 'log')}; re-run the {ROLE} role if the "
                       f"install under {prefix} is damaged")


def not_installed_yet(task: str, manifest: str, params: dict[str, Any]) -> dict[str, Any]:
    """A check run on a host the role has not installed yet (its own check run installs nothing): the
    task cannot be planned without the engine, and a host without one holds none of berth's objects, so
    the task would make what it states. Reported as a change with a warning, never a failure, so
    ``--check`` over a fresh fleet runs through."""
    warning = (f"berth's engine is not installed on this host yet (no {manifest}): this check run cannot "
               f"plan the {task} task in detail; once the {ROLE} role has installed it, the task makes what "
               f"it states")
    if task.endswith("_info"):   # reads only: nothing to report but that there is nothing yet
        return {"result": {"changed": False, "warnings": [warning]}}
    stated = {key: value for key, value in sorted(params.items()) if value not in (None, [], {})
              and key not in ("state_root", "run_root")}
    return {"result": {"changed": True, "actions": [f"install berth's engine ({ROLE}), then run {task}"],
                       "diff": {"before": {}, "after": stated}, "warnings": [warning]}}


def engine_here() -> bool:
    """Whether the whole engine is importable in this process (a test's, not an AnsiballZ payload's)."""
    try:
        return importlib.util.find_spec(TASKS_PACKAGE) is not None
    except (ImportError, ValueError):
        return False


def digest_skew(install: dict[str, Any], env: dict[str, str]) -> str | None:
    wanted = env.get("BERTH_ENGINE_DIGEST")
    if not wanted or wanted == install["digest"]:
        return None
    theirs = env.get("BERTH_ENGINE_VERSION") or "?"
    return (f"berth's engine on this host is {install.get('version', '?')} ({install['digest'][:12]}), the "
            f"controller's collection is {theirs} ({wanted[:12]}): they differ, so nothing ran; "
            f"re-run the {ROLE} role to upgrade this host")


def _failed(msg: str) -> dict[str, Any]:
    return {"failed": {"msg": msg}}


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:
        return "/"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- the agent connection -----------------------------------------------------------------------------
def ask_agent(prefix: str, install: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    path = socket_path(prefix, install["digest"])
    for _attempt in range(2):
        conn = connect(path) or start_agent(prefix, install)
        try:
            return exchange(conn, request)
        except AgentGone:
            continue   # an agent that was stopping: the next one takes it
        finally:
            conn.close()
    raise AgentGone("the agent closed the connection twice before a worker took the task")


def connect(path: str) -> socket.socket | None:
    """A connection to the agent at ``path``, or None when no agent listens there."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with reachable(path) as address:
            conn.connect(address)
    except (FileNotFoundError, ConnectionRefusedError):
        conn.close()
        return None
    except BaseException:
        conn.close()
        raise
    return conn


def exchange(conn: socket.socket, request: dict[str, Any]) -> dict[str, Any]:
    try:
        send_frame(conn, request)
        ack = recv_exact(conn, 1)
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise AgentGone(str(exc)) from None
    if ack != ACK:
        raise AgentGone("no worker took the request")
    try:
        return recv_frame(conn)
    except EOFError:
        return _failed("berth's engine worker died before it replied (killed, or out of memory?): the task may "
                       "have been done in part; run it again")


def start_agent(prefix: str, install: dict[str, Any]) -> socket.socket:
    """Start the agent of this install (one, however many tasks ask at once) and connect to it."""
    digest = install["digest"]
    path = socket_path(prefix, digest)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    lock = os.open(agent_file(prefix, digest, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = connect(path)   # another task may have started it while we waited for the lock
        if conn is not None:
            return conn
        spawn_agent(prefix, install)
        deadline = time.monotonic() + SPAWN_WAIT
        while True:
            conn = connect(path)
            if conn is not None:
                return conn
            if time.monotonic() > deadline:
                raise TimeoutError(f"berth's engine agent did not start within {SPAWN_WAIT:.0f} s")
            time.sleep(0.01)
    finally:
        os.close(lock)   # releases the flock


def spawn_agent(prefix: str, install: dict[str, Any]) -> None:
    """Double fork: the agent runs in a session of its own, a child of init; the intermediate is reaped
    here, so the module (or Mitogen's interpreter) has no child left."""
    digest = install["digest"]
    argv = [install["python"], "-I", "-c", BOOT, prefix, json.dumps(install["path"]), digest]
    log = os.open(agent_file(prefix, digest, "log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    env = dict(os.environ)
    try:
        pid = os.fork()
        if pid == 0:   # pragma: no cover - the child execs or exits
            _exec_detached(argv, env, null, log)
        os.waitpid(pid, 0)
    finally:
        os.close(log)
        os.close(null)


def _exec_detached(argv: list[str], env: dict[str, str], null: int, log: int) -> None:  # pragma: no cover
    code = 0
    try:
        os.setsid()
        if os.fork() == 0:
            code = 127
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.dup2(log, 2)
            os.closerange(3, 65536)
            os.execve(argv[0], argv, env)
    finally:
        os._exit(code)
