"""The monitor's protocol: one typed message per request and per reply,
shared by the client (``monitor_client.py``), the CLI's fast lane and the
monitor, so both ends read the same definition.

Wire: one JSON object per line on ``<run_root>/monitor.sock``. A request is
``{"op": "<op>", <fields>}``, a reply ``{"reply": "<kind>", <fields>}``;
every request gets exactly one reply (``Wait`` and ``Stop`` when the
container has exited). ``decode`` refuses a line that is not one of these
messages with exactly its fields and their types: an unknown op is an
``InvalidInput``, which the monitor answers with an ``Error`` reply.

    Ping                      -> Pong(pid, digest)   digest: engine_digest of the code the monitor runs
    Start(id)                 -> Started(pid)
    Stop(id, signal, timeout) -> Stopped(stopped)    SIGKILL after timeout
    Wait(id)                  -> Exited(exit_code, status)
    Pause(id), Unpause(id)    -> Ok                  the cgroup freezer
    Remove(id, volumes)       -> Ok                  forced: the fast lane's attached `run --rm`
    Create(name, spec, state_root, start, stated) -> Created(id, log)
    Reload                    -> Resolving(serving, failed)   re-read the overlay networks' resolvers
    any request               -> Error(kind, message, field, hint)

``Create.spec`` is ``ContainerSpec.to_dict()``.

The messages are small frozen records declared like dataclasses (annotated
fields, class-level defaults) on a base class of their own, not with
``dataclasses``: the fast lane imports this before the engine, and
``@dataclass`` on fifteen classes costs it several milliseconds of ``exec``
per start. The annotations' text is also what ``decode`` checks each field
against, so there is no typing import either. Nor json, which imports re
(and with it enum, functools and collections: ~8 ms of CPU here): ``dumps`` and
``loads`` call json's own C accelerator as json does (the bottom of this file).
"""

from __future__ import annotations

from ..errors import ERROR_KINDS, BerthError, InvalidInput, InvalidState

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    M = TypeVar("M")

REQUESTS: dict[str, type[Request]] = {}
REPLIES: dict[str, type[Reply]] = {}


class Message:
    """A frozen record whose fields are its annotations, in order; a field
    with a class-level value has that default (lists and dicts are copied)."""

    FIELDS: tuple[str, ...] = ()
    TYPES: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the class's own annotations (strings: postponed evaluation); inspect would cost the fast lane its import
        cls.TYPES = dict(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063
        cls.FIELDS = tuple(cls.TYPES)

    def __init__(self, **values: Any) -> None:
        for name in self.FIELDS:
            if name in values:
                value = values.pop(name)
            elif name in type(self).__dict__:
                default = type(self).__dict__[name]
                value = type(default)(default) if isinstance(default, (list, dict)) else default
            else:
                raise TypeError(f"{type(self).__name__} needs {name}")
            object.__setattr__(self, name, value)
        if values:
            raise TypeError(f"{type(self).__name__} has no field {sorted(values)[0]}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.as_dict() == other.as_dict()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]   # fields may be dicts

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS)
        return f"{type(self).__name__}({shown})"

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}


class Request(Message):
    OP = ""

    def __init_subclass__(cls, op: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.OP = op
        REQUESTS[op] = cls


class Reply(Message):
    KIND = ""

    def __init_subclass__(cls, kind: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.KIND = kind
        REPLIES[kind] = cls


# -- requests -------------------------------------------------------------------------
class Ping(Request, op="ping"):
    """Is a monitor serving this run root (which process, running which engine code)?"""


class Start(Request, op="start"):
    id: str


class Stop(Request, op="stop"):
    """Signal the container's init; SIGKILL every process in its cgroup after ``timeout`` seconds."""

    id: str
    signal: int = 15
    timeout: float = 10.0


class Wait(Request, op="wait"):
    """Reply when the container's process exits (at once if it is not running)."""

    id: str


class Pause(Request, op="pause"):
    id: str


class Unpause(Request, op="unpause"):
    id: str


class Remove(Request, op="remove"):
    """Remove the container (force); with ``volumes``, its anonymous volumes."""

    id: str
    volumes: bool = False


class Create(Request, op="create"):
    """Create a container from a spec (``ContainerSpec.to_dict()``) and, with
    ``start``, start it. ``stated``: the options the command line gave (kept in
    the record). ``state_root`` is the client's: a monitor serves one."""

    name: str
    spec: dict
    state_root: str
    start: bool = False
    stated: list[str] = []


class Reload(Request, op="reload"):
    """An overlay network was created, changed or removed: serve the resolvers the records hold now."""


# -- replies --------------------------------------------------------------------------
class Ok(Reply, kind="ok"):
    pass


class Error(Reply, kind="error"):
    """A failed request: the engine's error taxonomy (errors.py), on the wire."""

    kind: str
    message: str
    field: str | None = None
    hint: str | None = None
    exit_code: int | None = None   # a command that could not be executed: 127 not found, 126 not executable

    @classmethod
    def of(cls, err: BerthError) -> Error:
        code = getattr(err, "exit_code", None)
        return cls(kind=err.kind, message=err.message, field=err.field, hint=err.hint,
                   exit_code=code if code in (126, 127) else None)

    def exception(self) -> BerthError:
        """The error to raise on the client's side (an unknown kind reads as InvalidState)."""
        error_class = _ERROR_CLASSES.get(self.kind, InvalidState)
        err = error_class(self.message, field=self.field, hint=self.hint)
        if self.exit_code is not None:
            err.exit_code = self.exit_code  # type: ignore[attr-defined]
        return err


class Pong(Reply, kind="pong"):
    """``digest``: version.engine_digest of the code the monitor runs ("" from a monitor before digests)."""

    pid: int
    digest: str = ""


class Started(Reply, kind="started"):
    pid: int


class Stopped(Reply, kind="stopped"):
    """``stopped``: whether a live process was stopped (False: there was none)."""

    stopped: bool


class Exited(Reply, kind="exited"):
    exit_code: int | None
    status: str


class Created(Reply, kind="created"):
    id: str
    log: str


class Resolving(Reply, kind="resolving"):
    """The overlay resolvers after a Reload: "<network> <gateway>:<port>" each, and "<network>: <why>"."""

    serving: list[str] = []
    failed: list[str] = []


_ERROR_CLASSES = {error_class.kind: error_class for error_class in ERROR_KINDS}


# -- the wire -------------------------------------------------------------------------
def encode(message: Request | Reply) -> bytes:
    """One JSON line: a request's ``op`` or a reply's ``reply``, then its fields."""
    tag = {"op": message.OP} if isinstance(message, Request) else {"reply": message.KIND}
    return dumps({**tag, **message.as_dict()}).encode() + b"\n"


def decode(line: bytes | str) -> Request:
    """The request on this line; InvalidInput for anything else."""
    return _decode(line, "op", REQUESTS, "request")  # type: ignore[return-value]


def decode_reply(line: bytes | str) -> Reply:
    """The reply on this line; InvalidInput for anything else."""
    return _decode(line, "reply", REPLIES, "reply")  # type: ignore[return-value]


def _decode(line: bytes | str, tag: str, registry: dict[str, Any], what: str) -> Message:
    hint = f"one of {', '.join(registry)}"
    try:
        body = loads(line)
    except ValueError:
        raise InvalidInput(f"the monitor's {what} is not JSON", field=tag, hint=hint) from None
    if not isinstance(body, dict):
        raise InvalidInput(f"the monitor's {what} is not a JSON object", field=tag, hint=hint)
    name = body.pop(tag, None)
    message_class = registry.get(name) if isinstance(name, str) else None
    if message_class is None:
        raise InvalidInput(f"unknown {what} {name!r}", field=tag, hint=hint)
    takes = f"{name} takes {', '.join(message_class.FIELDS) or 'no fields'}"
    unknown = sorted(set(body) - set(message_class.FIELDS))
    if unknown:
        raise InvalidInput(f"{name}: unknown fields {unknown}", field=f"{name}.{unknown[0]}", hint=takes)
    missing = [f for f in message_class.FIELDS if f not in body and f not in message_class.__dict__]
    if missing:
        raise InvalidInput(f"{name}: missing {', '.join(missing)}", field=f"{name}.{missing[0]}", hint=takes)
    return message_class(**{key: _typed(value, message_class.TYPES[key], f"{name}.{key}")
                            for key, value in body.items()})


# the annotation's text -> the JSON types it accepts (bool is an int to isinstance: refused apart)
_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
                                       "dict": (dict,)}


def _typed(value: Any, annotation: str, where: str) -> Any:
    name, optional = annotation, False
    if annotation.endswith(" | None"):
        name, optional = annotation[: -len(" | None")], True
    if value is None and optional:
        return None
    if name == "list[str]":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InvalidInput(f"{where} is not a list of strings", field=where, hint="give a list of strings")
        return value
    accepted = _TYPES[name]
    if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
        raise InvalidInput(f"{where} is {type(value).__name__}, not {name}", field=where,
                           hint=f"give a {name}{' or null' if optional else ''}")
    return float(value) if name == "float" else value


def expect(reply: Reply, expected: type[M], request: Request) -> M:
    """The reply when it is what ``request`` asks for; an Error reply raised as
    its BerthError; another reply (a monitor of another version?) an InvalidState."""
    if isinstance(reply, Error):
        raise reply.exception()
    if not isinstance(reply, expected):
        wanted = getattr(expected, "KIND", expected.__name__)
        raise InvalidState(f"the monitor answered {request.OP!r} with {reply.KIND!r}, not {wanted!r}",
                           hint="a monitor of another berth version may be running; it exits once its "
                                "containers stop")
    return reply


# -- JSON without importing json ---------------------------------------------------
# json's C accelerator (_json), called as json.dumps(value, separators=(",", ":"))
# and json.loads(text) call it. Anything else goes to json itself, imported then —
# no accelerator (not CPython), a BOM or an encoding other than UTF-8, and every
# error — so each result and each error is json's own.
try:
    import _json
except ImportError:  # pragma: no cover  (CPython has it)
    _json = None

_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}   # json.decoder's
_WHITESPACE = " \t\n\r"          # json.decoder.WHITESPACE
_NOT_UTF8 = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")   # BOMs: json.detect_encoding reads those
_JSON = object()   # "ask json"


class _DecoderSettings:
    """json.JSONDecoder()'s defaults, where its C scanner reads them."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


_scan = _json.make_scanner(_DecoderSettings()) if _json is not None else None


def dumps(value: dict[str, Any]) -> str:
    """``json.dumps(value, separators=(",", ":"))``."""
    if _json is not None and isinstance(value, dict):
        encoder = _json.make_encoder({}, _unserialisable, _json.encode_basestring_ascii, None, ":", ",", False,
                                     False, True)   # markers, default, ..., sort_keys, skipkeys, allow_nan
        try:
            return "".join(encoder(value, 0))
        except (TypeError, ValueError, RecursionError):
            pass   # json raises its own error
    import json

    return json.dumps(value, separators=(",", ":"))


def loads(text: bytes | str) -> Any:
    """``json.loads(text)``."""
    if _scan is not None:
        try:
            value = _scanned(text)
        except (StopIteration, ValueError, RecursionError):   # json raises its own error
            value = _JSON
        if value is not _JSON:
            return value
    import json

    return json.loads(text)


def _scanned(text: bytes | str) -> Any:
    if isinstance(text, bytes):
        if text.startswith(_NOT_UTF8) or b"\0" in text[:4]:
            return _JSON
        text = text.decode("utf-8", "surrogatepass")   # what json.loads decodes a UTF-8 line with
    elif not isinstance(text, str) or text.startswith("\ufeff"):
        return _JSON
    value, end = _scan(text, len(text) - len(text.lstrip(_WHITESPACE)))  # type: ignore[misc]
    return value if len(text.rstrip(_WHITESPACE)) == end else _JSON   # else: "Extra data"


def _unserialisable(value: Any) -> Any:
    raise TypeError(type(value).__name__)
