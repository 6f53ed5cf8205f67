"""The domain packages' crash-recovery steps, run by ``Engine.recover``.

The engine removes its own leftovers itself (dead ingests, dead unpacks,
trash). A domain's leftovers are that domain's: a half-made container is
known as such only by the containers package, unreferenced content only by
the image package, whose records are the sweep's roots. So the base layer
keeps this registry and each package registers its step when it is
imported (``containers/removal.py``, ``image/collect.py``): the engine runs
them without importing upward, and every process that works on a domain has
imported it before it opens an engine.

Steps run by phase: ``RECORDS`` (drop the records of dead operations and give
back what they held), then ``CONTENT`` (the sweep, which can then collect
what only those records named). Within a phase, in registration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RECORDS = 1
CONTENT = 2


@dataclass(frozen=True)
class Step:
    name: str
    phase: int
    # (engine, sweep) -> counts for recover()'s report; ``sweep`` is recover's
    # argument: None (when pending), True (always) or False (never)
    run: Callable[[Any, bool | None], dict[str, int]]


_STEPS: dict[str, Step] = {}


def register(name: str, run: Callable[[Any, bool | None], dict[str, int]], *, phase: int) -> None:
    """Add a step; registering a name again replaces its step (a module reloaded)."""
    _STEPS[name] = Step(name, phase, run)


def steps() -> list[Step]:
    """The registered steps in the order they run."""
    return sorted(_STEPS.values(), key=lambda step: step.phase)


def run_steps(engine: Any, sweep: bool | None) -> dict[str, int]:
    """Run every registered step; their counts, merged. The list is copied
    first: a step may import a module that registers another."""
    counts: dict[str, int] = {}
    for step in steps():
        counts.update(step.run(engine, sweep))
    return counts
