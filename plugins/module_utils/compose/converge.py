"""Executing a project's plan: the project steps first (networks, volumes,
images, in order), then each service's container steps in a thread of its
own, started once every dependency's steps are done and its condition holds
(``gating.py``), then the closing steps (orphans; a down's networks,
volumes and images). A failed service fails its dependents with the reason;
the other services go on, and the first error is raised at the end naming
every failure.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import BerthError, InvalidState
from ..plan import Plan, Step
from . import gating
from .state import project_facts
from .steps import Runner

MAX_THREADS = 8


@dataclass
class Dependency:
    service: str
    condition: str = gating.STARTED
    required: bool = True


@dataclass
class ComposePlan(Plan):
    """A project's plan: the steps (``plan.Plan``), plus what executing
    them needs: each service's dependencies and its containers' names."""

    project: str = ""
    order: list[str] = field(default_factory=list)                           # services, dependencies first
    depends: dict[str, list[Dependency]] = field(default_factory=dict)
    replicas: dict[str, list[str]] = field(default_factory=dict)             # service -> its containers' names
    healthchecked: dict[str, bool] = field(default_factory=dict)
    wait: bool = False
    wait_timeout: float = 300.0
    registry: Any = None

    def execute(self, context: Any) -> list[Any]:
        """``context``: the writable engine (or a ``steps.Runner``)."""
        runner = context if isinstance(context, Runner) else Runner(context, self.registry)
        done = [s.execute(runner) for s in self.steps if s.phase == "before"]
        failures = self._services(runner)
        if not failures:
            done += [s.execute(runner) for s in self.steps if s.phase == "after"]
            problems = gating.wait_project(runner.containers, self.replicas, self.healthchecked,
                                           self.wait_timeout) if self.wait else []
            if problems:
                failures = {"wait": InvalidState("; ".join(problems), field="wait",
                                                 hint="see the services' logs with `berth compose logs`")}
        self.facts.update(project_facts(runner.engine, self.project))
        if failures:
            first = next(iter(failures.values()))
            if len(failures) > 1 or not isinstance(first, BerthError):
                raise InvalidState("; ".join(f"{name}: {_text(err)}" for name, err in failures.items()),
                                   field=getattr(first, "field", None), hint=getattr(first, "hint", None))
            raise first
        return done

    def service_steps(self, service: str) -> list[Step]:
        return [s for s in self.steps if s.phase == "service" and s.service == service]

    def _services(self, runner: Runner) -> dict[str, BaseException]:
        deadline = time.monotonic() + self.wait_timeout
        futures: dict[str, Future[None]] = {}
        with ThreadPoolExecutor(max_workers=max(1, min(MAX_THREADS, len(self.order)))) as pool:
            # submitted in dependency order, each waits on futures already submitted: no deadlock with a
            # bounded pool, because a task only ever waits on tasks submitted before it
            for service in self.order:
                futures[service] = pool.submit(self._run_service, runner, service, futures, deadline)
        failures: dict[str, BaseException] = {}
        for service, future in futures.items():
            error = future.exception()
            if error is not None:
                failures[service] = error
        return failures

    def _run_service(self, runner: Runner, service: str, futures: dict[str, Future[None]], deadline: float) -> None:
        steps = self.service_steps(service)
        for dep in self.depends.get(service, []):
            future = futures.get(dep.service)
            if future is None:
                continue   # not part of this converge (required: false and absent)
            error = future.exception()
            if error is not None and dep.required:
                raise InvalidState(gating.describe_failure(service, dep.service, _text(error)),
                                   field=f"services.{service}.depends_on.{dep.service}")
            if not steps or error is not None:
                continue   # nothing to start here: its containers are as they should be
            try:
                gating.wait_for(runner.containers, dep.service, self.replicas.get(dep.service, []), dep.condition,
                                deadline)
            except BerthError as err:
                raise InvalidState(gating.describe_failure(service, dep.service, err.message),
                                   field=f"services.{service}.depends_on.{dep.service}", hint=err.hint) from None
        for step in steps:
            step.execute(runner)


def _text(error: BaseException) -> str:
    return error.message if isinstance(error, BerthError) else f"{type(error).__name__}: {error}"
