"""berth-runtime's lifecycle on the real kernel: create (blocked until start),
start, state (valid against the runtime-spec state schema), exec, ps, pause,
kill, delete, hooks — and nothing left behind, even after `kill -9`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.support.runtime import (
    BERTH_RUNTIME,
    berth,
    berth_detached,
    container_leaks,
    make_rootfs,
    mounts_under,
    runc_spec,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

# The runtime-spec's state schema (schema/state-schema.json), restated.
STATE_SCHEMA = {
    "type": "object",
    "required": ["ociVersion", "id", "status", "bundle"],
    "properties": {
        "ociVersion": {"type": "string", "pattern": r"^[0-9]+\.[0-9]+\.[0-9]+(-.+)?$"},
        "id": {"type": "string"},
        "status": {"type": "string", "enum": ["creating", "created", "running", "stopped"]},
        "pid": {"type": "integer", "minimum": 0},
        "bundle": {"type": "string"},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rootfs(tmp_path_factory.mktemp("lifecycle-rootfs"))


def _state(root: Path, cid: str, *, validate: bool = True) -> dict:
    result = berth(root, "state", cid)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    if validate:
        jsonschema.validate(document, STATE_SCHEMA)
    return document


def _bundle(tmp_path: Path, rootfs: Path, args: list[str], **changes: object) -> Path:
    bundle = tmp_path / "bundle"
    shared = tmp_path / "shared"
    shared.mkdir(exist_ok=True)
    config = runc_spec(bundle, rootfs, args, **changes)
    config["mounts"].append({"destination": "/shared", "type": "bind", "source": str(shared),
                             "options": ["rbind", "rw"]})
    write_config(bundle, config)
    return bundle


def test_create_start_state_exec_pause_kill_delete(tmp_path: Path, rootfs: Path) -> None:
    root, cid = tmp_path / "root", "berth-rt-life"
    bundle = _bundle(tmp_path, rootfs, ["sh", "-c", "echo started > /shared/marker; exec sleep 300"],
                     **{"annotations": {"org.example/purpose": "test"}})
    created = berth_detached(root, "create", "--bundle", str(bundle), "--pid-file", str(tmp_path / "pid"), cid,
                             logs=tmp_path / "logs")
    assert created.returncode == 0, created.stderr
    state = _state(root, cid)
    assert state["status"] == "created" and state["id"] == cid and state["bundle"] == str(bundle)
    assert state["annotations"] == {"org.example/purpose": "test"}
    assert int((tmp_path / "pid").read_text()) == state["pid"]
    assert not (tmp_path / "shared" / "marker").exists(), "the process ran before start"

    assert berth(root, "start", cid).returncode == 0
    assert wait_for((tmp_path / "shared" / "marker").exists)
    assert _state(root, cid)["status"] == "running"
    assert berth(root, "start", cid).returncode != 0, "a running container cannot start again"

    listed = berth(root, "exec", cid, "cat", "/proc/1/comm", "/proc/self/comm")
    assert listed.returncode == 0 and listed.stdout.split() == ["sleep", "cat"], "exec joins the pid namespace"
    assert berth(root, "exec", cid, "sh", "-c", "exit 7").returncode == 7
    detached = berth_detached(root, "exec", "--detach", "--pid-file", str(tmp_path / "exec.pid"), cid, "sleep", "1",
                              logs=tmp_path / "exec-logs")
    assert detached.returncode == 0 and int((tmp_path / "exec.pid").read_text()) > 0
    processes = json.loads(berth(root, "ps", "--format", "json", cid).stdout)
    assert state["pid"] in processes

    assert berth(root, "pause", cid).returncode == 0
    assert _state(root, cid, validate=False)["status"] == "paused"   # runc's extension of the spec
    assert berth(root, "resume", cid).returncode == 0
    assert _state(root, cid)["status"] == "running"

    assert berth(root, "delete", cid).returncode != 0, "delete refuses a running container"
    assert berth(root, "kill", cid, "KILL").returncode == 0
    assert wait_for(lambda: _state(root, cid)["status"] == "stopped")
    assert berth(root, "delete", cid).returncode == 0
    assert berth(root, "state", cid).returncode != 0
    assert not container_leaks(cid, root) and not mounts_under(tmp_path)


def test_run_detached_and_list(tmp_path: Path, rootfs: Path) -> None:
    root, cid = tmp_path / "root", "berth-rt-detached"
    bundle = _bundle(tmp_path, rootfs, ["sleep", "300"])
    assert berth_detached(root, "run", "--detach", "--bundle", str(bundle), cid, logs=tmp_path / "logs").returncode == 0
    listing = json.loads(berth(root, "list", "--format", "json").stdout)
    assert [(c["id"], c["status"]) for c in listing] == [(cid, "running")]
    assert berth(root, "delete", "--force", cid).returncode == 0
    assert not container_leaks(cid, root)


def test_exit_code_of_run_is_the_containers(tmp_path: Path, rootfs: Path) -> None:
    root = tmp_path / "root"
    bundle = _bundle(tmp_path, rootfs, ["sh", "-c", "echo out; echo err >&2; exit 42"])
    result = berth(root, "run", "--bundle", str(bundle), "berth-rt-exit")
    assert (result.returncode, result.stdout, result.stderr) == (42, "out\n", "err\n")
    assert not container_leaks("berth-rt-exit", root)


def test_kill_9_of_the_init_then_delete(tmp_path: Path, rootfs: Path) -> None:
    root, cid = tmp_path / "root", "berth-rt-k9init"
    bundle = _bundle(tmp_path, rootfs, ["sleep", "300"])
    assert berth_detached(root, "create", "--bundle", str(bundle), cid, logs=tmp_path / "logs").returncode == 0
    pid = _state(root, cid)["pid"]
    os.kill(pid, signal.SIGKILL)          # the blocked init, before start
    assert wait_for(lambda: _state(root, cid)["status"] == "stopped")
    assert berth(root, "delete", cid).returncode == 0
    assert not container_leaks(cid, root) and not mounts_under(tmp_path)


def test_kill_9_of_the_runtime_leaves_a_container_delete_can_remove(tmp_path: Path, rootfs: Path) -> None:
    root, cid = tmp_path / "root", "berth-rt-k9run"
    bundle = _bundle(tmp_path, rootfs, ["sleep", "300"])
    runner = subprocess.Popen([*BERTH_RUNTIME, "--root", str(root), "run", "--bundle", str(bundle), cid])
    try:
        assert wait_for(lambda: berth(root, "state", cid).returncode == 0
                        and _state(root, cid)["status"] == "running")
        pid = _state(root, cid)["pid"]
        runner.kill()
        runner.wait()
        assert os.path.exists(f"/proc/{pid}"), "like runc: the container outlives its runtime process"
        assert berth(root, "delete", "--force", cid).returncode == 0
        assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"))
    finally:
        runner.kill()
        berth(root, "delete", "--force", cid)
    assert not container_leaks(cid, root) and not mounts_under(tmp_path)


def test_hooks_see_the_state_on_stdin(tmp_path: Path, rootfs: Path) -> None:
    root, cid = tmp_path / "root", "berth-rt-hooks"
    log = tmp_path / "hooks.log"
    bundle = _bundle(tmp_path, rootfs, ["true"])
    config = json.loads((bundle / "config.json").read_text())

    def hook(kind: str) -> list[dict]:
        script = f'read -r line; echo "{kind} $line" >> {log}'
        return [{"path": "/bin/sh", "args": ["sh", "-c", script]}]

    config["hooks"] = {kind: hook(kind) for kind in ("createRuntime", "prestart", "poststart", "poststop")}
    write_config(bundle, config)
    result = berth(root, "run", "--bundle", str(bundle), cid)
    assert result.returncode == 0, result.stderr
    seen = {}
    for line in log.read_text().splitlines():
        kind, _sep, payload = line.partition(" ")
        seen[kind] = json.loads(payload)
        jsonschema.validate(seen[kind], STATE_SCHEMA)
        assert seen[kind]["id"] == cid and seen[kind]["bundle"] == str(bundle)
    assert seen["createRuntime"]["status"] == "creating"
    assert seen["poststart"]["status"] == "running"
    assert seen["poststop"]["status"] == "stopped"
    assert set(seen) == {"createRuntime", "prestart", "poststart", "poststop"}
    assert not container_leaks(cid, root)


def test_failing_prestart_hook_aborts_and_cleans_up(tmp_path: Path, rootfs: Path) -> None:
    root, cid = tmp_path / "root", "berth-rt-badhook"
    bundle = _bundle(tmp_path, rootfs, ["true"])
    config = json.loads((bundle / "config.json").read_text())
    config["hooks"] = {"prestart": [{"path": "/bin/false"}]}
    write_config(bundle, config)
    result = berth_detached(root, "create", "--bundle", str(bundle), cid, logs=tmp_path / "logs")
    assert result.returncode != 0 and "hooks.prestart[0]" in result.stderr
    assert not container_leaks(cid, root) and not mounts_under(tmp_path)


def test_console_socket_gets_the_pty(tmp_path: Path, rootfs: Path) -> None:
    """process.terminal: the pty master is sent over --console-socket, as conmon expects."""
    import array
    import socket

    root, cid = tmp_path / "root", "berth-rt-tty"
    bundle = _bundle(tmp_path, rootfs, ["sh", "-c", "tty; echo done"], **{"process.terminal": True})
    path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    runner = subprocess.Popen([*BERTH_RUNTIME, "--root", str(root), "run", "--console-socket", path,
                               "--bundle", str(bundle), cid])
    try:
        server.settimeout(20)
        conn, _addr = server.accept()
        fds = array.array("i")
        _msg, ancdata, _flags, _addr = conn.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
        fds.frombytes(ancdata[0][2][:fds.itemsize])
        master = fds[0]
        output = b""
        while b"done" not in output:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        assert runner.wait(timeout=20) == 0
        assert b"/dev/pts/0" in output and b"done" in output
        os.close(master)
        conn.close()
    finally:
        server.close()
        runner.kill()
        berth(root, "delete", "--force", cid)
    assert not container_leaks(cid, root)


def test_resources_reach_the_cgroup_and_update_changes_them(tmp_path: Path, rootfs: Path) -> None:
    """linux.resources go through the cgroup drivers (v1 or v2, whatever the
    host has); the container sees its own cgroup at the root of its namespace."""
    root, cid = tmp_path / "root", "berth-rt-limits"
    read = ("for f in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes "
            "/sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max; do [ -f $f ] && cat $f; done")
    bundle = _bundle(tmp_path, rootfs, ["sleep", "300"])
    config = json.loads((bundle / "config.json").read_text())
    config["linux"]["resources"] = {**config["linux"].get("resources", {}),
                                    "memory": {"limit": 64 * 1024 * 1024}, "pids": {"limit": 32}}
    write_config(bundle, config)
    assert berth_detached(root, "run", "--detach", "--bundle", str(bundle), cid, logs=tmp_path / "logs").returncode == 0
    try:
        seen = berth(root, "exec", cid, "sh", "-c", read)
        assert seen.stdout.split() == [str(64 * 1024 * 1024), "32"], seen.stderr
        update = tmp_path / "update.json"
        update.write_text(json.dumps({"memory": {"limit": 128 * 1024 * 1024}, "pids": {"limit": 64}}))
        assert berth(root, "update", "--resources", str(update), cid).returncode == 0
        assert berth(root, "exec", cid, "sh", "-c", read).stdout.split() == [str(128 * 1024 * 1024), "64"]
    finally:
        berth(root, "delete", "--force", cid)
    assert not container_leaks(cid, root)
