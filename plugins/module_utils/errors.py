"""The engine's small error taxonomy.

Every failure the engine reports is one of five kinds, so callers (modules, the
CLI, tests) branch on the kind and never on message text. The leaf error carries
the context a person needs to act: which field or object, and what to do.
Modules map these to ``fail_json`` in exactly one place (``ansible/glue.py``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:  # typing costs ~2 ms at start-up, and berth-runtime starts per container
    from typing import Any


class BerthError(Exception):
    """Base of every engine error.

    ``field`` names the input (module option, config key, file) at fault and
    ``hint`` says how to fix it; both are shown to the user.
    """

    kind = "error"

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None,
                 **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        text = self.message
        if self.field:
            text = f"{self.field}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        return text

    def as_dict(self) -> dict[str, Any]:
        """Structured form for fail_json / JSON output."""
        out: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.field:
            out["field"] = self.field
        if self.hint:
            out["hint"] = self.hint
        out.update({k: v for k, v in self.details.items() if v is not None})
        return out


class NotFound(BerthError):
    """The named object (image, blob, snapshot, container, ...) does not exist."""

    kind = "not_found"


class AlreadyExists(BerthError):
    """Creating something that exists with a different identity or content."""

    kind = "already_exists"


class InvalidInput(BerthError):
    """User input (option, reference, file, tarball, registry answer) is malformed."""

    kind = "invalid_input"


class InvalidState(BerthError):
    """The operation is not allowed in the object's current state, or the
    store/host is not in a state the engine can work with."""

    kind = "invalid_state"


class Conflict(BerthError):
    """The object is in use (by a container, a child snapshot, another
    process holding its lock) and cannot be changed or removed now."""

    kind = "conflict"


class SystemCallError(InvalidState):
    """A syscall failed; carries the call, its arguments and errno.

    A subclass of InvalidState: the host refused what the engine asked, which
    is neither bad user input nor a missing object.
    """

    kind = "syscall"

    def __init__(self, call: str, errno: int, *, args: tuple[Any, ...] = (), hint: str | None = None) -> None:
        import os

        self.call = call
        self.errno = errno
        self.call_args = args
        rendered = ", ".join(repr(a) for a in args)
        super().__init__(f"{call}({rendered}) failed: [Errno {errno}] {os.strerror(errno)}",
                         hint=hint, call=call, errno=errno)


class ReadOnlyViolation(InvalidState):
    """A write was attempted through a read-only view of the engine
    (``Engine.view``: check mode, ``_info`` modules). Always a bug in the
    caller: planning must only read. ``what`` names the write attempted.
    Its kind stays ``invalid_state`` (the taxonomy has five kinds); the
    ``what`` detail says which write."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} attempted on a read-only view of the engine",
                         hint="this is a bug: check mode and info modules must not write", what=what)


ERROR_KINDS: tuple[type[BerthError], ...] = (NotFound, AlreadyExists, InvalidInput, InvalidState, Conflict)
