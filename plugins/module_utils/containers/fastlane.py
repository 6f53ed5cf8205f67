"""The `berth` CLI's fast lane: standard library only, imported by bin/berth
before the engine.

A CLI process spends most of a container start importing the engine. The
monitor has it imported already, so:

- ``early_monitor``: a verb that will need the monitor (run, create, start,
  restore) starts it *first*, when none runs, so its imports overlap the
  CLI's own instead of following them (two cores, half the wait);
- ``via_monitor``: `run -d` and `create` are handed to a running monitor as
  argv, which parses them with the same parser, creates and starts the
  container in-process and answers with the CLI's output. Anything else (an
  attached run, another state root, bad usage) falls back to the full CLI.
"""

from __future__ import annotations

import json
import os
import socket
import sys

SPAWNING_VERBS = ("run", "create", "start", "restore")
HANDED_VERBS = ("run", "create")
GLOBAL_VALUES = ("--state-root", "--run-root")


def split(argv: list[str]) -> tuple[dict[str, str], str | None]:
    """The global options' values and the verb."""
    found = {"--state-root": "/var/lib/berth", "--run-root": "/run/berth"}
    index = 0
    while index < len(argv):
        arg = argv[index]
        name, sep, value = arg.partition("=")
        if name in GLOBAL_VALUES:
            if not sep:
                index += 1
                value = argv[index] if index < len(argv) else ""
            found[name] = value
        elif not arg.startswith("-"):
            return found, arg
        index += 1
    return found, None


def _connectable(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


SPAWNED: set[str] = set()   # run roots whose monitor this process started (the engine then waits, not spawns)


def early_monitor(argv: list[str], launcher: list[str]) -> None:
    roots, verb = split(argv)
    run_root = roots["--run-root"]
    if verb not in SPAWNING_VERBS or not os.path.isdir(run_root) or _connectable(f"{run_root}/monitor.sock"):
        return
    import subprocess

    with open(f"{run_root}/monitor.log", "ab") as log:
        subprocess.Popen([*launcher, "--state-root", roots["--state-root"], "--run-root", run_root, "monitor"],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
                         cwd="/")
    SPAWNED.add(os.path.abspath(run_root))


def wait_for_monitor(run_root: str, timeout: float = 10.0) -> bool:
    """Until the monitor this process started answers (False: it did not)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _connectable(f"{run_root}/monitor.sock"):
            return True
        time.sleep(0.002)
    return False


def via_monitor(argv: list[str]) -> int | None:
    """The exit code when a running monitor did the work; None to take the full path."""
    roots, verb = split(argv)
    if verb not in HANDED_VERBS:
        return None
    sock = f"{roots['--run-root']}/monitor.sock"
    if os.path.abspath(roots["--run-root"]) in SPAWNED and not wait_for_monitor(roots["--run-root"]):
        return None
    try:
        reply = _ask(sock, {"op": "cli", "argv": argv})
    except OSError:
        return None
    if reply.get("fallback"):
        return None
    if not reply.get("ok"):
        return _failed(reply)
    if reply.get("attached"):
        return _attached(sock, reply)
    sys.stdout.write(reply["text"])
    return 0


def _ask(sock: str, request: dict) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(sock)
        conn.sendall(json.dumps(request).encode() + b"\n")
        return _answer(conn)


def _answer(conn: socket.socket) -> dict:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionResetError("the monitor closed the connection")
        data += chunk
    return json.loads(data)


def _failed(reply: dict) -> int:
    error = reply.get("error") or {}
    sys.stderr.write(f"berth: {error.get('kind', 'invalid_state')}: {error.get('text') or error.get('message')}\n")
    return 1


def _attached(sock: str, started: dict) -> int:
    """An attached `run`: the output as the log receives it, until the
    container exits; its exit code; removed afterwards with --rm."""
    import select
    from pathlib import Path

    from .logs import Follower

    follower = Follower(Path(started["log"]))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(sock)
        conn.sendall(json.dumps({"op": "wait", "id": started["id"]}).encode() + b"\n")
        while not select.select([conn], [], [], 0.05)[0]:
            _write(follower.poll())
        outcome = _answer(conn)
    _write(follower.poll())   # the monitor wrote all output before it answered
    follower.close()
    if started.get("rm"):
        removed = _ask(sock, {"op": "remove", "id": started["id"]})
        if not removed.get("ok"):
            return _failed(removed)
    code = outcome.get("exit_code")
    return int(code) if code is not None else 0


def _write(entries: list[dict]) -> None:
    for entry in entries:
        stream = sys.stdout if entry["stream"] == "stdout" else sys.stderr
        stream.write(entry["log"])
        stream.flush()
