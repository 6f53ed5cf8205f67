"""The monitor protocol: every message round-trips, anything else is refused
with the field at fault, errors keep their kind, and the module stays cheap
to import (the CLI's fast lane loads it before the engine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.containers import protocol
from ansible_collections.berth.engine.plugins.module_utils.errors import (
    Conflict,
    InvalidInput,
    InvalidState,
    NotFound,
)

MESSAGES: list[Any] = [
    protocol.Ping(), protocol.Start(id="c1"), protocol.Stop(id="c1", signal=9, timeout=2.5), protocol.Wait(id="c1"),
    protocol.Pause(id="c1"), protocol.Unpause(id="c1"), protocol.Remove(id="c1", volumes=True),
    protocol.Create(name="web", spec={"image": "box", "env": {"A": "1"}}, state_root="/s", start=True,
                    stated=["env"]),
    protocol.Ok(), protocol.Error(kind="not_found", message="no such", field="name", hint="create it"),
    protocol.Pong(pid=1), protocol.Started(pid=2), protocol.Stopped(stopped=False),
    protocol.Exited(exit_code=None, status="exited"), protocol.Created(id="c1", log="/run/c1.log"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips_as_one_line(message: Any) -> None:
    line = protocol.encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    decode = protocol.decode if hasattr(message, "OP") else protocol.decode_reply
    assert decode(line) == message


def test_requests_and_replies_are_told_apart() -> None:
    with pytest.raises(InvalidInput):
        protocol.decode(protocol.encode(protocol.Ok()))
    with pytest.raises(InvalidInput):
        protocol.decode_reply(protocol.encode(protocol.Ping()))


@pytest.mark.parametrize(("line", "field"), [
    ('{"op": "cli", "argv": ["run"]}', "op"),          # the old argv op is gone
    ('{"op": null}', "op"),
    ('{"id": "c1"}', "op"),
    ("[1, 2]", "op"),
    ("{not json", "op"),
    ('{"op": "start"}', "start.id"),
    ('{"op": "start", "id": "c1", "signal": 9}', "start.signal"),
    ('{"op": "start", "id": 5}', "start.id"),
    ('{"op": "stop", "id": "c1", "signal": true}', "stop.signal"),
    ('{"op": "stop", "id": "c1", "timeout": "10"}', "stop.timeout"),
    ('{"op": "remove", "id": "c1", "volumes": 1}', "remove.volumes"),
    ('{"op": "create", "name": "w", "spec": [], "state_root": "/s"}', "create.spec"),
    ('{"op": "create", "name": "w", "spec": {}, "state_root": "/s", "stated": [1]}', "create.stated"),
])
def test_anything_else_is_refused_naming_the_field(line: str, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        protocol.decode(line)
    assert refused.value.field == field and refused.value.hint


def test_types_are_read_from_the_annotations() -> None:
    stop = protocol.decode('{"op": "stop", "id": "c1", "timeout": 3}')
    assert stop == protocol.Stop(id="c1", signal=15, timeout=3.0) and isinstance(stop.timeout, float)
    exited = protocol.decode_reply('{"reply": "exited", "exit_code": null, "status": "exited"}')
    assert exited.exit_code is None
    with pytest.raises(InvalidInput):
        protocol.decode_reply('{"reply": "exited", "exit_code": "0", "status": "exited"}')


@pytest.mark.parametrize("error_class", [NotFound, InvalidInput, InvalidState, Conflict])
def test_errors_keep_their_kind_field_and_hint(error_class: type) -> None:
    reply = protocol.decode_reply(protocol.encode(protocol.Error.of(error_class("bad", field="f", hint="do x"))))
    raised = reply.exception()
    assert raised.__class__ is error_class and (raised.message, raised.field, raised.hint) == ("bad", "f", "do x")


def test_an_unknown_error_kind_reads_as_invalid_state() -> None:
    raised = protocol.Error(kind="syscall", message="mount failed").exception()
    assert raised.__class__ is InvalidState and raised.message == "mount failed"


def test_expect() -> None:
    start = protocol.Start(id="c1")
    assert protocol.expect(protocol.Started(pid=3), protocol.Started, start).pid == 3
    with pytest.raises(NotFound):
        protocol.expect(protocol.Error(kind="not_found", message="gone"), protocol.Started, start)
    with pytest.raises(InvalidState, match="answered 'start' with 'ok'"):
        protocol.expect(protocol.Ok(), protocol.Started, start)


def test_messages_are_frozen() -> None:
    with pytest.raises(AttributeError):
        protocol.Start(id="c1").id = "c2"  # type: ignore[misc]


def test_the_wire_is_plain_json() -> None:
    wanted = {"op": "stop", "id": "c1", "signal": 15, "timeout": 10.0}
    assert json.loads(protocol.encode(protocol.Stop(id="c1"))) == wanted


def test_it_imports_only_the_standard_library_and_errors() -> None:
    """The fast lane loads it before the engine: no typing, no other engine module."""
    repo = Path(__file__).resolve().parents[3]
    script = f"""
import sys, types
for name, path in (("ansible_collections", None), ("ansible_collections.berth", None),
                   ("ansible_collections.berth.engine", {str(repo)!r})):
    module = types.ModuleType(name)
    module.__path__ = [path] if path else []
    sys.modules[name] = module
from ansible_collections.berth.engine.plugins.module_utils.containers import monitor_client, protocol
print(sorted(m.rsplit(".", 1)[-1] for m in sys.modules if m.startswith("ansible_collections.berth.engine.")))
print("typing" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "['containers', 'errors', 'module_utils', 'monitor_client', 'plugins', 'protocol']", out
    assert out[1] == "False"
