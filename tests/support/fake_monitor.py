"""Fakes for the monitor's unit tests: a clock the test moves, and a host
(monitor_host.RuntimeHost's interface) with no processes and no kernel —
records in a dict, inits and probes as pids whose stdio are real pipes, exits
queued for the monitor to reap, every action recorded in ``calls``."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from ansible_collections.berth.engine.plugins.module_utils.containers.monitor_host import facts_of
from ansible_collections.berth.engine.plugins.module_utils.containers.watch import Facts, Launched
from ansible_collections.berth.engine.plugins.module_utils.errors import NotFound


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Answers(list):
    """Collects the replies the monitor sends to one client."""

    def __call__(self, reply: Any) -> None:
        self.append(reply)


class FakeHost:
    def __init__(self, tmp: Path, state_root: str = "/state") -> None:
        self.tmp = tmp
        self.state_root = state_root
        self.records: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.exits: list[tuple[int, int]] = []          # (pid, code) for the monitor to reap
        self.writers: dict[int, list[int]] = {}         # pid -> write ends of its pipes
        self.inits: dict[str, int] = {}                 # container id -> pid of its live init
        self.next_pid = 100
        self.dies_on: set[int] = {signal.SIGTERM, signal.SIGKILL}   # signals an init obeys
        self.launch_error: Exception | None = None
        self.oom = False

    # -- the test's side ---------------------------------------------------------------
    def add(self, container_id: str, *, status: str = "created", **config: Any) -> None:
        self.records[container_id] = {"id": container_id, "name": f"name-{container_id}",
                                      "config": {"restart_policy": "no", **config},
                                      "state": {"status": status, "restart_count": 0}}

    def state(self, container_id: str) -> dict[str, Any]:
        return self.records[container_id]["state"]

    def exit(self, pid: int, code: int) -> None:
        """The process ends: its pipes close, and the monitor may reap it."""
        for fd in self.writers.pop(pid, []):
            os.close(fd)
        self.inits = {cid: p for cid, p in self.inits.items() if p != pid}
        self.exits.append((pid, code))

    def write(self, pid: int, data: bytes, stream: int = 0) -> None:
        os.write(self.writers[pid][stream], data)

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] == name]

    def close(self) -> None:
        for fds in self.writers.values():
            for fd in fds:
                os.close(fd)
        self.writers.clear()

    def _pid(self, pipes: int) -> tuple[int, list[int]]:
        pid, self.next_pid = self.next_pid, self.next_pid + 1
        reads, writes = [], []
        for _index in range(pipes):
            read_end, write_end = os.pipe()
            reads.append(read_end)
            writes.append(write_end)
        self.writers[pid] = writes
        return pid, reads

    # -- the host's interface (monitor_host.RuntimeHost) --------------------------------------
    def find(self, container_id: str) -> Facts | None:
        record = self.records.get(container_id)
        return None if record is None else facts_of(record)

    def get(self, container_id: str) -> Facts:
        found = self.find(container_id)
        if found is None:
            raise NotFound(f"no container {container_id}", field="name")
        return found

    def set_state(self, container_id: str, **changes: Any) -> None:
        self.records[container_id]["state"].update(changes)

    def running(self) -> list[Facts]:
        return [facts_of(r) for r in self.records.values() if r["state"]["status"] == "running"]

    def log_path(self, container_id: str) -> Path:
        return self.tmp / container_id / "container.log"

    def serves(self, state_root: str) -> bool:
        return state_root == self.state_root

    def launch(self, facts: Facts) -> Launched:
        self.calls.append(("launch", facts.id))
        if self.launch_error is not None:
            raise self.launch_error
        pid, (out_r, err_r) = self._pid(2)
        self.inits[facts.id] = pid
        return Launched(pid=pid, stdout=out_r, stderr=err_r, pid_start=pid * 10)

    def signal(self, container_id: str, signum: int, *, all_processes: bool = False) -> None:
        self.calls.append(("signal", container_id, signum, all_processes))
        pid = self.inits.get(container_id)
        if pid is not None and signum in self.dies_on:
            self.exit(pid, -signum)

    def freeze(self, container_id: str, frozen: bool) -> None:
        self.calls.append(("freeze", container_id, frozen))

    def exec_probe(self, container_id: str, argv: list[str]) -> tuple[int, int]:
        pid, (read_end,) = self._pid(1)
        self.calls.append(("probe", container_id, pid, argv))
        return pid, read_end

    def kill_process(self, pid: int) -> None:
        self.calls.append(("kill", pid))
        self.exit(pid, -signal.SIGKILL)

    def reaped(self) -> list[tuple[int, int]]:
        found, self.exits = self.exits, []
        return found

    def pidfd(self, pid: int) -> int | None:
        read_end, write_end = os.pipe()   # readable (EOF) once the test "ends" the process
        self.writers[pid] = [write_end]
        self.inits.update({r["id"]: pid for r in self.records.values() if r["state"].get("pid") == pid})
        return read_end

    def end_run(self, container_id: str, facts: Facts | None) -> bool:
        self.calls.append(("end_run", container_id))
        return self.oom

    def detach(self, facts: Facts) -> None:
        self.calls.append(("detach", facts.id))

    def discard(self, facts: Facts) -> None:
        self.calls.append(("discard", facts.id))
        del self.records[facts.id]

    def create(self, name: str, spec: dict[str, Any], stated: list[str]) -> str:
        container_id = f"id-{name}"
        self.calls.append(("create", name, spec, stated))
        self.add(container_id)
        return container_id

    def remove(self, container_id: str, *, volumes: bool) -> None:
        self.calls.append(("remove", container_id, volumes))
        del self.records[container_id]
