"""Restart policies (Docker's): no, on-failure[:max], always, unless-stopped,
and the backoff between restarts (100 ms doubling, capped at 1 min, reset
after a run of 10 s or more)."""

from __future__ import annotations

from ..errors import InvalidInput

POLICIES = ("no", "on-failure", "always", "unless-stopped")
BACKOFF_START, BACKOFF_MAX, RESET_AFTER = 0.1, 60.0, 10.0


def parse(text: str | None) -> tuple[str, int]:
    """'on-failure:3' -> ('on-failure', 3); max 0 = unlimited."""
    name, _sep, count = (text or "no").partition(":")
    if name not in POLICIES or (count and (not (count.isascii() and count.isdigit() and len(count) <= 9)
                                           or name != "on-failure")):
        raise InvalidInput(f"restart_policy {text!r} is not valid", field="restart_policy",
                           hint="use no, on-failure[:max-retries], always or unless-stopped")
    return name, int(count or 0)


def should_restart(policy: str, max_retries: int, exit_code: int, restart_count: int,
                   stopped_by_user: bool) -> bool:
    if stopped_by_user or policy == "no":
        return False
    if policy == "on-failure":
        return exit_code != 0 and (max_retries == 0 or restart_count < max_retries)
    return True


def backoff(previous: float, ran_for: float) -> float:
    """Seconds to wait before the next restart."""
    if ran_for >= RESET_AFTER or previous <= 0:
        return BACKOFF_START
    return min(previous * 2, BACKOFF_MAX)


def restore_wanted(policy: str, stopped_by_user: bool) -> bool:
    """After a reboot: always restarts; unless-stopped unless a person stopped it."""
    return policy == "always" or (policy == "unless-stopped" and not stopped_by_user)
