"""OCI hooks: each runs with the container's state JSON on stdin.

Plain fork/execve (no subprocess module): startContainer hooks run inside
the container after pivot_root, where nothing new can be imported.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time

from ..errors import InvalidState


def run_hooks(hooks: list[dict], state: dict, kind: str) -> None:
    payload = json.dumps(state).encode()
    for index, hook in enumerate(hooks):
        _run_one(hook, payload, f"hooks.{kind}[{index}]")


def _run_one(hook: dict, payload: bytes, field: str) -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child execs or exits
        try:
            os.dup2(read_end, 0)
            os.close(write_end)
            args = hook.get("args") or [hook["path"]]
            env = dict(item.partition("=")[::2] for item in hook.get("env") or [])
            os.execve(hook["path"], args, env)
        finally:
            os._exit(127)
    os.close(read_end)
    with contextlib.suppress(BrokenPipeError):
        os.write(write_end, payload)
    os.close(write_end)
    status = _wait(pid, hook.get("timeout"))
    if status is None:
        raise InvalidState(f"hook {hook['path']} did not finish within {hook['timeout']}s", field=field)
    if status != 0:
        raise InvalidState(f"hook {hook['path']} failed with exit status {status}", field=field)


def _wait(pid: int, timeout: int | None) -> int | None:
    deadline = None if not timeout else time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG if deadline else 0)
        if done:
            return os.waitstatus_to_exitcode(status)
        if deadline and time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.005)
