"""A container another live operation is still creating: a plan refuses to
plan over it, a listing (ps, logs, a project found by labels) leaves it out."""

from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose import names
from ansible_collections.berth.engine.plugins.module_utils.compose.state import project_facts, project_records
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict


def test_a_container_being_created_is_refused_by_a_plan_and_left_out_of_a_listing(engine: Engine) -> None:
    store = ContainerStore(engine)
    labels = {names.PROJECT: "shop", names.SERVICE: "web", names.NUMBER: "1"}
    with store.meta.transaction() as txn:   # marked creating by this process, which is alive
        store.add(txn, "shop-web-1", {"image": "busybox", "config": {"labels": labels},
                                      "state": {"status": "created"}}, creating=True)
    with pytest.raises(Conflict, match="being created by another berth operation"):
        project_records(engine, "shop")
    assert project_records(engine, "shop", in_flight="skip") == []
    assert project_facts(engine, "shop")["containers"] == []
