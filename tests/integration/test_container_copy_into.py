"""`container_copy_into` through real ansible-playbook runs against busybox containers: idempotent copies
(check → apply → apply → check) from content and from a host file, a volume honoured, mode and owner
changes, the diff, symlinks in the container that point out of its root (resolved inside it, never on the
host), errors naming the option, and a stopped container written through its writable layer.

The compare/plan logic and the in-root file operations are unit-tested
(tests/unit/containers/test_file_into.py, tests/unit/ansible/test_copy_into_plan.py)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from tests.support.playbook import (
    assert_converges,
    assert_failed_cleanly,
    module_env,
    recorded,
    recording_play,
    run_playbook,
    write_playbook,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/copybox:1"
X = "berth.engine.container_copy_into"
X_BOX = "berth.engine.container"
BOX = {X_BOX: {"name": "box", "image": IMAGE, "volumes": ["copydata:/vol"]}}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from module_env(tmp_path, IMAGE, ImportConfig(cmd=["sleep", "300"]))


def _copy(**options: Any) -> dict[str, Any]:
    return {X: {"container": "box", **options}}


def _sh(script: str) -> dict[str, Any]:
    return {"berth.engine.container_exec": {"container": "box", "argv": ["busybox", "sh", "-c", script]}}


def _play(env: dict[str, Any], tasks: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Run ``tasks`` once (they must not fail) and return their results."""
    result = run_playbook(recording_play(env["dir"], tasks, env["defaults"], name=name))
    assert result.failed == 0, result.output[-4000:]
    return recorded(env["dir"])


def _start(env: dict[str, Any], box: dict[str, Any] | None = None) -> None:
    result = run_playbook(write_playbook(env["dir"], [box or BOX], name="up.yml", module_defaults=env["defaults"]))
    assert result.failed == 0, result.output[-3000:]


def test_converges_from_content_and_a_host_file(env: dict[str, Any]) -> None:
    _start(env)
    local = env["dir"] / "app.ini"
    local.write_text("[app]\nname = berth\n")
    local.chmod(0o640)
    play = write_playbook(env["dir"], [
        _copy(content="hello\n", container_path="/etc/greeting", mode="0644"),
        _copy(path=str(local), container_path="/etc/app.ini", owner_id=65534, group_id=65534),
        _copy(content=base64.b64encode(b"\x00\x01bin").decode(), content_is_b64=True,
              container_path="/vol/blob", mode=0o600),
    ], name="copy.yml", module_defaults=env["defaults"])
    assert_converges(play)
    [shown] = _play(env, [_sh("cat /etc/greeting /etc/app.ini; busybox stat -c '%a %u %g' /etc/greeting "
                              "/etc/app.ini /vol/blob")], "look.yml")
    assert shown["stdout_lines"] == ["hello", "[app]", "name = berth", "644 0 0", "640 65534 65534", "600 0 0"]
    # the volume's data on the host: the write went through the container's mount namespace
    assert (env["dir"] / "state" / "volumes" / "copydata" / "_data" / "blob").read_bytes() == b"\x00\x01bin"


def test_mode_and_owner_changes_and_the_diff(env: dict[str, Any]) -> None:
    _start(env)
    first, again, owner, text = _play(env, [
        _copy(content="one\n", container_path="/tmp/f", mode="0644"),
        _copy(content="one\n", container_path="/tmp/f", mode="0600"),
        _copy(content="one\n", container_path="/tmp/f", mode="0600", owner_id=1000, group_id=1001),
        _copy(content="two\n", container_path="/tmp/f", mode="0600", owner_id=1000, group_id=1001),
    ], "changes.yml")
    assert first["changed"] and first["actions"] == ["write /tmp/f (mode 0644, owner 0:0)"]
    assert first["container_path"] == "/tmp/f" and first["mode"] == "0644" and first["owner_id"] == 0
    assert again["changed"] and [d["option"] for d in again["differences"]] == ["mode"]
    assert owner["changed"] and [d["option"] for d in owner["differences"]] == ["owner_id", "group_id"]
    assert text["changed"] and [d["option"] for d in text["differences"]] == ["content"]
    [stat] = _play(env, [_sh("busybox stat -c '%a %u %g' /tmp/f; cat /tmp/f")], "stat.yml")
    assert stat["stdout_lines"] == ["600 1000 1001", "two"]
    # --diff: the old and new text, as ansible.builtin.copy shows it (from a host file: content is no_log)
    local = env["dir"] / "new.txt"
    local.write_text("three\n")
    check = run_playbook(write_playbook(env["dir"], [_copy(path=str(local), container_path="/tmp/f")],
                                        name="diff.yml", module_defaults=env["defaults"]), check=True, diff=True)
    assert check.failed == 0 and "-two" in check.output and "+three" in check.output, check.output[-3000:]
    [unchanged] = _play(env, [_sh("cat /tmp/f")], "after-check.yml")
    assert unchanged["stdout"] == "two"   # the check run wrote nothing


def test_symlinks_never_leave_the_container(env: dict[str, Any]) -> None:
    _start(env)
    host_dir = env["dir"] / "host-side"
    host_dir.mkdir()
    canary = host_dir / "canary"
    canary.write_text("host\n")
    _play(env, [_sh(f"mkdir -p /data && ln -s {canary} /tmp/abs-file && ln -s {host_dir} /tmp/abs-dir && "
                    "ln -s ../../../../../../../data /tmp/climb && ln -s /data/real /tmp/inside")], "links.yml")
    tasks = [
        {**_copy(content="never written", mode="0644", container_path="/tmp/abs-file", follow=True),
         "ignore_errors": True},
        {**_copy(content="never written", mode="0644", container_path=f"/tmp/abs-dir/{canary.name}"),
         "ignore_errors": True},
        _copy(content="climbed\n", mode="0644", container_path="/tmp/climb/up.txt"),
        _copy(content="followed\n", mode="0644", container_path="/tmp/inside", follow=True),
        _copy(content="replaced\n", mode="0644", container_path="/tmp/abs-file"),
    ]
    escaped, escaped_dir, climbed, followed, replaced = _play(env, tasks, "escape.yml")
    # an absolute link to a host path names that path *in the container*, where its directory is missing
    assert_failed_cleanly(escaped, "container_path", "does not exist in the container")
    assert_failed_cleanly(escaped_dir, "container_path", "does not exist in the container")
    assert canary.read_text() == "host\n" and sorted(p.name for p in host_dir.iterdir()) == ["canary"]
    assert climbed["container_path"] == "/tmp/climb/up.txt" and followed["container_path"] == "/data/real"
    assert replaced["changed"]
    [seen] = _play(env, [_sh("cat /data/up.txt /data/real; test -L /tmp/abs-file || cat /tmp/abs-file; "
                             "test -L /tmp/inside && echo still-a-link")], "seen.yml")
    assert seen["stdout_lines"] == ["climbed", "followed", "replaced", "still-a-link"]


def test_errors_name_the_option(env: dict[str, Any]) -> None:
    _start(env)
    tasks = [
        {X: {"container": "nosuch", "content": "never written", "mode": "0644", "container_path": "/tmp/x"}},
        _copy(content="never written", mode="0644", container_path="/no/such/dir/x"),
        _copy(content="never written", mode="rw-r--r--", container_path="/tmp/x"),
        _copy(content="never written", mode="0644", container_path="relative/x"),
        _copy(content="never written", mode="0644", container_path="/tmp"),
        _copy(path=str(env["dir"] / "missing"), container_path="/tmp/x"),
        _copy(content="%%%", content_is_b64=True, mode="0644", container_path="/tmp/x"),
    ]
    result = run_playbook(recording_play(env["dir"], [{**t, "ignore_errors": True} for t in tasks],
                                         env["defaults"], name="errors.yml"))
    assert result.failed == 0, result.output[-4000:]
    container, parent, mode, relative, directory, local, b64 = recorded(env["dir"])
    assert_failed_cleanly(container, "container", "nosuch")
    assert_failed_cleanly(parent, "container_path", "/no/such/dir does not exist")
    assert_failed_cleanly(mode, "mode", "octal")
    assert_failed_cleanly(relative, "container_path", "absolute")
    assert_failed_cleanly(directory, "container_path", "is a directory")
    assert_failed_cleanly(local, "path", "does not exist on the host")
    assert_failed_cleanly(b64, "content", "base64")


def test_a_stopped_container(env: dict[str, Any]) -> None:
    _start(env, {"berth.engine.container": {**BOX[X_BOX], "state": "stopped"}})
    play = write_playbook(env["dir"], [
        _copy(content="while stopped\n", container_path="/etc/stopped.txt", mode="0640"),
        _copy(content="into a new layer dir\n", container_path="/var/cache/old/b.txt", mode="0644",
              owner_id=7, group_id=8),
    ], name="stopped.yml", module_defaults=env["defaults"])
    assert_converges(play)
    [skipped] = _play(env, [_copy(content="other\n", container_path="/etc/stopped.txt", mode="0640",
                                  ignore_stopped_containers=True)], "skip.yml")
    assert not skipped["changed"] and not skipped["actions"]
    # its volume is mounted only while it runs: a file there would be hidden by the mount
    result = run_playbook(recording_play(env["dir"], [
        {**_copy(content="hidden by the volume\n", container_path="/vol/f", mode="0644"), "ignore_errors": True}],
        env["defaults"], name="hidden.yml"))
    assert result.failed == 0, result.output[-3000:]
    [hidden] = recorded(env["dir"])
    assert_failed_cleanly(hidden, "container_path", "mounted only while container box runs")
    _start(env, BOX)
    [seen] = _play(env, [_sh("cat /etc/stopped.txt; busybox stat -c '%a %u %g' /etc/stopped.txt "
                             "/var/cache/old/b.txt")], "seen.yml")
    assert seen["stdout_lines"] == ["while stopped", "640 0 0", "644 7 8"]
