"""Bad bundles get an error naming the field and the fix, and leave nothing:
no state dir, no cgroup, no mounts, no processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.runtime import DELETE, berth, berth_detached, container_leaks, make_rootfs, mounts_under, runc_spec

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_rootfs(tmp_path_factory.mktemp("bad-rootfs"))
    (root / "bin" / "notexec").write_text("#!/bin/sh\necho never\n")
    (root / "bin" / "notexec").chmod(0o644)
    return root


CASES = {
    "missing-root": ({"root": DELETE}, "root"),
    "root-not-there": ({"root.path": "/nonexistent/rootfs"}, "root.path"),
    "relative-cwd": ({"process.cwd": "tmp"}, "process.cwd"),
    "empty-args": ({"process.args": []}, "process.args"),
    "unknown-namespace": ({"linux.namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "bogus"}]},
                          "linux.namespaces"),
    "no-mount-namespace": ({"linux.namespaces": [{"type": "pid"}]}, "linux.namespaces"),
    "bad-uid": ({"process.user": {"uid": "root", "gid": 0}}, "process.user"),
    "host-sysctl": ({"linux.sysctl": {"kernel.pid_max": "100000"}}, "linux.sysctl"),
    "userns-without-maps": ({"linux.namespaces": [{"type": "mount"}, {"type": "user"}]}, "linux.uidMappings"),
    "terminal-without-socket": ({"process.terminal": True}, "process.terminal"),
    "bad-rlimit": ({"process.rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]}, "process.rlimits"),
    "unknown-mount-option": ({"mounts": [{"destination": "/x", "type": "tmpfs", "source": "tmpfs",
                                          "options": ["bogus-flag"]}]}, "mounts"),
    "missing-bind-source": ({"mounts": [{"destination": "/x", "type": "bind", "source": "/nonexistent",
                                         "options": ["rbind"]}]}, "mounts"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_config_is_refused_with_the_field(tmp_path: Path, rootfs: Path, case: str) -> None:
    changes, field = CASES[case]
    root, cid = tmp_path / "root", f"berth-rt-bad-{case}"
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, ["true"], **changes)
    result = berth_detached(root, "create", "--bundle", str(bundle), cid, logs=tmp_path / "logs")
    assert result.returncode != 0
    assert field in result.stderr, result.stderr
    assert "(" in result.stderr, f"no hint on how to fix it: {result.stderr}"
    assert berth(root, "state", cid).returncode != 0
    assert not container_leaks(cid, root) and not mounts_under(tmp_path)


def test_config_that_is_not_json(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text("{not json")
    result = berth(tmp_path / "root", "run", "--bundle", str(bundle), "berth-rt-notjson")
    assert result.returncode != 0 and "config.json" in result.stderr
    assert not container_leaks("berth-rt-notjson", tmp_path / "root")


def test_missing_config(tmp_path: Path) -> None:
    result = berth(tmp_path / "root", "run", "--bundle", str(tmp_path), "berth-rt-noconfig")
    assert result.returncode != 0 and "config.json" in result.stderr and "berth-runtime spec" in result.stderr


@pytest.mark.parametrize(("args", "code", "text"), [
    (["nosuchcmd"], 127, 'exec: "nosuchcmd": executable file not found in $PATH'),
    (["/bin/nosuch"], 127, "no such file or directory"),
    (["/bin/notexec"], 126, "permission denied"),
])
def test_command_not_runnable(tmp_path: Path, rootfs: Path, args: list[str], code: int, text: str) -> None:
    root, cid = tmp_path / "root", "berth-rt-notfound"
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, args)
    result = berth(root, "run", "--bundle", str(bundle), cid)
    assert result.returncode == code
    assert text in result.stderr.lower() or text in result.stderr, result.stderr
    assert "process.args" in result.stderr
    assert not container_leaks(cid, root) and not mounts_under(tmp_path)


def test_bad_ids_and_duplicates(tmp_path: Path, rootfs: Path) -> None:
    root = tmp_path / "root"
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, ["sleep", "30"])
    for bad in ("../escape", "a/b", "", "x" * 1025):
        result = berth(root, "state", bad)
        assert result.returncode != 0 and "container-id" in result.stderr
    cid = "berth-rt-dup"
    assert berth_detached(root, "create", "--bundle", str(bundle), cid, logs=tmp_path / "l1").returncode == 0
    try:
        again = berth_detached(root, "create", "--bundle", str(bundle), cid, logs=tmp_path / "l2")
        assert again.returncode != 0 and "already exists" in again.stderr
        assert json.loads(berth(root, "state", cid).stdout)["status"] == "created", "the first one is untouched"
    finally:
        assert berth(root, "delete", "--force", cid).returncode == 0
    assert not container_leaks(cid, root)


def test_unknown_signal(tmp_path: Path) -> None:
    result = berth(tmp_path / "root", "kill", "whatever", "SIGBOGUS")
    assert result.returncode != 0
