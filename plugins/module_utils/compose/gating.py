"""Waiting for a dependency's condition before its dependents' steps run,
and for the project after an ``up`` with ``wait``.

Conditions as Compose's ``depends_on`` long form names them:
``service_started`` (its containers were started: a one-shot that already
exited counts), ``service_healthy`` (the service's own healthcheck says
healthy: ``ContainerService.wait_healthy``), ``service_completed_successfully``
(every container exited 0). Each is bounded by the project's wait_timeout
and fails naming the service and why.

``wait`` (compose#10596, decided here): a one-shot service that exited 0
counts as done, not as a failure; a non-zero exit, an unhealthy container or
the timeout fail.
"""

from __future__ import annotations

import time
from typing import Any

from ..containers.record import ContainerRecord
from ..containers.service import ContainerService
from ..errors import BerthError, InvalidState

STARTED = "service_started"
HEALTHY = "service_healthy"
COMPLETED = "service_completed_successfully"
POLL = 0.05


def wait_for(containers: ContainerService, service: str, refs: list[str], condition: str, deadline: float) -> None:
    """Until the service's containers meet the condition; InvalidState naming it otherwise."""
    if not refs:
        raise InvalidState(f"service {service} has no container", field=f"services.{service}",
                           hint="scale it to at least 1, or drop the dependency")
    if condition == HEALTHY:
        try:
            containers.wait_healthy(refs, max(0.0, deadline - time.monotonic()))
        except BerthError as err:
            raise InvalidState(f"service {service} is not healthy: {err.message}", field=f"services.{service}",
                               hint=err.hint) from None
        return
    while True:
        records = [containers.current(ref) for ref in refs]
        verdict = _verdict(service, records, condition)
        if verdict is None:
            return
        if verdict or time.monotonic() > deadline:
            raise InvalidState(verdict or f"service {service} did not reach {condition} in time",
                               field=f"services.{service}", hint="see its logs with `berth compose logs`")
        time.sleep(POLL)


def _verdict(service: str, records: list[ContainerRecord], condition: str) -> str | None:
    """None: met; "": not yet; text: failed for good."""
    if condition == COMPLETED:
        for record in records:
            state = record.state
            if state.status in ("running", "restarting", "created"):
                return "" if state.status != "created" else f"service {service} ({record.name}) was never started"
            if state.exit_code not in (0, None) or state.error:
                return f"service {service} ({record.name}) did not complete successfully: exit code {state.exit_code}"
        return None
    for record in records:   # started
        if record.state.status == "created" or not record.state.started_at:
            return ""
    return None


def wait_project(containers: ContainerService, refs: dict[str, list[str]], healthchecked: dict[str, bool],
                 timeout: float) -> list[str]:
    """``up --wait``: every service running (healthy when it has a
    healthcheck) or, for a one-shot, exited 0; the failures' messages."""
    deadline = time.monotonic() + timeout
    failures = []
    for service, names in refs.items():
        if not names:
            continue   # scaled to 0
        try:
            _wait_one(containers, service, names, healthchecked.get(service, False), deadline)
        except BerthError as err:
            failures.append(err.message)
    return failures


def _wait_one(containers: ContainerService, service: str, names: list[str], healthchecked: bool,
              deadline: float) -> None:
    records = [containers.current(n) for n in names]
    if all(r.state.status == "exited" for r in records):
        wait_for(containers, service, names, COMPLETED, deadline)
        return
    wait_for(containers, service, names, HEALTHY if healthchecked else STARTED, deadline)
    for record in (containers.current(n) for n in names):
        if record.state.status == "exited" and record.state.exit_code not in (0, None):
            raise InvalidState(f"service {service} ({record.name}) exited with code {record.state.exit_code}")


def describe_failure(service: str, dependency: str, reason: Any) -> str:
    return f"service {service} was not started: its dependency {dependency} failed: {reason}"
