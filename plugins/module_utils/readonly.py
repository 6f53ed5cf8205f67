"""Read-only views of the engine's stores, by type (containerd's snapshotter
``View``: a view cannot be written because it has no working write method).

A view class subclasses its writable store and names the methods that only
read; ``refuse_writes`` replaces every other method the writable class has
(its bases included) with one that raises ``ReadOnlyViolation``. The list is
of reads, not of writes, so a write method added to a store later raises on
its view until someone decides it is a read: forgetting fails safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .errors import ReadOnlyViolation

ViewClass = TypeVar("ViewClass", bound=type)


def refuse_writes(writable: type, *, reads: Iterable[str]) -> Callable[[ViewClass], ViewClass]:
    """Class decorator for the view of ``writable``: keep the methods in
    ``reads`` and those the view defines itself; refuse every other one."""
    kept = frozenset(reads)

    def decorate(view: ViewClass) -> ViewClass:
        own = vars(view)
        for klass in writable.__mro__[:-1]:   # object's methods are not the store's
            for name, member in vars(klass).items():
                if name.startswith("__") or name in kept or name in own or not _is_method(member):
                    continue
                setattr(view, name, _refusal(f"{writable.__name__}.{name}"))
        view.READS = kept   # for the tests that check every write of every store raises
        return view

    return decorate


def _is_method(member: Any) -> bool:
    return isinstance(member, (staticmethod, classmethod)) or (callable(member) and not isinstance(member, type))


def _refusal(what: str) -> Callable[..., Any]:
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise ReadOnlyViolation(what)

    refused.__name__ = what.rsplit(".", 1)[-1]
    refused.__doc__ = f"Refused: {what} writes, and this is a read-only view."
    return refused


def refused_methods(view: type) -> list[str]:
    """The names ``refuse_writes`` replaced on ``view`` (for tests)."""
    return sorted(name for name, member in vars(view).items()
                  if callable(member) and (member.__doc__ or "").startswith("Refused: "))
