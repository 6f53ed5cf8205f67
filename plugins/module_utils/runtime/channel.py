"""The runtime <-> init messages: JSON datagrams over a SOCK_SEQPACKET pair.

Errors cross the fork as data and are rebuilt as the same error kind, so the
user sees "process.args: exec: ..." from `create` whichever process failed.
"""

from __future__ import annotations

# _socket, not socket: socket.py's enum wrappers cost ~2 ms per runtime start
import _socket
import contextlib
import json

from ..errors import AlreadyExists, BerthError, Conflict, InvalidInput, InvalidState, NotFound

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    import socket

_KINDS = {cls.kind: cls for cls in (NotFound, AlreadyExists, InvalidInput, InvalidState, Conflict)}


def pair() -> tuple[socket.socket, socket.socket]:
    return _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)


def send(sock: socket.socket, kind: str, **data: object) -> None:
    sock.send(json.dumps({"kind": kind, **data}).encode())


def receive(sock: socket.socket) -> dict:
    try:
        raw = sock.recv(1 << 16)
    except ConnectionResetError:
        # The peer exited with a message of ours unread (it failed before reading "go"): the
        # kernel reports that first, once; what the peer sent before (its error) is still queued.
        raw = sock.recv(1 << 16)
    return json.loads(raw) if raw else {"kind": "eof"}


def expect(sock: socket.socket, kind: str) -> dict:
    message = receive(sock)
    if message["kind"] != kind:
        raise InvalidState(f"runtime protocol: expected {kind}, got {message['kind']}")
    return message


def send_error(sock: socket.socket, err: BaseException) -> None:
    if isinstance(err, BerthError):
        data = {"error_kind": err.kind, "message": err.message, "field": err.field, "hint": err.hint}
    elif isinstance(err, OSError):
        data = {"error_kind": "invalid_state", "message": f"{err.strerror or err}"
                + (f": {err.filename}" if err.filename else ""), "field": None, "hint": None}
    else:
        data = {"error_kind": "invalid_state", "message": f"{type(err).__name__}: {err}", "field": None, "hint": None}
    data["exit_code"] = getattr(err, "exit_code", 1)
    with contextlib.suppress(OSError):
        send(sock, "error", **data)


def rebuild_error(message: dict) -> BerthError:
    cls = _KINDS.get(message.get("error_kind", ""), InvalidState)
    err = cls(message["message"], field=message.get("field"), hint=message.get("hint"))
    err.exit_code = message.get("exit_code", 1)  # type: ignore[attr-defined]
    return err
