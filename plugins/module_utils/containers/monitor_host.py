"""What the monitor does to the kernel and the store, behind one object:
records read and written, containers launched through the runtime (limits,
networks, stdio pipes), signals, the cgroup freezer, healthcheck probes,
reaping, and the clean-up after an exit. ``monitor.py`` decides; this does.
Unit tests give the monitor a fake host instead (no processes, no kernel).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..crashpoint import crash_point
from ..engine import Engine
from ..errors import BerthError
from ..runtime import container as runtime
from ..runtime.state import start_time
from . import limits, mounting, networking
from .record import ContainerRecord
from .service import ContainerService
from .spec import ContainerSpec
from .store import ContainerStore
from .watch import Facts, Launched


class RuntimeHost:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = ContainerStore(engine)
        self.root = str(self.store.runtime_root)
        self.network: networking.Networking | None = None

    # -- records ---------------------------------------------------------------------
    def find(self, container_id: str) -> Facts | None:
        record = self.store.by_id(container_id)
        return None if record is None else facts_of(record)

    def get(self, container_id: str) -> Facts:
        """The container's facts; NotFound when it has no record."""
        return facts_of(ContainerRecord.load(self.store.meta.get(container_id)))

    def set_state(self, container_id: str, **changes: Any) -> None:
        self.store.update_state(container_id, **changes)

    def running(self) -> list[Facts]:
        """Containers whose records say a process runs (adopted by a new monitor)."""
        return [facts_of(record) for record in self.store.records() if record.running and record.state.pid]

    def log_path(self, container_id: str) -> Path:
        return self.store.log_path(container_id)

    def serves(self, state_root: str) -> bool:
        return Path(state_root).absolute() == self.engine.layout.state_root.absolute()

    # -- processes -------------------------------------------------------------------
    def launch(self, facts: Facts) -> Launched:
        """Create the container in the runtime with its stdio on pipes, apply
        its limits and networks, then release its init. On failure nothing of
        it is left running."""
        record: ContainerRecord = facts.record
        config = record.config
        with contextlib.suppress(BerthError):
            runtime.delete(self.root, facts.id, force=True)   # leftovers of a crash
        mounting.before_start(self.engine, record)
        if str(config.get("network_mode")).startswith("container:"):
            self._networking().prepare_bundle(record)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            with _stdio(out_w, err_w):
                created = runtime.create(self.root, facts.id, str(self.store.directory(facts.id) / "bundle"),
                                         runtime.Options(log=_ignore))
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        crash_point("monitor.start.created")
        pid = created["pid"]
        try:
            limits.apply(record.cgroup, config.get("resources") or {})
            attached = self._networking().attach(record, pid) if _networked(config) else {}
            crash_point("monitor.start.attached")
            runtime.start(self.root, facts.id)
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            with contextlib.suppress(BerthError):
                runtime.delete(self.root, facts.id, force=True)
            raise
        crash_point("monitor.start.released")
        return Launched(pid=pid, stdout=out_r, stderr=err_r, pid_start=start_time(pid),
                        networks=attached.get("networks", {}), ports=attached.get("ports", []))

    def signal(self, container_id: str, signum: int, *, all_processes: bool = False) -> None:
        runtime.kill(self.root, container_id, signum, all_processes=all_processes)

    def freeze(self, container_id: str, frozen: bool) -> None:
        """Freeze or thaw every process of the container (the runtime's pause
        and resume: the cgroup freezer, through the cgroup drivers)."""
        runtime.pause(self.root, container_id, frozen)

    def exec_probe(self, container_id: str, argv: list[str]) -> tuple[int, int]:
        """A healthcheck command in the container: its pid and the read end of its output."""
        from ..runtime import execute

        bundle = str(self.store.directory(container_id) / "bundle")
        read_end, write_end = os.pipe()
        try:
            process = execute.process_from_args(bundle, argv, [], None, None, [], [], False, False)
            with _stdio(write_end, write_end):
                pid = execute.exec_in(self.root, container_id, process, runtime.Options(log=_ignore))
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        return pid, read_end

    def kill_process(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def reaped(self) -> list[tuple[int, int]]:
        """(pid, exit code: negative for a signal) of every child that exited."""
        found = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return found
            if pid == 0:
                return found
            found.append((pid, os.waitstatus_to_exitcode(status)))

    def pidfd(self, pid: int) -> int | None:
        try:
            return os.pidfd_open(pid)
        except OSError:
            return None

    # -- after an exit -----------------------------------------------------------------
    def end_run(self, container_id: str, facts: Facts | None) -> bool:
        """Whether the kernel OOM-killed it (read before the runtime removes its
        cgroup); then the runtime's container is deleted."""
        oom = False
        if facts is not None:
            with contextlib.suppress(BerthError, OSError):
                oom = bool(limits.stats(facts.record.cgroup).get("oom_kills"))
        with contextlib.suppress(BerthError):
            runtime.delete(self.root, container_id, force=True)
        return oom

    def detach(self, facts: Facts) -> None:
        """Its networks, after the replies: the veths died with the init's network namespace."""
        networking.detach(self.engine, facts.record, self.network, namespace_gone=True)

    def discard(self, facts: Facts) -> None:
        """auto_remove: the record, its network addresses and (as Docker's --rm) its anonymous volumes."""
        self.store.forget(facts.id)
        networking.release(self.engine, facts.record)
        mounting.remove_anonymous(self.engine, facts.record)

    # -- engine requests ---------------------------------------------------------------
    def create(self, name: str, spec: dict[str, Any], stated: list[str]) -> str:
        created = ContainerService(self.engine).create(name, ContainerSpec.from_dict(spec), stated=tuple(stated))
        return created["id"]

    def remove(self, container_id: str, *, volumes: bool) -> None:
        ContainerService(self.engine).remove(container_id, force=True, volumes=volumes)

    # -- names of overlay networks (network/dnsserver.Source) ------------------------------------------
    def dns_networks(self) -> list[dict[str, Any]]:
        from ..network.store import NetworkStore

        return [record for record in NetworkStore(self.engine).list() if record.get("driver") == "overlay"]

    def dns_names(self, network_id: str) -> dict[str, list[str]]:
        """Name -> addresses of this host's running containers on the network: the
        container's name, its 12-digit short id and its aliases there (Docker's)."""
        names: dict[str, list[str]] = {}
        for record, attached in self._networking()._running_networks().values():
            for item in attached.values():
                if item.get("network_id") != network_id or not item.get("ip"):
                    continue
                for name in dict.fromkeys([record.name, record.id[:12], *item.get("aliases", [])]):
                    names.setdefault(name.lower(), []).append(item["ip"])
        return names

    def dns_upstreams(self) -> tuple[list[str], list[str]]:
        from ..network.resolver import host_resolvers

        return host_resolvers(networking._read("/etc/resolv.conf"),
                              networking._read("/run/systemd/resolve/resolv.conf"))

    def _networking(self) -> networking.Networking:
        """One for the monitor's life (it caches realized networks and parsed records)."""
        if self.network is None:
            self.network = networking.Networking(self.engine)
            self.network.defer_peers = True
        return self.network

    def after_turn(self) -> None:
        """Work the monitor's loop does once it answered its requests: the peers' hosts files."""
        if self.network is not None:
            self.network.flush_peers()


def facts_of(record: ContainerRecord | Mapping[str, Any]) -> Facts:
    """What the monitor reads from a container record (a document is loaded
    first: the unit tests' fake host keeps its records as documents)."""
    if not isinstance(record, ContainerRecord):
        record = ContainerRecord.load(dict(record))
    config, state = record.config, record.state
    return Facts(id=record.id, name=record.name, state=record.lifecycle, record_status=state.status, pid=state.pid,
                 exit_code=state.exit_code, restart_policy=config.get("restart_policy") or "no",
                 restart_count=state.restart_count, stopped_by_user=state.stopped_by_user,
                 auto_remove=bool(config.get("auto_remove")), healthcheck=config.get("healthcheck"),
                 health=state.health, log_max_size=config.get("log_max_size", 0),
                 log_max_file=config.get("log_max_file", 1), log_driver=config.get("log_driver") or "json-file",
                 record=record)


def _ignore(_level: str, _message: str) -> None:
    return None


@contextlib.contextmanager
def _stdio(out_fd: int, err_fd: int):  # type: ignore[no-untyped-def]
    """The runtime gives the container its own stdio: point ours at the pipes meanwhile."""
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
