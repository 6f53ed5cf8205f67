"""What the fast lane imports: bin/berth itself, run in a fresh interpreter
against a (fake) monitor, hands a `run`/`create` over without importing
the engine or any of the standard library's heavier modules. Most of a
`berth run`'s client CPU is its imports, so a module creeping in here is a
regression of every container start (see cli/fastlane.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.containers import protocol
from ansible_collections.berth.engine.plugins.module_utils.containers.logs import LogWriter
from tests.unit.containers.test_fastlane import FakeMonitor

BIN = Path(__file__).resolve().parents[3] / "bin" / "berth"
ENGINE = "ansible_collections.berth.engine.plugins.module_utils."
# the engine's modules the fast lane may import: its own, the wire, the spec and its option table
ALLOWED = {f"{ENGINE}{name}" for name in (
    "cli", "cli.fastlane", "cli.runargs", "containers", "containers.monitor_client", "containers.protocol",
    "containers.logs", "containers.spec", "containers.options", "containers.netwishes", "errors", "strict")}
# each costs the client ms of CPU (measured with -X importtime): json and socket with their re, enum
# and selectors too (protocol.py reads and writes JSON with json's C accelerator, monitor_client.py
# talks through _socket); json is imported for --json's output only
FORBIDDEN = {"argparse", "gettext", "locale", "shutil", "pathlib", "typing", "dataclasses", "inspect", "json", "re",
             "enum", "socket", "selectors", "subprocess", "threading", "contextlib", "secrets", "hashlib", "shlex",
             "pydantic", "datetime"}


def imported_by_berth(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """bin/berth run as a user runs it; every module it imported (``-X importtime``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BERTH_LIB")}
    result = subprocess.run([sys.executable, "-X", "importtime", str(BIN), *argv], capture_output=True, text=True,
                            env=env, check=False, timeout=60)
    modules = {line.rpartition("|")[2].strip() for line in result.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    return result, modules - {"imported package"}


def answer(log: Path) -> Any:
    def reply(request: Any) -> Any:
        if isinstance(request, protocol.Create):
            return protocol.Created(id="c1", log=str(log))
        if isinstance(request, protocol.Wait):
            return protocol.Exited(exit_code=0, status="exited")
        return protocol.Ok()
    return reply


@pytest.mark.parametrize("words", [
    ["run", "--rm", "--network", "none", "img", "true"],       # attached: follows the log, waits, removes
    ["run", "--rm", "img", "true"],                             # the default network; a generated name
    # (not pinned: -p imports network.ports, -v/--mount/--tmpfs the volume and mount checks, --device
    # and friends bundle_host: each with its dataclasses, pathlib and typing, when those flags are given)
    ["run", "-d", "--name", "web", "-e", "A=1", "-l", "k=v", "--restart", "always", "img", "sleep", "60"],
    ["create", "--name", "web", "img"],
], ids=" ".join)
def test_the_fast_lane_imports_no_engine_and_nothing_heavy(tmp_path: Path, words: list[str]) -> None:
    log = tmp_path / "container.log"
    LogWriter(log).write("stdout", b"hello\n")
    monitor = FakeMonitor(tmp_path, answer(log))
    try:
        result, modules = imported_by_berth(["--state-root", str(tmp_path / "state"), "--run-root", str(tmp_path),
                                             *words])
    finally:
        monitor.server.close()
    assert result.returncode == 0, result.stderr[-2000:]
    assert [type(r).__name__ for r in monitor.requests][:1] == ["Create"], "handed over, not the full CLI's path"
    if words[:2] == ["run", "--rm"]:
        assert result.stdout == "hello\n"
    engine = {name for name in modules if name.startswith(ENGINE)}
    assert engine <= ALLOWED, f"the fast lane imported {sorted(engine - ALLOWED)}"
    assert not modules & FORBIDDEN, f"the fast lane imported {sorted(modules & FORBIDDEN)}"
