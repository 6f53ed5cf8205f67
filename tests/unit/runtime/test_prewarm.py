"""The cgroup-lock warm-up is a no-op move of the runtime itself, or nothing."""

from __future__ import annotations

import os

from ansible_collections.berth.engine.plugins.module_utils.runtime import prewarm


def test_own_procs_file_is_where_this_process_already_is() -> None:
    path = prewarm._own_procs_file()
    if path is None:
        return  # no cgroupfs mounted here: the warm-up is skipped
    assert os.path.exists(path)
    with open(path) as handle:
        assert str(os.getpid()) in handle.read().split()


def test_only_commands_that_move_processes_warm_up(monkeypatch: object) -> None:
    started: list[object] = []
    monkeypatch.setattr(prewarm._thread, "start_new_thread", lambda fn, args: started.append(fn))  # type: ignore[attr-defined]
    prewarm.start(["--root", "/run/x", "state", "c1"])
    prewarm.start(["--log", "l", "create", "--bundle", "b", "c1"])
    assert started == [prewarm._rewrite_own_pid]
    prewarm._rewrite_own_pid()  # a no-op move: must not raise
