"""What a user reads when the engine fails outside its error taxonomy.

An ``OSError`` from the kernel or the disk (a cgroup write, a freeze, a
mount, a netlink call, a full disk) is not a ``BerthError``: nothing in the
engine can say more about it than the errno and the path. What the user needs
besides is *which operation* it broke, so a plan step that raises marks the
exception with its ``describe()`` text and the steps done before it
(``Plan.execute``), and the surfaces (``ansible/glue.py``, ``cli/base.py``)
turn the mark into one line: ``could not start container web: ...``.

Standard library only and no imports at all: the CLI's run loop imports this
on every command.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from typing import Any

_MARK = "_berth_failed_step"   # the attribute Plan.execute sets on an exception a step raised


def mark_failed_step(exc: BaseException, operation: str, done: list[str]) -> None:
    """Record on ``exc`` the step it broke and the steps done before it. The innermost plan marks
    first (a step may run a plan of its own), and its mark is the precise one: it is kept."""
    if getattr(exc, _MARK, None) is None:   # every exception has a __dict__ (BaseException's)
        setattr(exc, _MARK, (operation, list(done)))


def failed_step(exc: BaseException) -> tuple[str | None, list[str]]:
    """The step ``exc`` broke (None when it was raised outside a plan step) and the steps done before it."""
    mark = getattr(exc, _MARK, None)
    if mark is None:
        return None, []
    return mark[0], list(mark[1])


def error_text(exc: BaseException) -> str:
    """The exception as one line: an OSError as ``<path>: [Errno N] <reason>`` (the path first, as
    the tools print it), anything else as ``<Type>: <message>``."""
    if isinstance(exc, OSError) and exc.errno is not None:
        reason = f"[Errno {exc.errno}] {exc.strerror or ''}".rstrip()
        paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
        return f"{' -> '.join(paths)}: {reason}" if paths else reason
    text = str(exc).strip() or "(no message)"
    return text if isinstance(exc, OSError) else f"{type(exc).__name__}: {text}"


# Some plans describe their steps as what was done ("pulled: busybox", "removed network n": the result's
# actions read as a log); a failure names the operation that could not be done, so these turn imperative.
_IMPERATIVE = {
    "archived": "archive", "connected": "connect", "converged": "converge", "created": "create",
    "deleted": "delete", "disconnected": "disconnect", "imported": "import", "killed": "kill",
    "loaded": "load", "moved": "move", "placed": "place", "pulled": "pull", "pushed": "push",
    "reconnected": "reconnect", "recreated": "recreate", "removed": "remove", "restored": "restore",
    "set": "set", "started": "start", "stopped": "stop", "tagged": "tag", "untagged": "untag",
    "updated": "update",
}


def imperative(operation: str) -> str:
    """A step's description as the operation a failure names: "created: /x" is "create /x"; a form
    not known here is quoted ("complete step 'frobbed: x'")."""
    first, _space, rest = operation.partition(" ")
    verb = _IMPERATIVE.get(first.rstrip(":"))
    if verb is not None:
        return f"{verb} {rest}".rstrip()
    if first.endswith(":"):
        return f"complete step '{operation}'"
    return operation


def operation_on(operation: str, subject: str | None) -> str:
    """The operation with its object: ``start`` on ``container web`` is "start container web", one that
    names the object ("untag local/box:1") gets its kind ("untag image local/box:1")."""
    operation = imperative(operation)
    if not subject:
        return operation
    noun, _space, name = subject.rpartition(" ")
    words = operation.split()
    if name in words:   # "untag local/box:1" -> "untag image local/box:1"; "create volume data" stays
        return operation if noun in operation else " ".join(subject if w == name else w for w in words)
    if " " not in operation:
        return f"{operation} {subject}"
    return f"{operation} for {subject}"


def failure_details(exc: BaseException, operation: str, done: list[str]) -> dict[str, Any]:
    """The structured form beside the message (a module's ``error``, ``berth --json``'s)."""
    details: dict[str, Any] = {"kind": "os_error" if isinstance(exc, OSError) else "unexpected",
                               "operation": operation, "message": error_text(exc)}
    if isinstance(exc, OSError):
        if exc.errno is not None:
            details["errno"] = exc.errno
        if exc.filename is not None:
            details["path"] = str(exc.filename)
    if done:
        details["done"] = done
    return details


def cli_failure_line(exc: BaseException, command: str) -> str:
    """``berth: error: <operation>: <message>`` for the CLI (the plan step the exception broke, else the
    command); the traceback only when ``BERTH_DEBUG`` is set, as a bug report needs it."""
    import os

    step, _done = failed_step(exc)
    line = f"berth: error: {step or command}: {error_text(exc)}\n"
    if os.environ.get("BERTH_DEBUG"):
        import traceback

        line += "".join(traceback.format_exception(exc))
    return line
