"""Container lifecycle for callers (the CLI today, the container module next):
create (record + bundle), start/stop through the monitor, remove, inspect.

Everything that changes a record holds the ``containers`` lock; the monitor
owns running containers (stdio, exit codes, restarts).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import lifecycle
from ..crashpoint import crash_point
from ..engine import Engine
from ..errors import BerthError, InvalidInput, InvalidState
from ..fsutil import atomic_write_json
from ..image.store import ImageStore
from . import health, limits, logs, mounting, netwishes, networking, policy, removal
from .bundle import BundleRequest, write_bundle
from .monitor_client import MonitorClient, process_alive
from .protocol import Exited, Ok, Pause, Start, Started, Stop, Stopped, Unpause, Wait
from .record import ContainerRecord, ContainerState
from .spec import DEFAULT_STOP_SIGNAL, DEFAULT_STOP_TIMEOUT, ContainerSpec
from .store import ContainerStore

DIED_UNWATCHED: dict[str, Any] = {"status": "exited", "pid": 0, "networks": {}, "ports": [],
                                  "error": "the monitor was gone when the container exited; exit code unknown"}


class ContainerService:
    """Its public methods take references (name, id or id prefix) and return
    the record *documents* (the Docker-inspect-like JSON that ``inspect``,
    ``container_info`` and the CLI show); inside, records travel typed
    (``ContainerRecord``), read through ``current``/``refreshed``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = ContainerStore(engine)

    # -- create / remove -----------------------------------------------------------
    def create(self, name: str, spec: ContainerSpec, *, stated: tuple[str, ...] = (),
               image_volumes: bool = True) -> dict[str, Any]:
        """A created container (record + bundle) made from ``spec``.
        ``stated`` names the options the task gave (kept for ``container_info``
        and diffs; comparisons use the spec itself). ``image_volumes=False``
        leaves the image's VOLUMEs unmounted: a build's RUN writes under them
        into its layer, as BuildKit keeps such writes."""
        self.engine.require_writable(f"create container {name}")
        restart_policy = spec.restart
        policy.parse(restart_policy)
        stop_signal = spec.stop_signal or DEFAULT_STOP_SIGNAL
        _signal_number(stop_signal)
        if spec.auto_remove and restart_policy != "no":
            raise InvalidInput("auto_remove conflicts with a restart policy", field="auto_remove",
                               hint="use restart_policy: no with auto_remove, as Docker requires")
        if spec.resources:
            limits.validate(spec.resources)
        image = ImageStore(self.engine).resolve(spec.image)
        image_config = json.loads(self.engine.blobs.read_bytes(image.id)).get("config") or {}
        probe = spec.healthcheck if spec.healthcheck is not None else health.from_image(image_config)
        network = netwishes.wishes(
            spec.network_mode, list(spec.networks) or None, list(spec.published_ports), spec.publish_all_ports)
        networking.require_networks(self.engine, network)
        request = mounting.prepare(bundle_request(spec), image_config if image_volumes else
                                   {k: v for k, v in image_config.items() if k != "Volumes"})
        cgroup_parent = spec.cgroup_parent
        config = {**request.as_dict(), **network, "restart_policy": restart_policy, "auto_remove": spec.auto_remove,
                  "healthcheck": probe if health.probe_argv(probe) else None, "resources": dict(spec.resources),
                  "cgroup_parent": cgroup_parent, "stop_signal": stop_signal,
                  "stop_timeout": DEFAULT_STOP_TIMEOUT if spec.stop_timeout is None else spec.stop_timeout,
                  **_log_config(spec)}
        made: list[str] = []
        with self.store.meta.transaction() as txn:
            made = mounting.ensure_volumes(self.engine, request.mounts)
            try:
                # marked creating until the bundle is complete: a crash in between
                # leaves a record the next engine call removes (removal.remove_half_made)
                container_id = self.store.add(txn, name, {"image": request.image, "image_id": image.id,
                                                          "config": config, "spec": spec.to_dict(),
                                                          "stated": list(stated),
                                                          "state": {"status": "created", "restart_count": 0}},
                                              creating=True)["id"]
            except BaseException:
                mounting.drop_volumes(self.engine, made)
                raise
        crash_point("container.create.record")
        try:
            bundle = self.store.make_directory(container_id)
            cgroup_path = self._set_cgroup_path(container_id, cgroup_parent)
            written = write_bundle(self.engine, container_id, request, bundle)
            crash_point("container.create.bundle")
            written.setdefault("linux", {})["cgroupsPath"] = cgroup_path
            networking.shape_bundle(written, self.store.directory(container_id), network["network_mode"],
                                    request.hostname or container_id[:12], config)
            atomic_write_json(bundle / "config.json", written)   # 0600: it holds the env
            crash_point("container.create.config")
            mounting.copy_up(self.engine, request.mounts, self.engine.snapshots.lowerdirs(image.top_chain_id or ""),
                             image=request.image)
            self.store.finish_creating(container_id)
        except BaseException:
            self.store.forget(container_id)
            mounting.drop_volumes(self.engine, made)
            raise
        return self.store.meta.get(container_id)

    def _set_cgroup_path(self, container_id: str, parent: str | None) -> str:
        """The cgroup the bundle names, kept in the record's config; returns it."""
        path = limits.cgroup_path(container_id, parent)
        with self.store.meta.transaction() as txn:
            document = txn.get(container_id)
            document["config"]["cgroup_path"] = path
            txn.put(container_id, document)
        return path

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> str:
        """Remove a container; with ``volumes``, its anonymous volumes too (`docker rm -v`)."""
        self.engine.require_writable(f"remove container {ref}")
        record = self.current(ref)
        state = record.lifecycle
        lifecycle.require(state, lifecycle.REMOVE, record.name, force=force)
        if lifecycle.is_active(state):
            self.stop(ref, timeout=0)
        else:
            from ..runtime import container as runtime

            with contextlib.suppress(BerthError):   # an init a killed monitor created but never started
                runtime.delete(str(self.store.runtime_root), record.id, force=True)
        self.store.forget(record.id)
        removal.release(self.engine, record, volumes=volumes)
        return record.id

    # -- start / stop ----------------------------------------------------------------
    def start(self, ref: str) -> dict[str, Any]:
        self.engine.require_writable(f"start container {ref}")
        record = self.current(ref)
        state = record.lifecycle
        if not lifecycle.is_noop(state, lifecycle.START):
            lifecycle.require(state, lifecycle.START, record.name)
            crash_point("container.start.request")
            self.monitor.ask(Start(id=record.id), Started)
        return self.store.meta.get(record.id)

    def stop(self, ref: str, *, timeout: float | None = None) -> dict[str, Any]:
        self.engine.require_writable(f"stop container {ref}")
        document = self.refresh(self.store.get(ref))
        record = ContainerRecord.load(document)
        config = record.config
        wait = config.get("stop_timeout", 10) if timeout is None else timeout
        if lifecycle.is_active(record.lifecycle):   # the monitor thaws a paused one first
            self.monitor.ask(Stop(id=record.id, signal=_signal_number(config.get("stop_signal")),
                                  timeout=float(wait)), Stopped, timeout=wait + 60)
        return self.store.meta.find(record.id) or document   # auto_remove may have taken it

    # -- reading ---------------------------------------------------------------------
    def current(self, ref: str) -> ContainerRecord:
        """The container's record, typed and refreshed (``refreshed``)."""
        return self.refreshed(self.store.record(ref))

    def refreshed(self, record: ContainerRecord) -> ContainerRecord:
        """The record, corrected when its process died while no monitor watched it."""
        if not self._died_unwatched(record.state):
            return record
        if self.engine.read_only:   # a view: what the record would say, nothing cleaned or written
            return replace(record, state=ContainerState.load({**record.state.to_dict(), **DIED_UNWATCHED}))
        self._clean_up_after(record)
        return ContainerRecord.load(self._record_died(record))

    def refresh(self, document: dict[str, Any]) -> dict[str, Any]:
        """``refreshed`` for a record document (what inspect shows): the same
        document, or the corrected one."""
        record = ContainerRecord.load(document)
        if not self._died_unwatched(record.state):
            return document
        if self.engine.read_only:
            return {**document, "state": {**document.get("state", {}), **DIED_UNWATCHED,
                                          "exit_code": record.state.exit_code}}
        self._clean_up_after(record)
        return self._record_died(record)

    def _died_unwatched(self, state: ContainerState) -> bool:
        return state.status == lifecycle.RUNNING and not _still_running(state) and not self.monitor.alive()

    def _clean_up_after(self, record: ContainerRecord) -> None:
        """What the dead monitor would have cleaned up."""
        from ..runtime import container as runtime

        with contextlib.suppress(BerthError):
            runtime.delete(str(self.store.runtime_root), record.id, force=True)
        networking.detach(self.engine, record)

    def _record_died(self, record: ContainerRecord) -> dict[str, Any]:
        return self.store.update_state(record.id, **DIED_UNWATCHED, exit_code=record.state.exit_code)

    def list(self, all_containers: bool = True) -> list[dict[str, Any]]:
        documents = [self.refresh(d) for d in self.store.list()]
        return documents if all_containers else [d for d in documents if d["state"]["status"] == "running"]

    def records(self) -> list[ContainerRecord]:
        """``list``, typed."""
        return [self.refreshed(r) for r in self.store.records()]

    def logs(self, ref: str, tail: int | None = None, since: str | None = None) -> list[dict]:
        record = self.store.record(ref)
        logs.require_readable(record.name, record.config)
        return logs.read(self.store.log_path(record.id), tail=tail, since=since)

    def wait(self, ref: str, timeout: float = 60.0) -> dict[str, Any]:
        """Until the container's process has exited; its record (``removed``
        when auto_remove took it)."""
        document = self.refresh(self.store.get(ref))
        record = ContainerRecord.load(document)
        if record.state.status in (lifecycle.RUNNING, lifecycle.RESTARTING):
            try:
                self.monitor.ask(Wait(id=record.id), Exited, timeout=timeout)
            except TimeoutError:
                raise InvalidState(f"container {record.name} did not exit within {timeout}s", field="name"
                                   ) from None
        return self.store.meta.find(record.id) or {**document, "removed": True}

    def follow(self, ref: str, write: Any, finished: Any = None) -> None:
        """Write log entries as they arrive until ``finished(seconds)`` (which
        may block that long) says the container is done; then drain the log."""
        record = self.store.record(ref)
        logs.require_readable(record.name, record.config)
        container_id = record.id
        follower = logs.Follower(self.store.log_path(container_id))
        if finished is None:
            def finished(seconds: float) -> bool:
                time.sleep(seconds)
                now = self.store.by_id(container_id)
                return now is None or now.state.status not in (lifecycle.RUNNING, lifecycle.RESTARTING)
        try:
            while True:
                done = finished(0.05)
                for entry in follower.poll():
                    write(entry)
                if done:
                    return
        finally:
            follower.close()

    def execute(self, ref: str, argv: list[str], *, env: dict[str, str] | None = None, user: str | None = None,
                workdir: str | None = None, stdin: bytes | None = None, timeout: float | None = None,
                tty: bool = False) -> subprocess.CompletedProcess[bytes]:
        """A command in the running container's namespaces and cgroup (its env,
        user and workdir unless given); rc, stdout and stderr (with ``tty``, on a
        terminal: its output is stdout, exec_capture.run_on_tty)."""
        command = self._exec_command(ref, argv, env=env, user=user, workdir=workdir)
        if tty:
            from .exec_capture import run_on_tty

            return run_on_tty(command, stdin or b"", timeout)
        return subprocess.run(command, input=stdin or b"", capture_output=True, timeout=timeout, check=False)

    def execute_detached(self, ref: str, argv: list[str], *, env: dict[str, str] | None = None,
                         user: str | None = None, workdir: str | None = None) -> int:
        """`exec -d`: the command started and left running (output discarded); its pid."""
        from .exec_capture import start_detached

        return start_detached(self._exec_command(ref, argv, env=env, user=user, workdir=workdir))

    def execute_tty(self, ref: str, argv: list[str], *, env: dict[str, str] | None = None, user: str | None = None,
                    workdir: str | None = None) -> int:
        """`exec -it`: the command on a terminal, proxied to ours; its exit code."""
        from .tty import run_with_tty

        return run_with_tty(self._exec_command(ref, argv, env=env, user=user, workdir=workdir))

    def _exec_command(self, ref: str, argv: list[str], *, env: dict[str, str] | None, user: str | None,
                      workdir: str | None) -> list[str]:
        self.engine.require_writable(f"exec in container {ref}")
        record = self.current(ref)
        lifecycle.require(record.lifecycle, lifecycle.EXEC, record.name)
        if not argv:
            raise InvalidInput("no command given", field="argv", hint="give the command to run, e.g. [ls, /]")
        command = [*_runtime_command(), "--root", str(self.store.runtime_root), "exec"]
        if user:
            from ..userdb import resolve_user

            image = ImageStore(self.engine).get(record.image_id or "")
            lowerdirs = self.engine.snapshots.lowerdirs(image.top_chain_id or "")
            resolved = resolve_user(user, lowerdirs, image=record.image)
            command += ["-u", f"{resolved.uid}:{resolved.gid}"]
        for key, value in (env or {}).items():
            command += ["-e", f"{key}={value}"]
        if workdir:
            command += ["--cwd", workdir]
        return [*command, record.id, *argv]

    def wait_healthy(self, refs: list[str], timeout: float) -> list[dict[str, Any]]:
        """Until every container is healthy; an unhealthy or exited one, or the
        timeout, is an error naming them and their last probe's output."""
        deadline = time.monotonic() + timeout
        while True:
            documents = [self.refresh(self.store.get(ref)) for ref in refs]
            records = [ContainerRecord.load(d) for d in documents]
            for record in records:
                if not record.config.get("healthcheck"):
                    raise InvalidInput(f"container {record.name} has no healthcheck", field="healthcheck",
                                       hint="give the container a healthcheck (or its image a HEALTHCHECK)")
            health_of = {r.name: (r.state.health or {}) for r in records}
            bad = [r.name for r in records if r.state.status not in (lifecycle.RUNNING, lifecycle.RESTARTING)
                   or health_of[r.name].get("status") == "unhealthy"]
            if not bad and all(h.get("status") == "healthy" for h in health_of.values()):
                return documents
            if bad or time.monotonic() > deadline:
                names = bad or [n for n, h in health_of.items() if h.get("status") != "healthy"]
                last = {n: (health_of[n].get("log") or [{}])[-1].get("output", "") for n in names}
                raise InvalidState(f"not healthy: {', '.join(names)}", field="name",
                                   hint=f"last probe output: {last}")
            time.sleep(0.1)

    def export(self, ref: str, destination: Path) -> int:
        """The container's filesystem (image layers + its writable layer) as a
        tarball, like `docker export`; returns the number of entries."""
        import tarfile
        import tempfile

        from ..syscalls import MNT_DETACH, MS_RDONLY, default_syscalls

        record = self.store.record(ref)
        image = ImageStore(self.engine).get(record.image_id or "")
        upper = self.store.directory(record.id) / "bundle" / "upper"
        lowers = [str(upper), *(str(p) for p in self.engine.snapshots.lowerdirs(image.top_chain_id or ""))]
        calls = default_syscalls()
        with tempfile.TemporaryDirectory(dir=self.engine.layout.tmp) as scratch:
            merged = Path(scratch) / "merged"
            merged.mkdir()
            # a read-only overlay (no upperdir): the writable layer's whiteouts hide deleted files
            calls.mount("overlay", merged, "overlay", MS_RDONLY, f"lowerdir={':'.join(lowers)}")
            try:
                partial = destination.with_name(f".{destination.name}.partial")
                with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
                    tar.add(merged, arcname=".", recursive=True)
                    count = len(tar.getmembers())
                os.replace(partial, destination)
            finally:
                calls.umount2(merged, MNT_DETACH)
        return count

    def update(self, ref: str, spec: ContainerSpec, fields: tuple[str, ...], *, stated: tuple[str, ...] = ()
               ) -> dict[str, Any]:
        """Change options that update in place (`docker update`): the record's
        spec and config now; networks connected/disconnected and resource
        limits written to a running container's cgroup."""
        self.engine.require_writable(f"update container {ref}")
        container_id = self.store.record(ref).id
        with self.store.meta.transaction() as txn:
            document = txn.get(container_id)
            document["spec"] = spec.to_dict()
            document["stated"] = sorted(set(document.get("stated") or ()) | set(stated))
            config = document["config"]
            config["restart_policy"] = spec.restart
            config["stop_signal"] = spec.stop_signal or config.get("stop_signal") or DEFAULT_STOP_SIGNAL
            config["stop_timeout"] = DEFAULT_STOP_TIMEOUT if spec.stop_timeout is None else spec.stop_timeout
            txn.put(container_id, document)
        if "networks" in fields:
            self.set_networks(container_id, list(spec.networks))
        changed_limits = {name: spec.resources[name] for name in fields if name in spec.resources}
        if changed_limits:
            self.update_resources(container_id, changed_limits)
        return self.store.meta.get(container_id)

    def set_networks(self, ref: str, networks: list[dict[str, Any]]) -> dict[str, Any]:
        """Connect and disconnect in place (`docker network connect/disconnect`):
        kept in the record, applied now to a running container."""
        self.engine.require_writable(f"connect/disconnect container {ref}")
        before = self.current(ref)
        entries = netwishes.wishes(None, networks, None, False)["networks"] if networks else []
        networking.require_networks(self.engine, {"networks": entries})
        with self.store.meta.transaction() as txn:
            document = txn.get(before.id)
            document["config"]["networks"] = entries
            document["config"]["network_mode"] = entries[0]["name"] if entries else "none"
            txn.put(before.id, document)
        after = ContainerRecord.load(document)
        if after.running:
            state = networking.Networking(self.engine).reconnect(before, after)
            return self.store.update_state(before.id, **state)
        for entry in before.config.get("networks") or []:
            if entry not in entries:
                networking.Networking(self.engine).networks.release(entry["name"], before.id)
        return document

    def update_resources(self, ref: str, raw: dict[str, Any]) -> list[dict[str, str]]:
        """Change limits in place (like `docker update`): written to a running
        container's cgroup now, kept in the record for every later start."""
        self.engine.require_writable(f"update limits of container {ref}")
        record = self.current(ref)
        limits.validate(raw)
        with self.store.meta.transaction() as txn:
            document = txn.get(record.id)
            document["config"]["resources"] = {**document["config"].get("resources", {}), **raw}
            txn.put(record.id, document)
        if record.running:
            updated = ContainerRecord.load(document)
            return limits.apply(updated.cgroup, updated.config["resources"])
        return []

    def pause(self, ref: str, paused: bool) -> dict[str, Any]:
        """Freeze or thaw every process of a running container (cgroup freezer),
        through the monitor that watches it (it also stops probing a frozen one)."""
        self.engine.require_writable(f"pause container {ref}")
        record = self.current(ref)
        state = record.lifecycle
        verb = lifecycle.PAUSE if paused else lifecycle.UNPAUSE
        if not lifecycle.is_noop(state, verb):
            lifecycle.require(state, verb, record.name)
            self.monitor.ask(Pause(id=record.id) if paused else Unpause(id=record.id), Ok)
        return self.store.meta.get(record.id)

    def stats(self, document: dict[str, Any] | ContainerRecord) -> dict[str, Any] | None:
        """A running container's cgroup stats (None when it runs not, or they cannot be read)."""
        record = document if isinstance(document, ContainerRecord) else ContainerRecord.load(document)
        if not record.running:
            return None
        with contextlib.suppress(BerthError, OSError):
            return limits.stats(record.cgroup)
        return None

    def restore(self) -> list[str]:
        """After a reboot: start containers whose policy says so (always, or
        unless-stopped when no person stopped them)."""
        started = []
        for record in self.records():
            name, _retries = policy.parse(record.config.get("restart_policy"))
            if record.state.status not in (lifecycle.RUNNING, lifecycle.RESTARTING) and policy.restore_wanted(
                    name, record.state.stopped_by_user):
                self.start(record.id)
                started.append(record.name)
        return started

    # -- the monitor -----------------------------------------------------------------------
    @property
    def monitor(self) -> MonitorClient:
        """The client of this run root's monitor (monitor_client.py)."""
        return MonitorClient(self.engine.layout.state_root, self.engine.layout.run_root)


def _runtime_command() -> list[str]:
    """berth-runtime: $BERTH_RUNTIME, this checkout's bin/berth-runtime, else on PATH."""
    given = os.environ.get("BERTH_RUNTIME")
    checkout = Path(__file__).resolve().parents[3] / "bin" / "berth-runtime"
    if given or checkout.is_file():
        return [sys.executable, given or str(checkout)]
    found = shutil.which("berth-runtime")
    if found is None:
        raise InvalidState("berth-runtime is not installed", hint="apply the berth.engine.host role")
    return [found]


def _still_running(state: ContainerState) -> bool:
    """The container's process is alive: the same pid *and* start time (a
    recycled pid belongs to another process)."""
    from ..runtime.state import start_time

    if not process_alive(state.pid):
        return False
    return state.pid_start is None or start_time(state.pid) == state.pid_start


def _signal_number(name: str | int | None) -> int:
    if name is None:
        return int(signal.SIGTERM)
    if isinstance(name, int) or (str(name).isascii() and str(name).isdigit()):  # "²" is a digit to isdigit()
        from ..strict import parse_uint

        return parse_uint(name, field="stop_signal", what="signal", minimum=1, maximum=int(signal.SIGRTMAX),
                          hint="use a name like SIGTERM or a number 1..64")
    text = str(name).upper()
    try:
        return int(signal.Signals[text if text.startswith("SIG") else f"SIG{text}"])
    except KeyError:
        raise InvalidInput(f"unknown signal {name!r}", field="stop_signal", hint="use a name like SIGTERM") from None


def bundle_request(spec: ContainerSpec) -> BundleRequest:
    """What the bundle needs from a spec (mounts parsed from volumes, mounts and tmpfs)."""
    from ..volumes import specs

    return BundleRequest(image=spec.image, command=_listed(spec.command), entrypoint=_listed(spec.entrypoint),
                         env=dict(spec.env), user=spec.user, working_dir=spec.working_dir, hostname=spec.hostname,
                         read_only=spec.read_only, cap_add=list(spec.capabilities), cap_drop=list(spec.cap_drop),
                         labels=dict(spec.labels), terminal=spec.terminal, oom_score_adj=spec.oom_score_adj,
                         tmpfs=list(spec.tmpfs), ulimits=list(spec.ulimits), sysctls=dict(spec.sysctls),
                         devices=list(spec.devices), privileged=spec.privileged,
                         mounts=specs.parse_all(list(spec.volumes), list(spec.mounts), list(spec.tmpfs)),
                         init=spec.init, etc_hosts=dict(spec.etc_hosts), dns_servers=list(spec.dns_servers),
                         dns_search_domains=list(spec.dns_search_domains), dns_opts=list(spec.dns_opts))


def _log_config(spec: ContainerSpec) -> dict[str, Any]:
    """The record's log settings: the driver, and its rotation (the driver's defaults under log_options)."""
    rotation = spec.effective("log_options", {})
    return {"log_driver": spec.effective("log_driver", {}), "log_max_size": rotation["max_size"],
            "log_max_file": rotation["max_file"]}


def _listed(value: tuple[str, ...] | None) -> list[str] | None:
    return None if value is None else list(value)
