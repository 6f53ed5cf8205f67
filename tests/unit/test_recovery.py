"""The domains' crash-recovery steps (recovery.py): how they run, who
registers them, and that a half-made container's addresses and volumes are
given back by the step, not by the record store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils import recovery
from ansible_collections.berth.engine.plugins.module_utils.containers import mounting, networking, removal
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image import collect


def test_steps_run_by_phase_then_in_registration_order(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    monkeypatch.setattr(recovery, "_STEPS", {})
    ran: list[tuple[str, bool | None]] = []

    def step(name: str) -> Any:
        def run(seen: Engine, sweep: bool | None) -> dict[str, int]:
            assert seen is engine
            ran.append((name, sweep))
            return {name: len(ran)}
        return run

    recovery.register("sweep", step("sweep"), phase=recovery.CONTENT)
    recovery.register("first records", step("first records"), phase=recovery.RECORDS)
    recovery.register("second records", step("second records"), phase=recovery.RECORDS)
    removed = engine.recover(sweep=True)
    assert ran == [("first records", True), ("second records", True), ("sweep", True)]
    assert removed == {"ingest": 0, "snapshots": 0, "first records": 1, "second records": 2, "sweep": 3}


def test_registering_a_name_again_replaces_its_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery, "_STEPS", {})
    recovery.register("x", lambda _engine, _sweep: {"old": 1}, phase=recovery.RECORDS)
    recovery.register("x", lambda _engine, _sweep: {"new": 1}, phase=recovery.RECORDS)
    assert recovery.run_steps(None, None) == {"new": 1}


def test_a_step_that_registers_another_does_not_upset_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery, "_STEPS", {})

    def importing(_engine: Any, _sweep: bool | None) -> dict[str, int]:
        recovery.register("late", lambda _e, _s: {"late": 1}, phase=recovery.CONTENT)   # as a lazy import does
        return {"first": 1}

    recovery.register("first", importing, phase=recovery.RECORDS)
    assert recovery.run_steps(None, None) == {"first": 1}      # the late one runs from the next recover
    assert recovery.run_steps(None, None) == {"first": 1, "late": 1}


def test_the_domains_register_their_steps_on_import() -> None:
    steps = {step.name: step.phase for step in recovery.steps()}
    assert steps["half-made containers"] == recovery.RECORDS   # containers/removal.py
    assert steps["unreferenced content"] == recovery.CONTENT   # image/collect.py
    assert collect.sweep and removal.remove_half_made


def test_the_sweep_step_runs_when_pending_asked_and_never_when_refused(engine: Engine) -> None:
    assert "unreferenced_blobs" not in engine.recover()       # nothing pending
    assert engine.recover(sweep=True)["unreferenced_blobs"] == 0
    engine.layout.mark_gc_pending()
    assert "unreferenced_blobs" not in engine.recover(sweep=False)
    assert engine.layout.gc_pending.exists()
    assert engine.recover()["unreferenced_blobs"] == 0
    assert not engine.layout.gc_pending.exists()


def _half_made(engine: Engine) -> dict[str, Any]:
    """A container record whose creator died before its bundle was complete,
    holding an address and an anonymous volume."""
    store = ContainerStore(engine)
    config = {"networks": [{"name": "shop"}], "mounts": [{"type": "volume", "source": "anon1", "anonymous": True,
                                                          "destination": "/data"}]}
    with store.meta.transaction() as txn:
        record = store.add(txn, "half", {"config": config, "state": {"status": "created"}}, creating=True)
    dead = {"pid": 2 ** 22 + 1, "pid_start": 1}   # above pid_max: no such process
    with store.meta.transaction() as txn:
        txn.put(record["id"], {**txn.get(record["id"]), "creating": dead})
    (store.creating_dir / record["id"]).write_text(json.dumps(dead))
    store.make_directory(record["id"])
    return record


@pytest.fixture
def given_back(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(networking, "release", lambda _engine, record: calls.append(("addresses", record.name)))
    monkeypatch.setattr(mounting, "remove_anonymous",
                        lambda _engine, record: calls.append(("volumes", record.name)) or [])
    return calls


def test_the_store_drops_a_half_made_record_and_gives_back_nothing(engine: Engine,
                                                                   given_back: list[tuple[str, str]]) -> None:
    record = _half_made(engine)
    dropped = ContainerStore(engine).drop_half_made()
    assert [r.id for r in dropped] == [record["id"]] and given_back == []
    assert not ContainerStore(engine).directory(record["id"]).exists()


def test_recovery_gives_back_a_half_made_containers_addresses_and_volumes(engine: Engine,
                                                                          given_back: list[tuple[str, str]]) -> None:
    record = _half_made(engine)
    assert engine.recover()["containers"] == 1
    assert given_back == [("addresses", "half"), ("volumes", "half")]
    assert ContainerStore(engine).meta.find(record["id"]) is None
    assert engine.recover()["containers"] == 0 and len(given_back) == 2


def test_a_failure_to_give_back_does_not_stop_the_recovery(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.errors import NotFound

    def missing(_engine: Engine, _record: dict[str, Any]) -> None:
        raise NotFound("network shop does not exist")

    monkeypatch.setattr(networking, "release", missing)
    monkeypatch.setattr(mounting, "remove_anonymous", lambda _engine, _record: [])
    _half_made(engine)
    assert engine.recover()["containers"] == 1


def test_every_modules_engine_removes_a_half_made_container(tmp_path: Path) -> None:
    """The module glue registers the containers' step: a volume or network
    task's engine removes a half-made container though it imports no container code."""
    script = textwrap.dedent("""
        import sys
        from types import SimpleNamespace
        from ansible_collections.berth.engine.plugins.module_utils import recovery
        from ansible_collections.berth.engine.plugins.module_utils.ansible import glue as module_glue
        assert "half-made containers" not in [s.name for s in recovery.steps()], "imported already"
        engine = module_glue.open_engine(SimpleNamespace(state_root=sys.argv[1], run_root=sys.argv[2]))
        print(engine.metadata("containers").list())
    """)
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    _half_made(engine)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "state"), str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
