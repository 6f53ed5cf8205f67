"""Giving back what a removed container held outside its record: its
addresses on networks and its anonymous volumes.

Two callers: ``rm`` (``ContainerService.remove``), and the recovery of
containers whose creator died half-way, a step of ``Engine.recover``
registered with recovery.py when this module is imported (the container
service imports it; the module glue registers it for every module's engine),
so the next engine call removes a half-made container. The record store only
drops records (``ContainerStore.drop_half_made``); giving back is done here,
so the store needs neither networking nor mounting, which both read it.

networking and mounting are imported where they are used: registering the
step costs the module glue only this module and the store (they cost ~40 ms).
"""

from __future__ import annotations

import contextlib

from ..engine import Engine
from ..errors import BerthError
from ..recovery import RECORDS, register
from .store import ContainerStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .record import ContainerRecord


def release(engine: Engine, record: ContainerRecord, *, volumes: bool) -> None:
    """After the record is gone: its addresses, and with ``volumes``
    (``docker rm -v``) its anonymous volumes no other container uses."""
    from . import mounting, networking

    networking.release(engine, record)
    if volumes:
        mounting.remove_anonymous(engine, record)


def remove_half_made(engine: Engine) -> list[str]:
    """Remove the containers whose creator died before the bundle was
    complete (record, directory, addresses, anonymous volumes); their names."""
    dropped = ContainerStore(engine).drop_half_made()
    if not dropped:
        return []   # the common case, on every engine opened
    from . import mounting, networking

    for record in dropped:
        # the record is gone: what cannot be given back now stays behind
        # rather than stopping the engine's recovery
        with contextlib.suppress(BerthError, OSError):
            networking.release(engine, record)
        with contextlib.suppress(BerthError, OSError):
            mounting.remove_anonymous(engine, record)
    return [record.name for record in dropped]


def _recovery_step(engine: Engine, _sweep: bool | None) -> dict[str, int]:
    return {"containers": len(remove_half_made(engine))}


def register_recovery() -> None:
    """Make ``Engine.recover`` remove half-made containers (idempotent)."""
    register("half-made containers", _recovery_step, phase=RECORDS)


register_recovery()
