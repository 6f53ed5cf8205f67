"""The container lifecycle as one state table (shared/ANCHORS.md #6).

Two vocabularies describe a container, and this module is the only place
that relates them:

* the **engine state**, kept in the container's record (``state.status`` plus
  the ``paused`` flag, and the ``creating`` marker of a half-made record);
* the **OCI status** the runtime (berth-runtime, runc) reports: ``creating``,
  ``created``, ``running``, ``stopped`` and runc's ``paused``.

Engine states::

    creating    another berth operation is still building the record/bundle
    created     the bundle exists; nothing has run yet
    running     the monitor watches a live init
    paused      running, with every process frozen (cgroup freezer)
    restarting  the process exited and the restart policy will run it again
                after a back-off; the monitor owns it, no process is live
    exited      the process ended (or was never restarted); the bundle stays

There is no ``removing`` (or Docker's ``dead``) state: a remove deletes the
record in one store transaction, so no one ever reads a record mid-removal,
and a remove that crashes leaves the record in the state it had, to be
removed again.

Verbs and what they do in each state (``.`` allowed, ``=`` allowed and
nothing to do (the state already is what the verb asks for), ``F`` only
with force, ``-`` refused with a hint)::

                start stop kill pause unpause restart remove exec update
    creating      -    -    -     -      -       -      F     -     -
    created       .    =    -     -      -       .      .     -     .
    running       =    .    .     .      =       .      F     .     .
    paused        =    .    .     =      .       .      F     -     .
    restarting    .    .    -     -      -       .      F     -     .
    exited        .    =    -     -      -       .      .     -     .

``start`` of a paused container is "already started" (its process is live;
``unpause`` thaws it); ``start`` of a restarting one starts it now instead
of after the back-off. ``stop``/``kill`` of a paused container thaw it first
(a frozen process cannot act on a signal). Force on ``remove`` stops a live
container first; on a ``creating`` one it drops the record of a create whose
process crashed.

Transitions made by the verbs (``after``)::

    start, restart, unpause -> running      pause -> paused
    stop, kill              -> exited (restarting if the policy restarts it)
    remove                  -> gone         exec, update -> unchanged

and by events the monitor sees: a process exit moves running/paused to
exited, or to restarting when the restart policy says so; the back-off's end
moves restarting to running.

The runtime's side is the OCI table (runtime verbs ``start kill pause resume
delete exec update``), checked by berth-runtime's commands::

                start kill pause resume delete exec update
    creating      -    -     -     -      F     -     -
    created       .    .     -     -      .     .     .
    running       -    .     .     -      F     .     .
    paused        -    .     -     .      F     -     .
    stopped       -    -     -     -      .     -     .

OCI ``start`` is strict (the spec: starting a container that is not created
is an error); the engine's verbs are idempotent, as Docker's are.

Mapping: engine created is OCI created (no runtime container yet, or the
runtime's init blocked until start); running and paused map one to one;
restarting and exited are OCI stopped. Back from OCI: stopped is exited,
running with the record's paused flag (or OCI paused) is paused.

Standard library only, no typing at run time: berth-runtime imports it on
every command.
"""

from __future__ import annotations

from .errors import Conflict, InvalidState

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# -- engine states ----------------------------------------------------------------------
CREATING = "creating"
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
RESTARTING = "restarting"
EXITED = "exited"
STATES = (CREATING, CREATED, RUNNING, PAUSED, RESTARTING, EXITED)
ACTIVE = frozenset((RUNNING, PAUSED, RESTARTING))

# -- engine verbs -----------------------------------------------------------------------
START = "start"
STOP = "stop"
KILL = "kill"
PAUSE = "pause"
UNPAUSE = "unpause"
RESTART = "restart"
REMOVE = "remove"
EXEC = "exec"
UPDATE = "update"
VERBS = (START, STOP, KILL, PAUSE, UNPAUSE, RESTART, REMOVE, EXEC, UPDATE)

# -- OCI statuses and runtime verbs ---------------------------------------------------------
OCI_CREATING = "creating"
OCI_CREATED = "created"
OCI_RUNNING = "running"
OCI_PAUSED = "paused"
OCI_STOPPED = "stopped"
OCI_STATES = (OCI_CREATING, OCI_CREATED, OCI_RUNNING, OCI_PAUSED, OCI_STOPPED)
RESUME = "resume"
DELETE = "delete"
OCI_VERBS = (START, KILL, PAUSE, RESUME, DELETE, EXEC, UPDATE)

# -- outcomes of a (state, verb) cell ----------------------------------------------------------
ALLOW = "allow"
NOOP = "noop"      # allowed; the state already is what the verb asks for
FORCE = "force"    # allowed only with force (the container is in use)
DENY = "deny"

_WAIT = "wait for the other berth operation to finish, then retry"
_START_FIRST = "start it first (state: started)"
_NOT_LIVE = "it has no process to signal; start it first"
_WAIT_RESTART = "it is between restarts; wait until it runs, or stop it"
_STOP_FIRST = "stop it first, or remove with force"

# state -> verb -> (outcome, hint shown when refused or force is missing)
_ENGINE: dict[str, dict[str, tuple[str, str]]] = {
    CREATING: {START: (DENY, _WAIT), STOP: (DENY, _WAIT), KILL: (DENY, _WAIT), PAUSE: (DENY, _WAIT),
               UNPAUSE: (DENY, _WAIT), RESTART: (DENY, _WAIT), EXEC: (DENY, _WAIT), UPDATE: (DENY, _WAIT),
               REMOVE: (FORCE, f"{_WAIT}; force removes the record of a create that crashed")},
    CREATED: {START: (ALLOW, ""), STOP: (NOOP, ""), KILL: (DENY, _NOT_LIVE),
              PAUSE: (DENY, f"{_START_FIRST}; only a running container can be paused"),
              UNPAUSE: (DENY, "it is not paused"), RESTART: (ALLOW, ""), REMOVE: (ALLOW, ""),
              EXEC: (DENY, _START_FIRST), UPDATE: (ALLOW, "")},
    RUNNING: {START: (NOOP, ""), STOP: (ALLOW, ""), KILL: (ALLOW, ""), PAUSE: (ALLOW, ""),
              UNPAUSE: (NOOP, ""), RESTART: (ALLOW, ""), REMOVE: (FORCE, _STOP_FIRST),
              EXEC: (ALLOW, ""), UPDATE: (ALLOW, "")},
    PAUSED: {START: (NOOP, ""), STOP: (ALLOW, ""), KILL: (ALLOW, ""), PAUSE: (NOOP, ""),
             UNPAUSE: (ALLOW, ""), RESTART: (ALLOW, ""), REMOVE: (FORCE, _STOP_FIRST),
             EXEC: (DENY, "unpause it first (paused: false)"), UPDATE: (ALLOW, "")},
    RESTARTING: {START: (ALLOW, ""), STOP: (ALLOW, ""), KILL: (DENY, _WAIT_RESTART),
                 PAUSE: (DENY, _WAIT_RESTART), UNPAUSE: (DENY, "it is not paused"), RESTART: (ALLOW, ""),
                 REMOVE: (FORCE, _STOP_FIRST), EXEC: (DENY, _WAIT_RESTART), UPDATE: (ALLOW, "")},
    EXITED: {START: (ALLOW, ""), STOP: (NOOP, ""), KILL: (DENY, _NOT_LIVE),
             PAUSE: (DENY, f"{_START_FIRST}; only a running container can be paused"),
             UNPAUSE: (DENY, "it is not paused"), RESTART: (ALLOW, ""), REMOVE: (ALLOW, ""),
             EXEC: (DENY, _START_FIRST), UPDATE: (ALLOW, "")},
}

_OCI_WAIT = "wait until its create finishes"
_OCI_START_FIRST = "start it first; pause needs a running container"
_OCI_ONLY_CREATED = "only a created container can be started; create it again"
_OCI_KILL_FIRST = "stop it first (kill) or use delete --force"
_OCI: dict[str, dict[str, tuple[str, str]]] = {
    OCI_CREATING: {START: (DENY, _OCI_WAIT), KILL: (DENY, _OCI_WAIT), PAUSE: (DENY, _OCI_WAIT),
                   RESUME: (DENY, _OCI_WAIT), DELETE: (FORCE, f"{_OCI_WAIT}, or use delete --force"),
                   EXEC: (DENY, _OCI_WAIT), UPDATE: (DENY, _OCI_WAIT)},
    OCI_CREATED: {START: (ALLOW, ""), KILL: (ALLOW, ""), PAUSE: (DENY, _OCI_START_FIRST),
                  RESUME: (DENY, "it is not paused"), DELETE: (ALLOW, ""), EXEC: (ALLOW, ""), UPDATE: (ALLOW, "")},
    OCI_RUNNING: {START: (DENY, _OCI_ONLY_CREATED), KILL: (ALLOW, ""), PAUSE: (ALLOW, ""),
                  RESUME: (DENY, "it is not paused"), DELETE: (FORCE, _OCI_KILL_FIRST), EXEC: (ALLOW, ""),
                  UPDATE: (ALLOW, "")},
    OCI_PAUSED: {START: (DENY, _OCI_ONLY_CREATED), KILL: (ALLOW, ""), PAUSE: (DENY, "it is paused already"),
                 RESUME: (ALLOW, ""), DELETE: (FORCE, _OCI_KILL_FIRST), EXEC: (DENY, "resume it first"),
                 UPDATE: (ALLOW, "")},
    OCI_STOPPED: {START: (DENY, _OCI_ONLY_CREATED), KILL: (DENY, "its process has exited"),
                  PAUSE: (DENY, "its process has exited"), RESUME: (DENY, "its process has exited"),
                  DELETE: (ALLOW, ""), EXEC: (DENY, "its process has exited"), UPDATE: (ALLOW, "")},
}

# the state a verb leaves behind when it succeeds; None: the container is gone
_AFTER = {START: RUNNING, RESTART: RUNNING, UNPAUSE: RUNNING, PAUSE: PAUSED, STOP: EXITED, KILL: EXITED,
          REMOVE: None}

_TO_OCI = {CREATING: OCI_CREATING, CREATED: OCI_CREATED, RUNNING: OCI_RUNNING, PAUSED: OCI_PAUSED,
           RESTARTING: OCI_STOPPED, EXITED: OCI_STOPPED}
_FROM_OCI = {OCI_CREATING: CREATING, OCI_CREATED: CREATED, OCI_RUNNING: RUNNING, OCI_PAUSED: PAUSED,
             OCI_STOPPED: EXITED}


class Table:
    """One lifecycle table: its cells, what its verbs act on (for messages)
    and the error for a container in use (a cell that needs force)."""

    def __init__(self, cells: dict[str, dict[str, tuple[str, str]]], field: str,
                 in_use: type[InvalidState | Conflict]) -> None:
        self.cells = cells
        self.field = field
        self.in_use = in_use

    def outcome(self, state: str, verb: str) -> str:
        """ALLOW, NOOP, FORCE or DENY; an unknown state or verb is an InvalidState."""
        return self._cell(state, verb)[0]

    def allowed(self, state: str, verb: str, *, force: bool = False) -> bool:
        result = self.outcome(state, verb)
        return result in (ALLOW, NOOP) or (force and result == FORCE)

    def is_noop(self, state: str, verb: str) -> bool:
        return self.outcome(state, verb) == NOOP

    def require(self, state: str, verb: str, name: str, *, force: bool = False) -> None:
        """Nothing when ``verb`` may run on a container in ``state``; else the
        error, with a hint naming what to do instead."""
        result, hint = self._cell(state, verb)
        if result in (ALLOW, NOOP) or (force and result == FORCE):
            return
        # in use (a live process) or owned by another operation: a conflict; else the state is wrong
        kind = self.in_use if result == FORCE or state == CREATING else InvalidState
        raise kind(f"cannot {verb} container {name}: it is {state}", field=self.field, hint=hint or None,
                   state=state, verb=verb)

    def _cell(self, state: str, verb: str) -> tuple[str, str]:
        row = self.cells.get(state)
        if row is None:
            raise InvalidState(f"unknown container state {state!r}", field=self.field,
                               hint=f"one of {', '.join(self.cells)}; the state file may be damaged")
        cell = row.get(verb)
        if cell is None:
            raise InvalidState(f"unknown lifecycle verb {verb!r}", hint=f"one of {', '.join(row)}")
        return cell


ENGINE = Table(_ENGINE, "name", Conflict)
RUNTIME = Table(_OCI, "container-id", InvalidState)   # berth-runtime's errors are InvalidState, as before


def outcome(state: str, verb: str) -> str:
    return ENGINE.outcome(state, verb)


def allowed(state: str, verb: str, *, force: bool = False) -> bool:
    """May the engine verb run on a container in this engine state?"""
    return ENGINE.allowed(state, verb, force=force)


def is_noop(state: str, verb: str) -> bool:
    """The verb is allowed and has nothing to do (start of a running container)."""
    return ENGINE.is_noop(state, verb)


def require(state: str, verb: str, name: str, *, force: bool = False) -> None:
    """Raise Conflict (in use, or being created) or InvalidState, with a hint,
    unless the engine verb may run on a container in this state."""
    ENGINE.require(state, verb, name, force=force)


def oci_allowed(status: str, verb: str, *, force: bool = False) -> bool:
    """May the runtime verb run on a container with this OCI status?"""
    return RUNTIME.allowed(status, verb, force=force)


def oci_require(status: str, verb: str, container_id: str, *, force: bool = False) -> None:
    """Raise InvalidState with a hint unless the runtime verb may run."""
    RUNTIME.require(status, verb, container_id, force=force)


def after(state: str, verb: str) -> str | None:
    """The engine state a successful verb leaves (None: removed). ``stop``
    and ``kill`` say exited; the restart policy may make it restarting. A
    verb the table refuses (even with force) is an InvalidState."""
    result = ENGINE.outcome(state, verb)
    if result == DENY:
        raise InvalidState(f"{verb} is not allowed on a {state} container", hint="check allowed() first")
    if result == NOOP:
        return state
    return _AFTER.get(verb, state)


def is_active(state: str) -> bool:
    """Running, paused or restarting: a live process, or one the monitor will
    start again. An active container must be stopped before it is removed."""
    _known(state)
    return state in ACTIVE


def oci_status(state: str) -> str:
    """The OCI status the runtime reports for a container in this engine state."""
    _known(state)
    return _TO_OCI[state]


def from_oci(status: str, paused: bool = False) -> str:
    """The engine state of a runtime container: its OCI status, with the
    record's ``paused`` flag for runtimes that report a frozen one as running."""
    state = _FROM_OCI.get(status)
    if state is None:
        raise InvalidState(f"unknown OCI status {status!r}", hint=f"one of {', '.join(OCI_STATES)}")
    return PAUSED if paused and state == RUNNING else state


def of_record(record: Mapping[str, Any]) -> str:
    """The engine state of a container record: ``creating`` while its marker
    is there, else ``state.status``, with ``state.paused`` turning running
    into paused."""
    if "creating" in record:
        return CREATING
    state = record.get("state") or {}
    status = state.get("status")
    if status not in (CREATED, RUNNING, RESTARTING, EXITED, PAUSED):
        raise InvalidState(f"container {record.get('name', record.get('id'))} has an unknown status {status!r}",
                           field="state.status", hint="its record may be damaged; remove and create it again")
    return PAUSED if status == RUNNING and state.get("paused") else status


def require_record(record: Mapping[str, Any], verb: str, *, force: bool = False) -> str:
    """``require`` for a container record (its name in the error); returns
    the record's engine state, so a caller can tell a no-op from a change."""
    state = of_record(record)
    require(state, verb, str(record.get("name") or record.get("id")), force=force)
    return state


def _known(state: str) -> None:
    if state not in _TO_OCI:
        raise InvalidState(f"unknown container state {state!r}", hint=f"one of {', '.join(STATES)}")
