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
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..bundle import BundleRequest, write_bundle
from ..crashpoint import crash_point
from ..engine import Engine
from ..errors import AlreadyExists, BerthError, Conflict, InvalidInput, InvalidState, NotFound
from ..fsutil import atomic_write_json
from ..image.store import ImageStore
from . import health, limits, logs, mounting, networking, policy
from .store import ContainerStore

REPLY_POLL = 1.0   # seconds between checks that the monitor is still alive while waiting for its reply
_ERRORS = {cls.kind: cls for cls in (NotFound, AlreadyExists, InvalidInput, InvalidState, Conflict)}


class ContainerService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = ContainerStore(engine)

    # -- create / remove -----------------------------------------------------------
    def create(self, name: str, request: BundleRequest, *, restart_policy: str = "no", auto_remove: bool = False,
               stop_signal: str = "SIGTERM", stop_timeout: int = 10, log_max_size: int = 0,
               log_max_file: int = 1, options: dict[str, Any] | None = None,
               healthcheck: dict[str, Any] | None = None, resources: dict[str, Any] | None = None,
               cgroup_parent: str | None = None, network: dict[str, Any] | None = None) -> dict[str, Any]:
        """A created container (record + bundle). ``options`` are the values the
        task stated, kept for comparing the next run's (see options.py)."""
        policy.parse(restart_policy)
        _signal_number(stop_signal)
        if auto_remove and restart_policy != "no":
            raise InvalidInput("auto_remove conflicts with a restart policy", field="auto_remove",
                               hint="use restart_policy: no with auto_remove, as Docker requires")
        if resources:
            limits.validate(resources)
        image = ImageStore(self.engine).resolve(request.image)
        image_config = json.loads(self.engine.blobs.read_bytes(image.id)).get("config") or {}
        probe = health.from_option(healthcheck)
        if probe is None and healthcheck is None:
            probe = health.from_image(image_config)
        network = network or networking.wishes(None, None, None, False)
        networking.require_networks(self.engine, network)
        request = mounting.prepare(request, image_config)
        config = {**request.as_dict(), **network, "restart_policy": restart_policy, "auto_remove": auto_remove,
                  "healthcheck": probe if health.probe_argv(probe) else None, "resources": resources or {},
                  "cgroup_parent": cgroup_parent,
                  "stop_signal": stop_signal, "stop_timeout": stop_timeout, "log_max_size": log_max_size,
                  "log_max_file": log_max_file}
        made: list[str] = []
        with self.store.meta.transaction() as txn:
            made = mounting.ensure_volumes(self.engine, request.mounts)
            try:
                # marked creating until the bundle is complete: a crash in between
                # leaves a record the next engine call removes (store.remove_half_made)
                record = self.store.add(txn, name, {"image": request.image, "image_id": image.id,
                                                    "config": config, "options": options or {},
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
        record = self.refresh(self.store.get(ref))
        if record["state"]["status"] in ("running", "restarting"):
            if not force:
                raise Conflict(f"container {record['name']} is {record['state']['status']}", field="name",
                               hint="stop it first, or remove with force")
            self.stop(ref, timeout=0)
        else:
            from ..runtime import container as runtime

            with contextlib.suppress(BerthError):   # an init a killed monitor created but never started
                runtime.delete(str(self.store.runtime_root), record["id"], force=True)
        self.store.forget(record["id"])
        networking.release(self.engine, record)
        if volumes:
            mounting.remove_anonymous(self.engine, record)
        return record["id"]

    # -- start / stop ----------------------------------------------------------------
    def start(self, ref: str) -> dict[str, Any]:
        record = self.refresh(self.store.get(ref))
        if record["state"]["status"] == "running":
            return record
        if "creating" in record:
            raise Conflict(f"container {record['name']} is still being created", field="name",
                           hint="wait for the other berth operation to finish, then retry")
        crash_point("container.start.request")
        self._ask({"op": "start", "id": record["id"]})
        return self.store.meta.get(record["id"])

    def stop(self, ref: str, *, timeout: float | None = None) -> dict[str, Any]:
        record = self.refresh(self.store.get(ref))
        config = record["config"]
        wait = config.get("stop_timeout", 10) if timeout is None else timeout
        if record["state"].get("paused") and record["state"]["status"] == "running":
            self.pause(record["id"], False)  # a frozen process cannot act on, or die from, a signal
        if record["state"]["status"] in ("running", "restarting"):
            self._ask({"op": "stop", "id": record["id"], "signal": _signal_number(config.get("stop_signal")),
                       "timeout": wait}, timeout=wait + 60)
        return self.store.meta.find(record["id"]) or record

    # -- reading ---------------------------------------------------------------------
    def refresh(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record, corrected when its process died while no monitor watched it."""
        state = record.get("state", {})
        if state.get("status") == "running" and not _still_running(state) and not self._monitor_alive():
            from ..runtime import container as runtime

            with contextlib.suppress(BerthError):  # what the dead monitor would have cleaned up
                runtime.delete(str(self.store.runtime_root), record["id"], force=True)
            networking.detach(self.engine, record)
            return self.store.update_state(record["id"], status="exited", pid=0, exit_code=state.get("exit_code"),
                                           networks={}, ports=[],
                                           error="the monitor was gone when the container exited; exit code unknown")
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
                self._ask({"op": "wait", "id": record["id"]}, timeout=timeout)
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
        record = self.refresh(self.store.get(ref))
        if record["state"]["status"] != "running":
            raise Conflict(f"container {record['name']} is not running", field="name",
                           hint="start it first (state: started)")
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

    def set_networks(self, ref: str, networks: list[dict[str, Any]]) -> dict[str, Any]:
        """Connect and disconnect in place (`docker network connect/disconnect`):
        kept in the record, applied now to a running container."""
        before = self.refresh(self.store.get(ref))
        entries = networking.wishes(None, networks, None, False)["networks"] if networks else []
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
        """Freeze or thaw every process of a running container (cgroup freezer)."""
        from ..runtime import container as runtime

        record = self.refresh(self.store.get(ref))
        if record["state"]["status"] != "running":
            raise Conflict(f"container {record['name']} is not running", field="paused",
                           hint="start it first; only a running container can be paused")
        if bool(record["state"].get("paused")) != paused:
            runtime.pause(str(self.store.runtime_root), record["id"], paused)
        return self.store.update_state(record["id"], paused=paused)

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
    def _socket_path(self) -> Path:
        return self.engine.layout.run_root / "monitor.sock"

    def _monitor_alive(self) -> bool:
        pid_file = self.engine.layout.run_root / "monitor.pid"
        with contextlib.suppress(OSError, ValueError):
            return _alive(int(pid_file.read_text()))
        return False

    def _ask(self, request: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        for attempt in range(2):
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                    conn.settimeout(timeout)
                    conn.connect(str(self._socket_path))
                    conn.sendall(json.dumps(request).encode() + b"\n")
                    reply = _read_line(conn, time.monotonic() + timeout, self._monitor_alive)
                break
            except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
                if attempt:
                    raise InvalidState("the container monitor does not answer", hint="see `berth monitor --help`"
                                       ) from None
                self._spawn_monitor()
            except TimeoutError:
                if request.get("op") == "wait":
                    raise   # wait() words its own error
                raise InvalidState(f"the container monitor did not finish {request.get('op')!r} within "
                                   f"{timeout:.0f}s", hint=f"see {self.engine.layout.run_root}/monitor.log"
                                   ) from None
        if not reply.get("ok"):
            error = reply.get("error") or {}
            cls = _ERRORS.get(error.get("kind"), InvalidState)
            raise cls(error.get("message", "the monitor failed"), field=error.get("field"), hint=error.get("hint"))
        return reply

    def _spawn_monitor(self) -> None:
        from .fastlane import SPAWNED

        if str(self.engine.layout.run_root) in SPAWNED:   # bin/berth started one already: wait for it
            SPAWNED.discard(str(self.engine.layout.run_root))
            if _connectable_soon(self._socket_path):
                return
        if not self._monitor_alive():
            self._socket_path.unlink(missing_ok=True)  # left by a monitor that was killed
        command = [*_berth_command(), "--state-root", str(self.engine.layout.state_root),
                   "--run-root", str(self.engine.layout.run_root), "monitor"]
        log = open(self.engine.layout.run_root / "monitor.log", "ab")  # noqa: SIM115 - handed to the child
        with log:
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                             close_fds=True, cwd="/")
        if not _connectable_soon(self._socket_path):
            raise InvalidState("the container monitor did not start",
                               hint=f"see {self.engine.layout.run_root}/monitor.log")


def _berth_command() -> list[str]:
    """The berth CLI that runs the monitor: $BERTH_CLI, this checkout's
    bin/berth, else `berth` on PATH (the host role installs it). Modules run
    from a temporary copy of the engine, so the monitor, which outlives them,
    must come from an installed one."""
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


def _connectable_soon(path: Path, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and _connectable(path):
            return True
        time.sleep(0.002)
    return False


def _connectable(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _read_line(conn: socket.socket, deadline: float, monitor_alive: Any) -> dict[str, Any]:
    """One reply line. A monitor killed mid-request may leave the connection
    open (a container init it forked still holds the fd until its execve), so
    the wait polls: a dead monitor reads as a reset connection (the caller
    spawns a new one and asks again), the deadline as TimeoutError."""
    data = b""
    while not data.endswith(b"\n"):
        conn.settimeout(max(0.01, min(REPLY_POLL, deadline - time.monotonic())))
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise
            if not monitor_alive():
                raise ConnectionResetError from None
            continue
        if not chunk:
            raise ConnectionResetError
        data += chunk
    return json.loads(data)


def _still_running(state: dict[str, Any]) -> bool:
    """The container's process is alive: the same pid *and* start time (a
    recycled pid belongs to another process)."""
    from ..runtime.state import start_time

    pid = state.get("pid") or 0
    if not _alive(pid):
        return False
    return state.get("pid_start") is None or start_time(pid) == state["pid_start"]


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


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
