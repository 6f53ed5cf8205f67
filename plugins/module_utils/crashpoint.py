"""Crash points: where the crash tests kill berth with SIGKILL.

``crash_point("container.create.record")`` does nothing unless the
environment variable ``BERTH_CRASH_AT`` names that point; then the process
sends itself SIGKILL on the spot — no cleanup, no ``finally``, exactly what
``kill -9`` or a power cut does. tests/integration/test_crash_points.py runs
each operation with each of its points set and checks that running the
operation again converges with nothing lost and nothing stuck.

The variable is read once, at import (every berth process — CLI, module,
monitor — starts fresh and inherits it); unset, a point costs one string
comparison. ``arm`` changes it in-process (unit tests). The names in ``POINTS``
are the full list, so a test can tell a mistyped name from a point the
operation never reached.
"""

from __future__ import annotations

import os
import signal

ENV = "BERTH_CRASH_AT"

POINTS = (
    "image.pull.blobs_stored",        # pull: layers and config ingested, no manifest blob or record yet
    "image.unpack.mid",               # unpack: some entries of a layer applied, the snapshot still active
    "container.create.record",        # create: record written (marked creating), no bundle yet
    "container.create.bundle",        # create: bundle dirs and a first config.json, no cgroup path yet
    "container.create.config",        # create: final config.json, volumes not yet copied up
    "container.create.finish",        # create: record complete, its creating marker not yet removed
    "container.start.request",        # start: the client, before it asks the monitor
    "monitor.start.created",          # start: runtime created the container, no limits or network yet
    "monitor.start.attached",         # start: limits and network applied, init not yet released
    "monitor.start.released",         # start: the init runs, the record does not say so yet
    "runtime.create.mid",             # berth-runtime create: init forked and waiting, no state.json yet
)


_armed: str | None = os.environ.get(ENV) or None


def arm(name: str | None) -> None:
    """Set (or with None, clear) the point this process dies at."""
    global _armed
    _armed = name


def crash_point(name: str) -> None:
    if name == _armed:
        os.kill(os.getpid(), signal.SIGKILL)
