"""What the monitor keeps: one ``Watch`` per container (its process, stdio,
log, restart back-off, health probe, stop deadline and the clients waiting
for it), the ``Facts`` it reads from the container's record, and the clock
its timers read.

Time is injected: the monitor never sleeps, it compares deadlines with
``clock.monotonic()`` and waits in ``select`` until the soonest, so unit tests
drive restart back-off, probe intervals and timeouts and the SIGKILL after a
stop's timeout with a fake clock (tests/unit/containers/test_monitor.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .logs import Discard, LogWriter
    from .record import ContainerRecord

    Answer = Callable[[Any], None]   # sends one reply (protocol.py) to a waiting client


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class Facts:
    """What the monitor reads from a container's record (``host.find``)."""

    id: str
    name: str
    state: str                      # the lifecycle state (lifecycle.of_record)
    record_status: str = "created"  # the record's own status (running for a paused one too)
    pid: int = 0
    exit_code: int | None = None
    restart_policy: str = "no"      # Docker's form: no, on-failure[:N], always, unless-stopped
    restart_count: int = 0
    stopped_by_user: bool = False
    auto_remove: bool = False
    healthcheck: dict[str, Any] | None = None   # health.from_option's form, durations in seconds
    health: dict[str, Any] | None = None        # the record's health: status, failing_streak, log
    log_max_size: int = 0
    log_max_file: int = 1
    log_driver: str = "json-file"   # none: the output is drained, not kept
    record: ContainerRecord | None = field(default=None, compare=False, repr=False)   # handed back to the host


@dataclass(frozen=True)
class Launched:
    """A container the host started: its init and the read ends of its stdout and stderr."""

    pid: int
    stdout: int
    stderr: int
    pid_start: int | None = None
    networks: dict[str, Any] = field(default_factory=dict)
    ports: list[Any] = field(default_factory=list)


@dataclass
class Probe:
    """A healthcheck probe in flight."""

    pid: int
    fd: int | None          # its output pipe, until EOF
    started_at: str         # wall clock, for the health log
    started: float          # clock time
    deadline: float         # killed then
    timed_out: bool = False
    output: bytearray = field(default_factory=bytearray)


@dataclass
class Stopping:
    """A stop under way: every process is SIGKILLed at ``deadline``; the
    ``waiters`` are answered once the container has exited."""

    deadline: float
    waiters: list[Answer] = field(default_factory=list)


@dataclass
class Watch:
    """Everything the monitor keeps about one container."""

    id: str
    pid: int = 0                      # its init (0: none live)
    pidfd: int | None = None          # adopted: the init of an earlier monitor, watched through a pidfd
    stdio: dict[int, str] = field(default_factory=dict)   # open log pipes: fd -> stdout/stderr
    log: LogWriter | Discard | None = None
    started: float | None = None      # clock time its current run began (None: before this monitor)
    backoff: float = 0.0              # seconds before the last restart (policy.backoff)
    restart_at: float | None = None   # clock time of the next restart
    next_probe: float | None = None   # clock time of the next healthcheck
    probe: Probe | None = None
    stopping: Stopping | None = None
    waiters: list[Answer] = field(default_factory=list)   # clients waiting for its exit

    @property
    def live(self) -> bool:
        return self.pid > 0

    @property
    def child(self) -> bool:
        """Its init is this monitor's child (reaped with waitpid), not adopted."""
        return self.live and self.pidfd is None

    @property
    def busy(self) -> bool:
        """Something still to watch or answer; an idle watch is dropped."""
        return bool(self.live or self.restart_at is not None or self.stopping or self.waiters or self.probe
                    or self.stdio)

    def deadlines(self) -> list[float]:
        found = [self.restart_at, self.next_probe, self.probe.deadline if self.probe else None,
                 self.stopping.deadline if self.stopping else None]
        return [when for when in found if when is not None]
