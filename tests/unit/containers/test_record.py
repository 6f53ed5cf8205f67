"""ContainerRecord: ``to_dict`` writes back exactly what ``load`` reads (for
today's documents and for legacy ones written before specs), and the store's
typed reads hand out records, not documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.containers import options
from ansible_collections.berth.engine.plugins.module_utils.containers.monitor_host import facts_of
from ansible_collections.berth.engine.plugins.module_utils.containers.record import ContainerRecord, ContainerState
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidState, NotFound

IMAGE = "localhost/record-test:1"
RUNNING_STATE = {"status": "running", "pid": 4242, "pid_start": 98765, "started_at": "2026-01-02T03:04:05Z",
                 "finished_at": None, "exit_code": None, "oom_killed": False, "stopped_by_user": False,
                 "error": None, "paused": False, "restart_count": 2,
                 "health": {"status": "starting", "failing_streak": 0, "log": []},
                 "networks": {"bridge": {"network_id": "n1", "ip": "10.88.0.2", "prefix": 16, "ifname": "eth0",
                                         "host_if": "bv1", "aliases": [], "default": True}},
                 "ports": [{"host_ip": "0.0.0.0", "host_port": 8080, "container_port": 80, "proto": "tcp"}]}


def new_document(**state: Any) -> dict[str, Any]:
    """A record as ContainerService.create writes it (then the monitor's state)."""
    spec = options.build_spec(IMAGE, {"env": {"MODE": "a"}, "published_ports": ["8080:80"],
                                      "restart_policy": "always"})
    return {"id": "a" * 64, "name": "web", "image": IMAGE, "image_id": "sha256:" + "b" * 64,
            "config": {"env": ["MODE=a"], "network_mode": "bridge", "networks": [{"name": "bridge"}],
                       "restart_policy": "always", "cgroup_path": "berth-" + "a" * 64},
            "spec": spec.to_dict(), "stated": ["env", "published_ports", "restart_policy"],
            "state": {"status": "created", "restart_count": 0, **state}, "created": "2026-01-01T00:00:00Z"}


def legacy_document() -> dict[str, Any]:
    """A record written before specs: ``options`` (as the task gave them) and the bundle ``config``."""
    return {"id": "c" * 64, "name": "old", "image": IMAGE, "image_id": "sha256:" + "d" * 64,
            "options": {"env": {"MODE": "b"}, "restart_policy": "unless-stopped"},
            "config": {"env": {"MODE": "b"}, "restart_policy": "unless-stopped", "network_mode": "bridge",
                       "networks": [{"name": "bridge", "aliases": ["db", "a"]}], "read_only": True},
            "state": {"status": "exited", "exit_code": 3}}


@pytest.mark.parametrize("document", [new_document(), new_document(**RUNNING_STATE), legacy_document(),
                                      {**new_document(), "creating": {"pid": 7, "pid_start": 8}}],
                         ids=["created", "running", "legacy", "half-made"])
def test_load_of_to_dict_is_the_same_record(document: dict[str, Any]) -> None:
    record = ContainerRecord.load(document)
    written = record.to_dict()
    assert ContainerRecord.load(written) == record
    assert ContainerRecord.load(json.loads(json.dumps(written))) == record   # as the store keeps it
    assert written["spec"]["image"] == IMAGE and "options" not in written


def test_a_legacy_record_loads_typed() -> None:
    record = ContainerRecord.load(legacy_document())
    assert record.stated == ("env", "restart_policy")
    assert record.spec.env == {"MODE": "b"} and record.spec.read_only
    assert record.state == ContainerState(status="exited", exit_code=3)
    assert record.lifecycle == "exited" and not record.running


def test_state_fields_are_read_typed() -> None:
    record = ContainerRecord.load(new_document(**{**RUNNING_STATE, "paused": True}))
    assert record.state.pid == 4242 and record.state.pid_start == 98765 and record.state.restart_count == 2
    assert record.state.networks["bridge"]["ip"] == "10.88.0.2"
    assert record.state.ports[0]["host_port"] == 8080
    assert record.running and record.lifecycle == "paused"
    assert ContainerRecord.load({**new_document(), "creating": {"pid": 1}}).lifecycle == "creating"
    with pytest.raises(InvalidState):
        assert ContainerRecord.load(new_document(status="sleepy")).lifecycle is None  # the property raises


def test_facts_of_a_record_and_of_its_document_agree() -> None:
    document = new_document(**RUNNING_STATE)
    typed, loaded = facts_of(ContainerRecord.load(document)), facts_of(document)
    assert typed == loaded
    assert typed.state == "running" and typed.restart_policy == "always" and typed.pid == 4242
    assert isinstance(loaded.record, ContainerRecord)


def test_the_store_reads_records_typed(tmp_path: Path) -> None:
    store = ContainerStore(Engine.open(tmp_path / "state", tmp_path / "run"))
    document = new_document()
    with store.meta.transaction() as txn:
        made = store.add(txn, "web", {k: v for k, v in document.items() if k not in ("id", "name", "created")})
    record = store.record("web")
    assert isinstance(record, ContainerRecord) and record.id == made["id"] and record.created == made["created"]
    assert store.record(made["id"][:6]) == record == store.by_id(made["id"]) == store.find_record(made["id"])
    assert store.records() == [record]
    assert store.get("web") == made   # the document itself, unchanged, for inspect
    assert store.find_record("nope") is None and store.by_id("0" * 64) is None
    with pytest.raises(NotFound):
        store.record("nope")
