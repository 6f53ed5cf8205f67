"""History ``created_by`` strings as BuildKit writes them.

Users read ``docker history`` / ``berth history`` output and compare it with
what Docker built, so the strings follow BuildKit's formatting: Go's ``%q``
of a string list for CMD/ENTRYPOINT (``CMD ["sh" "-c" "x"]``), ``%v`` for
VOLUME/SHELL/EXPOSE (``VOLUME [/data]``), ``RUN |N K=V ... cmd`` when build
arguments are in scope, and `` # buildkit`` after the steps that make a layer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

LAYER_SUFFIX = " # buildkit"
COMMENT = "buildkit.dockerfile.v0"


def go_quoted_list(items: Sequence[str]) -> str:
    """Go's ``fmt.Sprintf("%q", []string{...})``."""
    return "[" + " ".join(go_quote(item) for item in items) + "]"


def go_quote(text: str) -> str:
    # json's escaping matches strconv.Quote for the printable ASCII users write;
    # Go keeps non-ASCII printable runes as they are, as ensure_ascii=False does.
    return json.dumps(text, ensure_ascii=False)


def go_list(items: Iterable[str]) -> str:
    """Go's ``%v`` of a string slice."""
    return "[" + " ".join(items) + "]"


def run_created_by(argv: Sequence[str], build_args: Sequence[tuple[str, str]]) -> str:
    """``RUN |2 A=1 B=2 /bin/sh -c make``: the build args the step sees, then the command."""
    prefix = [f"|{len(build_args)}", *(f"{k}={v}" for k, v in build_args)] if build_args else []
    return "RUN " + " ".join([*prefix, *argv]) + LAYER_SUFFIX


def go_duration(seconds: float | None) -> str:
    """Go's ``time.Duration`` String() for the values HEALTHCHECK takes."""
    if not seconds:
        return "0s"
    nanos = round(seconds * 1e9)
    if nanos < 1_000_000_000:
        millis = nanos / 1e6
        return f"{millis:g}ms"
    hours, rest = divmod(nanos, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    secs = f"{rest / 1e9:g}s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    return f"{minutes}m{secs}" if minutes else secs


def healthcheck_created_by(test: Sequence[str], interval: float | None, timeout: float | None,
                           start_period: float | None, start_interval: float | None, retries: int | None) -> str:
    """``HEALTHCHECK {Test:[CMD-SHELL curl -f x] Interval:30s ...}`` (Go's ``%+v`` of the struct)."""
    return ("HEALTHCHECK {Test:" + go_list(test) + f" Interval:{go_duration(interval)}"
            f" Timeout:{go_duration(timeout)} StartPeriod:{go_duration(start_period)}"
            f" StartInterval:{go_duration(start_interval)} Retries:{retries or 0}}}")
