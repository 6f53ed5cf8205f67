"""The lifecycle state table: every (state, verb) cell of the engine and OCI
tables, the errors and hints, the transitions and the mapping both ways.

The expected cells are read from the tables drawn in the module's docstring,
so the documentation and the code cannot drift apart."""

from __future__ import annotations

import itertools
import os

import pytest

from ansible_collections.berth.engine.plugins.module_utils import lifecycle as lc
from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict, InvalidState

_SYMBOL = {".": lc.ALLOW, "=": lc.NOOP, "F": lc.FORCE, "-": lc.DENY}


def _drawn_table(header: str) -> dict[str, dict[str, str]]:
    """The table under the docstring line whose columns are ``header``."""
    lines = (lc.__doc__ or "").splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == header.split())
    verbs = header.split()
    cells: dict[str, dict[str, str]] = {}
    for line in lines[start + 1:]:
        fields = line.split()
        if not fields:
            break
        state, symbols = fields[0], fields[1:]
        assert len(symbols) == len(verbs), line
        cells[state] = {verb: _SYMBOL[symbol] for verb, symbol in zip(verbs, symbols, strict=True)}
    return cells


ENGINE_DRAWN = _drawn_table(" ".join(lc.VERBS))
OCI_DRAWN = _drawn_table(" ".join(lc.OCI_VERBS))


def test_the_docstring_draws_every_state_and_verb() -> None:
    assert list(ENGINE_DRAWN) == list(lc.STATES)
    assert list(OCI_DRAWN) == list(lc.OCI_STATES)


@pytest.mark.parametrize(("state", "verb"), list(itertools.product(lc.STATES, lc.VERBS)))
def test_engine_cell_matches_the_drawn_table(state: str, verb: str) -> None:
    expected = ENGINE_DRAWN[state][verb]
    assert lc.outcome(state, verb) == expected
    assert lc.allowed(state, verb) is (expected in (lc.ALLOW, lc.NOOP))
    assert lc.allowed(state, verb, force=True) is (expected != lc.DENY)
    assert lc.is_noop(state, verb) is (expected == lc.NOOP)


@pytest.mark.parametrize(("status", "verb"), list(itertools.product(lc.OCI_STATES, lc.OCI_VERBS)))
def test_oci_cell_matches_the_drawn_table(status: str, verb: str) -> None:
    expected = OCI_DRAWN[status][verb]
    assert lc.RUNTIME.outcome(status, verb) == expected
    assert lc.oci_allowed(status, verb) is (expected in (lc.ALLOW, lc.NOOP))
    assert lc.oci_allowed(status, verb, force=True) is (expected != lc.DENY)


@pytest.mark.parametrize(("state", "verb"), list(itertools.product(lc.STATES, lc.VERBS)))
def test_require_agrees_with_allowed(state: str, verb: str) -> None:
    for force in (False, True):
        if lc.allowed(state, verb, force=force):
            lc.require(state, verb, "web", force=force)
            continue
        with pytest.raises((Conflict, InvalidState)) as caught:
            lc.require(state, verb, "web", force=force)
        err = caught.value
        assert err.field == "name"
        assert f"cannot {verb} container web: it is {state}" in err.message
        assert err.hint, f"{state}/{verb} is refused without saying what to do"
        assert err.details == {"state": state, "verb": verb}


@pytest.mark.parametrize(("status", "verb"), list(itertools.product(lc.OCI_STATES, lc.OCI_VERBS)))
def test_oci_require_agrees_with_allowed(status: str, verb: str) -> None:
    for force in (False, True):
        if lc.oci_allowed(status, verb, force=force):
            lc.oci_require(status, verb, "c1", force=force)
            continue
        with pytest.raises(InvalidState) as caught:
            lc.oci_require(status, verb, "c1", force=force)
        assert caught.value.__class__ is InvalidState, "berth-runtime reports InvalidState, never Conflict"
        assert caught.value.field == "container-id"
        assert caught.value.hint


@pytest.mark.parametrize("state", [lc.RUNNING, lc.PAUSED, lc.RESTARTING])
def test_removing_an_active_container_is_a_conflict_that_names_the_way_out(state: str) -> None:
    with pytest.raises(Conflict) as caught:
        lc.require(state, lc.REMOVE, "web")
    assert caught.value.hint == "stop it first, or remove with force"
    lc.require(state, lc.REMOVE, "web", force=True)


def test_a_container_being_created_is_a_conflict_for_every_verb() -> None:
    for verb in lc.VERBS:
        with pytest.raises(Conflict, match="it is creating") as caught:
            lc.require(lc.CREATING, verb, "web")
        assert "wait for the other berth operation" in (caught.value.hint or "")


def test_refusals_of_a_wrong_state_are_invalid_state_not_conflict() -> None:
    with pytest.raises(InvalidState) as caught:
        lc.require(lc.EXITED, lc.EXEC, "web")
    assert caught.value.__class__ is InvalidState
    assert "start it first" in (caught.value.hint or "")
    with pytest.raises(InvalidState, match="cannot exec container web: it is paused") as caught:
        lc.require(lc.PAUSED, lc.EXEC, "web")
    assert "unpause" in (caught.value.hint or "")


def test_oci_start_is_strict_where_the_engine_start_is_idempotent() -> None:
    assert lc.is_noop(lc.RUNNING, lc.START)
    with pytest.raises(InvalidState, match="cannot start container c1: it is running"):
        lc.oci_require(lc.OCI_RUNNING, lc.START, "c1")
    with pytest.raises(InvalidState, match="it is running") as caught:
        lc.oci_require(lc.OCI_RUNNING, lc.DELETE, "c1")
    assert "delete --force" in (caught.value.hint or "")


@pytest.mark.parametrize("state", lc.STATES)
def test_is_active_is_a_live_or_pending_process(state: str) -> None:
    assert lc.is_active(state) is (state in (lc.RUNNING, lc.PAUSED, lc.RESTARTING))


def test_active_containers_are_exactly_those_remove_needs_force_for_besides_creating() -> None:
    needs_force = {s for s in lc.STATES if lc.outcome(s, lc.REMOVE) == lc.FORCE}
    assert needs_force == {s for s in lc.STATES if lc.is_active(s)} | {lc.CREATING}


@pytest.mark.parametrize(("state", "verb", "expected"), [
    (lc.CREATED, lc.START, lc.RUNNING), (lc.EXITED, lc.START, lc.RUNNING), (lc.RESTARTING, lc.START, lc.RUNNING),
    (lc.RUNNING, lc.START, lc.RUNNING), (lc.PAUSED, lc.START, lc.PAUSED),
    (lc.RUNNING, lc.STOP, lc.EXITED), (lc.PAUSED, lc.STOP, lc.EXITED), (lc.RESTARTING, lc.STOP, lc.EXITED),
    (lc.CREATED, lc.STOP, lc.CREATED), (lc.EXITED, lc.STOP, lc.EXITED),
    (lc.RUNNING, lc.KILL, lc.EXITED), (lc.PAUSED, lc.KILL, lc.EXITED),
    (lc.RUNNING, lc.PAUSE, lc.PAUSED), (lc.PAUSED, lc.PAUSE, lc.PAUSED),
    (lc.PAUSED, lc.UNPAUSE, lc.RUNNING), (lc.RUNNING, lc.UNPAUSE, lc.RUNNING),
    (lc.EXITED, lc.RESTART, lc.RUNNING), (lc.PAUSED, lc.RESTART, lc.RUNNING),
    (lc.RUNNING, lc.REMOVE, None), (lc.EXITED, lc.REMOVE, None), (lc.CREATING, lc.REMOVE, None),
    (lc.RUNNING, lc.EXEC, lc.RUNNING), (lc.EXITED, lc.UPDATE, lc.EXITED), (lc.PAUSED, lc.UPDATE, lc.PAUSED),
])
def test_after(state: str, verb: str, expected: str | None) -> None:
    assert lc.after(state, verb) == expected


@pytest.mark.parametrize(("state", "verb"), list(itertools.product(lc.STATES, lc.VERBS)))
def test_after_of_every_cell(state: str, verb: str) -> None:
    if lc.outcome(state, verb) == lc.DENY:
        with pytest.raises(InvalidState, match="not allowed"):
            lc.after(state, verb)
        return
    result = lc.after(state, verb)
    assert result is None or result in lc.STATES
    if lc.is_noop(state, verb) or verb in (lc.EXEC, lc.UPDATE):
        assert result == state


@pytest.mark.parametrize(("state", "status"), [
    (lc.CREATING, "creating"), (lc.CREATED, "created"), (lc.RUNNING, "running"), (lc.PAUSED, "paused"),
    (lc.RESTARTING, "stopped"), (lc.EXITED, "stopped"),
])
def test_oci_status_of_each_engine_state(state: str, status: str) -> None:
    assert lc.oci_status(state) == status


@pytest.mark.parametrize(("status", "paused", "state"), [
    ("creating", False, lc.CREATING), ("created", False, lc.CREATED), ("running", False, lc.RUNNING),
    ("running", True, lc.PAUSED), ("paused", False, lc.PAUSED), ("paused", True, lc.PAUSED),
    ("stopped", False, lc.EXITED), ("stopped", True, lc.EXITED), ("created", True, lc.CREATED),
])
def test_engine_state_from_oci(status: str, paused: bool, state: str) -> None:
    assert lc.from_oci(status, paused) == state


@pytest.mark.parametrize("status", lc.OCI_STATES)
def test_mapping_round_trips_through_oci(status: str) -> None:
    assert lc.oci_status(lc.from_oci(status)) == status


@pytest.mark.parametrize("state", [s for s in lc.STATES if s != lc.RESTARTING])
def test_mapping_round_trips_through_the_engine(state: str) -> None:
    assert lc.from_oci(lc.oci_status(state)) == state


def test_engine_and_runtime_agree_on_what_can_be_signalled_and_frozen() -> None:
    """Where the engine allows a verb that needs the runtime, the runtime's
    table allows its counterpart for the mapped OCI status."""
    counterpart = {lc.KILL: lc.KILL, lc.STOP: lc.KILL, lc.PAUSE: lc.PAUSE, lc.UNPAUSE: lc.RESUME, lc.EXEC: lc.EXEC}
    for state, verb in itertools.product(lc.STATES, counterpart):
        if lc.outcome(state, verb) != lc.ALLOW or state == lc.RESTARTING:
            continue  # restarting: the monitor cancels the pending restart, no runtime call
        status = lc.oci_status(state)
        # stop and kill of a paused container thaw it first, then signal a running one
        if state == lc.PAUSED and verb in (lc.STOP, lc.KILL):
            status = lc.OCI_RUNNING
        assert lc.oci_allowed(status, counterpart[verb]), (state, verb)


@pytest.mark.parametrize(("record", "state"), [
    ({"state": {"status": "created"}}, lc.CREATED),
    ({"state": {"status": "running"}}, lc.RUNNING),
    ({"state": {"status": "running", "paused": False}}, lc.RUNNING),
    ({"state": {"status": "running", "paused": True}}, lc.PAUSED),
    ({"state": {"status": "restarting", "paused": False}}, lc.RESTARTING),
    ({"state": {"status": "exited", "paused": True}}, lc.EXITED),  # a stale flag on a dead container
    ({"state": {"status": "created"}, "creating": {"pid": 1}}, lc.CREATING),
    ({"state": {"status": "paused"}}, lc.PAUSED),
])
def test_of_record(record: dict, state: str) -> None:
    assert lc.of_record(record) == state


@pytest.mark.parametrize("record", [{}, {"state": {}}, {"state": {"status": "dead"}}, {"state": {"status": 3}}])
def test_of_record_refuses_an_unknown_status(record: dict) -> None:
    with pytest.raises(InvalidState, match="unknown status") as caught:
        lc.of_record({"name": "web", **record})
    assert caught.value.field == "state.status"


def test_require_record_names_the_container_and_returns_its_state() -> None:
    running = {"name": "web", "state": {"status": "running", "paused": True}}
    assert lc.require_record(running, lc.UNPAUSE) == lc.PAUSED
    assert lc.is_noop(lc.require_record(running, lc.PAUSE), lc.PAUSE)
    with pytest.raises(Conflict, match="cannot remove container web: it is paused"):
        lc.require_record(running, lc.REMOVE)
    assert lc.require_record(running, lc.REMOVE, force=True) == lc.PAUSED
    with pytest.raises(InvalidState, match="cannot exec container abc: it is exited"):
        lc.require_record({"id": "abc", "state": {"status": "exited"}}, lc.EXEC)


def test_unknown_states_and_verbs_are_errors_not_refusals() -> None:
    for call in (lambda: lc.allowed("dead", lc.START), lambda: lc.allowed(lc.RUNNING, "resume"),
                 lambda: lc.oci_allowed("exited", lc.START), lambda: lc.oci_allowed(lc.OCI_RUNNING, lc.STOP),
                 lambda: lc.is_active("stopped"), lambda: lc.oci_status("stopped"), lambda: lc.from_oci("exited"),
                 lambda: lc.after("dead", lc.START)):
        with pytest.raises(InvalidState, match="unknown"):
            call()


def test_the_module_stays_lean() -> None:
    """berth-runtime imports it on every command: stdlib only, no typing."""
    import subprocess
    import sys

    code = ("import sys; import ansible_collections.berth.engine.plugins.module_utils.lifecycle; "
            "print('typing' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "False", "lifecycle must not import typing at run time"
