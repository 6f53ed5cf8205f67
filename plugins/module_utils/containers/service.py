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
from .spec import DEFAULT_STOP_SIGNAL, DEFAULT_STOP_TIMEOUT, ContainerSpec
from .store import ContainerStore

DIED_UNWATCHED: dict[str, Any] = {"status": "exited", "pid": 0, "networks": {}, "ports": [],
                                  "error": "the monitor was gone when the container exited; exit code unknown"}


class ContainerService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = ContainerStore(engine)

    # -- create / remove -----------------------------------------------------------
    def create(self, name: str, spec: ContainerSpec, *, stated: tuple[str, ...] = ()) -> dict[str, Any]:
        """A created container (record + bundle) made from ``spec``.
        ``stated`` names the options the task gave (kept for ``container_info``
        and diffs; comparisons use the spec itself)."""
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
        request = mounting.prepare(bundle_request(spec), image_config)
        cgroup_parent = spec.cgroup_parent
        config = {**request.as_dict(), **network, "restart_policy": restart_policy, "auto_remove": spec.auto_remove,
                  "healthcheck": probe if health.probe_argv(probe) else None, "resources": dict(spec.resources),
                  "cgroup_parent": cgroup_parent, "stop_signal": stop_signal,
                  "stop_timeout": DEFAULT_STOP_TIMEOUT if spec.stop_timeout is None else spec.stop_timeout,
                  "log_max_size": spec.log_options.get("max_size", 0),
                  "log_max_file": spec.log_options.get("max_file", 1)}
        made: list[str] = []
        with self.store.meta.transaction() as txn:
            made = mounting.ensure_volumes(self.engine, request.mounts)
            try:
                # marked creating until the bundle is complete: a crash in between
                # leaves a record the next engine call removes (removal.remove_half_made)
                record = self.store.add(txn, name, {"image": request.image, "image_id": image.id,
                                                    "config": config, "spec": spec.to_dict(),
                                                    "stated": list(stated),
                                                    "state": {"status": "created", "restart_count": 0}},
                                        creating=True)
            except BaseException:
                mounting.drop_volumes(self.engine, made)
                raise
        crash_point("container.create.record")
        try:
            bundle = self.store.make_directory(record["id"])
            record = self._set_cgroup_path(record, cgroup_parent)
            written = write_bundle(self.engine, record["id"], request, bundle)
            crash_point("container.create.bundle")
            written.setdefault("linux", {})["cgroupsPath"] = limits.of(record)
            networking.shape_bundle(written, self.store.directory(record["id"]), network["network_mode"],
                                    request.hostname or record["id"][:12])
            atomic_write_json(bundle / "config.json", written)   # 0600: it holds the env
            crash_point("container.create.config")
            mounting.copy_up(self.engine, request.mounts, self.engine.snapshots.lowerdirs(image.top_chain_id or ""),
                             image=request.image)
            self.store.finish_creating(record["id"])
        except BaseException:
            self.store.forget(record["id"])
            mounting.drop_volumes(self.engine, made)
            raise
        return self.store.meta.get(record["id"])

    def _set_cgroup_path(self, record: dict[str, Any], parent: str | None) -> dict[str, Any]:
        with self.store.meta.transaction() as txn:
            current = txn.get(record["id"])
            current["config"]["cgroup_path"] = limits.cgroup_path(record["id"], parent)
            txn.put(record["id"], current)
        return current

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> str:
        """Remove a container; with ``volumes``, its anonymous volumes too (`docker rm -v`)."""
        self.engine.require_writable(f"remove container {ref}")
        record = self.refresh(self.store.get(ref))
        state = lifecycle.of_record(record)
        lifecycle.require(state, lifecycle.REMOVE, record["name"], force=force)
        if lifecycle.is_active(state):
            self.stop(ref, timeout=0)
        else:
            from ..runtime import container as runtime

            with contextlib.suppress(BerthError):   # an init a killed monitor created but never started
                runtime.delete(str(self.store.runtime_root), record["id"], force=True)
        self.store.forget(record["id"])
        removal.release(self.engine, record, volumes=volumes)
        return record["id"]

    # -- start / stop ----------------------------------------------------------------
    def start(self, ref: str) -> dict[str, Any]:
        self.engine.require_writable(f"start container {ref}")
        record = self.refresh(self.store.get(ref))
        state = lifecycle.of_record(record)
        if lifecycle.is_noop(state, lifecycle.START):
            return record
        lifecycle.require(state, lifecycle.START, record["name"])
        crash_point("container.start.request")
        self.monitor.ask(Start(id=record["id"]), Started)
        return self.store.meta.get(record["id"])

    def stop(self, ref: str, *, timeout: float | None = None) -> dict[str, Any]:
        self.engine.require_writable(f"stop container {ref}")
        record = self.refresh(self.store.get(ref))
        config = record["config"]
        wait = config.get("stop_timeout", 10) if timeout is None else timeout
        if lifecycle.is_active(lifecycle.of_record(record)):   # the monitor thaws a paused one first
            self.monitor.ask(Stop(id=record["id"], signal=_signal_number(config.get("stop_signal")),
                                  timeout=float(wait)), Stopped, timeout=wait + 60)
        return self.store.meta.find(record["id"]) or record

    # -- reading ---------------------------------------------------------------------
    def refresh(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record, corrected when its process died while no monitor watched it."""
        state = record.get("state", {})
        if state.get("status") == "running" and not _still_running(state) and not self.monitor.alive():
            if self.engine.read_only:   # a view: what the record would say, nothing cleaned or written
                return {**record, "state": {**state, **DIED_UNWATCHED, "exit_code": state.get("exit_code")}}
            from ..runtime import container as runtime

            with contextlib.suppress(BerthError):  # what the dead monitor would have cleaned up
                runtime.delete(str(self.store.runtime_root), record["id"], force=True)
            networking.detach(self.engine, record)
            return self.store.update_state(record["id"], **DIED_UNWATCHED, exit_code=state.get("exit_code"))
        return record

    def list(self, all_containers: bool = True) -> list[dict[str, Any]]:
        records = [self.refresh(r) for r in self.store.list()]
        return records if all_containers else [r for r in records if r["state"]["status"] == "running"]

    def logs(self, ref: str, tail: int | None = None, since: str | None = None) -> list[dict]:
        record = self.store.get(ref)
        return logs.read(self.store.log_path(record["id"]), tail=tail, since=since)

    def wait(self, ref: str, timeout: float = 60.0) -> dict[str, Any]:
        """Until the container's process has exited; its record (``removed``
        when auto_remove took it)."""
        record = self.refresh(self.store.get(ref))
        if record["state"]["status"] in ("running", "restarting"):
            try:
                self.monitor.ask(Wait(id=record["id"]), Exited, timeout=timeout)
            except TimeoutError:
                raise InvalidState(f"container {record['name']} did not exit within {timeout}s", field="name"
                                   ) from None
        return self.store.meta.find(record["id"]) or {**record, "removed": True}

    def follow(self, ref: str, write: Any, finished: Any = None) -> None:
        """Write log entries as they arrive until ``finished(seconds)`` (which
        may block that long) says the container is done; then drain the log."""
        record = self.store.get(ref)
        follower = logs.Follower(self.store.log_path(record["id"]))
        if finished is None:
            def finished(seconds: float) -> bool:
                time.sleep(seconds)
                current = self.store.meta.find(record["id"])
                return current is None or current["state"]["status"] not in ("running", "restarting")
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
                ) -> subprocess.CompletedProcess[bytes]:
        """A command in the running container's namespaces and cgroup (its env,
        user and workdir unless given); rc, stdout and stderr."""
        command = self._exec_command(ref, argv, env=env, user=user, workdir=workdir)
        return subprocess.run(command, input=stdin or b"", capture_output=True, timeout=timeout, check=False)

    def execute_tty(self, ref: str, argv: list[str], *, env: dict[str, str] | None = None, user: str | None = None,
                    workdir: str | None = None) -> int:
        """`exec -it`: the command on a terminal, proxied to ours; its exit code."""
        from .tty import run_with_tty

        return run_with_tty(self._exec_command(ref, argv, env=env, user=user, workdir=workdir))

    def _exec_command(self, ref: str, argv: list[str], *, env: dict[str, str] | None, user: str | None,
                      workdir: str | None) -> list[str]:
        self.engine.require_writable(f"exec in container {ref}")
        record = self.refresh(self.store.get(ref))
        lifecycle.require(lifecycle.of_record(record), lifecycle.EXEC, record["name"])
        if not argv:
            raise InvalidInput("no command given", field="argv", hint="give the command to run, e.g. [ls, /]")
        command = [*_runtime_command(), "--root", str(self.store.runtime_root), "exec"]
        if user:
            from ..userdb import resolve_user

            image = ImageStore(self.engine).get(record["image_id"])
            lowerdirs = self.engine.snapshots.lowerdirs(image.top_chain_id or "")
            resolved = resolve_user(user, lowerdirs, image=record["image"])
            command += ["-u", f"{resolved.uid}:{resolved.gid}"]
        for key, value in (env or {}).items():
            command += ["-e", f"{key}={value}"]
        if workdir:
            command += ["--cwd", workdir]
        return [*command, record["id"], *argv]

    def wait_healthy(self, refs: list[str], timeout: float) -> list[dict[str, Any]]:
        """Until every container is healthy; an unhealthy or exited one, or the
        timeout, is an error naming them and their last probe's output."""
        deadline = time.monotonic() + timeout
        while True:
            records = [self.refresh(self.store.get(ref)) for ref in refs]
            for record in records:
                if not record["config"].get("healthcheck"):
                    raise InvalidInput(f"container {record['name']} has no healthcheck", field="healthcheck",
                                       hint="give the container a healthcheck (or its image a HEALTHCHECK)")
            health_of = {r["name"]: (r["state"].get("health") or {}) for r in records}
            bad = [r["name"] for r in records if r["state"]["status"] not in ("running", "restarting")
                   or health_of[r["name"]].get("status") == "unhealthy"]
            if not bad and all(h.get("status") == "healthy" for h in health_of.values()):
                return records
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

        record = self.store.get(ref)
        image = ImageStore(self.engine).get(record["image_id"])
        upper = self.store.directory(record["id"]) / "bundle" / "upper"
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
        record = self.store.get(ref)
        with self.store.meta.transaction() as txn:
            current = txn.get(record["id"])
            current["spec"] = spec.to_dict()
            current["stated"] = sorted(set(current.get("stated") or ()) | set(stated))
            config = current["config"]
            config["restart_policy"] = spec.restart
            config["stop_signal"] = spec.stop_signal or config.get("stop_signal") or DEFAULT_STOP_SIGNAL
            config["stop_timeout"] = DEFAULT_STOP_TIMEOUT if spec.stop_timeout is None else spec.stop_timeout
            txn.put(record["id"], current)
        if "networks" in fields:
            self.set_networks(record["id"], list(spec.networks))
        changed_limits = {name: spec.resources[name] for name in fields if name in spec.resources}
        if changed_limits:
            self.update_resources(record["id"], changed_limits)
        return self.store.meta.get(record["id"])

    def set_networks(self, ref: str, networks: list[dict[str, Any]]) -> dict[str, Any]:
        """Connect and disconnect in place (`docker network connect/disconnect`):
        kept in the record, applied now to a running container."""
        self.engine.require_writable(f"connect/disconnect container {ref}")
        before = self.refresh(self.store.get(ref))
        entries = netwishes.wishes(None, networks, None, False)["networks"] if networks else []
        networking.require_networks(self.engine, {"networks": entries})
        with self.store.meta.transaction() as txn:
            after = txn.get(before["id"])
            after["config"]["networks"] = entries
            after["config"]["network_mode"] = entries[0]["name"] if entries else "none"
            txn.put(before["id"], after)
        if after["state"].get("status") == "running":
            state = networking.Networking(self.engine).reconnect(before, after)
            return self.store.update_state(before["id"], **state)
        for entry in before["config"].get("networks") or []:
            if entry not in entries:
                networking.Networking(self.engine).networks.release(entry["name"], before["id"])
        return after

    def update_resources(self, ref: str, raw: dict[str, Any]) -> list[dict[str, str]]:
        """Change limits in place (like `docker update`): written to a running
        container's cgroup now, kept in the record for every later start."""
        self.engine.require_writable(f"update limits of container {ref}")
        record = self.refresh(self.store.get(ref))
        limits.validate(raw)
        with self.store.meta.transaction() as txn:
            current = txn.get(record["id"])
            current["config"]["resources"] = {**current["config"].get("resources", {}), **raw}
            txn.put(record["id"], current)
        if record["state"]["status"] == "running":
            return limits.apply(limits.of(current), current["config"]["resources"])
        return []

    def pause(self, ref: str, paused: bool) -> dict[str, Any]:
        """Freeze or thaw every process of a running container (cgroup freezer),
        through the monitor that watches it (it also stops probing a frozen one)."""
        self.engine.require_writable(f"pause container {ref}")
        record = self.refresh(self.store.get(ref))
        state = lifecycle.of_record(record)
        verb = lifecycle.PAUSE if paused else lifecycle.UNPAUSE
        if not lifecycle.is_noop(state, verb):
            lifecycle.require(state, verb, record["name"])
            self.monitor.ask(Pause(id=record["id"]) if paused else Unpause(id=record["id"]), Ok)
        return self.store.meta.get(record["id"])

    def stats(self, record: dict[str, Any]) -> dict[str, Any] | None:
        if record["state"].get("status") != "running":
            return None
        with contextlib.suppress(BerthError, OSError):
            return limits.stats(limits.of(record))
        return None

    def restore(self) -> list[str]:
        """After a reboot: start containers whose policy says so (always, or
        unless-stopped when no person stopped them)."""
        started = []
        for record in self.list():
            name, _retries = policy.parse(record["config"].get("restart_policy"))
            if record["state"]["status"] not in ("running", "restarting") and policy.restore_wanted(
                    name, record["state"].get("stopped_by_user", False)):
                self.start(record["id"])
                started.append(record["name"])
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


def _still_running(state: dict[str, Any]) -> bool:
    """The container's process is alive: the same pid *and* start time (a
    recycled pid belongs to another process)."""
    from ..runtime.state import start_time

    pid = state.get("pid") or 0
    if not process_alive(pid):
        return False
    return state.get("pid_start") is None or start_time(pid) == state["pid_start"]


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
                         mounts=specs.parse_all(list(spec.volumes), list(spec.mounts), list(spec.tmpfs)))


def _listed(value: tuple[str, ...] | None) -> list[str] | None:
    return None if value is None else list(value)
