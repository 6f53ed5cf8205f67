"""The image config a stage carries, and what each metadata-only instruction
does to it (BuildKit's ``dispatch*`` functions are the reference).

A config here is the whole OCI image config document (``architecture``,
``os``, ``config``, ``rootfs``, ``history``); every function takes one and
returns the ``created_by`` of the history entry it adds (or None when the
instruction adds none, as ONBUILD in BuildKit).
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from ..errors import InvalidInput
from ..image.manifest import Platform
from . import history

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")
NANOS = 1_000_000_000


def now_iso() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def scratch_config() -> dict[str, Any]:
    host = Platform.host()
    doc: dict[str, Any] = {"architecture": host.architecture, "os": "linux", "config": {},
                           "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    if host.variant:
        doc["variant"] = host.variant
    return doc


def from_base(base: dict[str, Any]) -> dict[str, Any]:
    """A stage's starting config: the base image's, with PATH set as BuildKit
    sets it when the base has none, and its ONBUILD triggers taken out (they
    run now, in this build, and are not inherited further)."""
    doc = copy.deepcopy(base)
    doc.setdefault("config", {})
    doc.setdefault("history", [])
    doc.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    doc.pop("created", None)
    env = env_of(doc)
    if "PATH" not in env:
        set_env(doc, "PATH", DEFAULT_PATH)
    doc["config"].pop("OnBuild", None)
    return doc


def env_of(doc: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in doc.get("config", {}).get("Env") or []:
        key, _sep, value = str(item).partition("=")
        env[key] = value
    return env


def set_env(doc: dict[str, Any], key: str, value: str) -> None:
    """Replace the variable in place when present, else append (BuildKit's addEnv)."""
    existing = list(doc["config"].get("Env") or [])
    for index, item in enumerate(existing):
        if str(item).partition("=")[0] == key:
            existing[index] = f"{key}={value}"
            break
    else:
        existing.append(f"{key}={value}")
    doc["config"]["Env"] = existing


def shell_of(doc: dict[str, Any]) -> list[str]:
    return list(doc["config"].get("Shell") or DEFAULT_SHELL)


def with_shell(doc: dict[str, Any], command: tuple[str, ...], shell_form: bool) -> list[str]:
    if not shell_form:
        return list(command)
    return [*shell_of(doc), " ".join(command)]


def add_history(doc: dict[str, Any], created_by: str, *, empty: bool, created: str) -> None:
    entry: dict[str, Any] = {"created": created, "created_by": created_by, "comment": history.COMMENT}
    if empty:
        entry["empty_layer"] = True
    doc["history"].append(entry)


def apply_metadata(doc: dict[str, Any], instr: Any, state: Any) -> str | None:
    """Change ``doc`` as the (expanded) instruction says; the history line.
    ``state`` carries what a stage tracks beyond the config (whether CMD was
    set in this stage, for ENTRYPOINT's reset)."""
    kind = type(instr).__name__
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise InvalidInput(f"{kind} is not a metadata instruction", field="build.dockerfile")
    return handler(doc, instr, state)


def _env(doc: dict[str, Any], instr: Any, _state: Any) -> str:
    for key, value in instr.pairs:
        set_env(doc, key, value)
    return "ENV " + " ".join(f"{k}={v}" for k, v in instr.pairs)


def _label(doc: dict[str, Any], instr: Any, _state: Any) -> str:
    labels = dict(doc["config"].get("Labels") or {})
    for key, value in instr.pairs:
        labels[key] = value
    doc["config"]["Labels"] = labels
    return "LABEL " + " ".join(f"{k}={v}" for k, v in instr.pairs)


def _cmd(doc: dict[str, Any], instr: Any, state: Any) -> str:
    args = with_shell(doc, instr.command, instr.shell_form)
    doc["config"]["Cmd"] = args
    doc["config"]["ArgsEscaped"] = True
    state.cmd_set = True
    return "CMD " + history.go_quoted_list(args)


def _entrypoint(doc: dict[str, Any], instr: Any, state: Any) -> str:
    args = with_shell(doc, instr.command, instr.shell_form)
    doc["config"]["Entrypoint"] = args
    if not state.cmd_set:   # an inherited CMD makes no sense with a new ENTRYPOINT
        doc["config"]["Cmd"] = None
    return "ENTRYPOINT " + history.go_quoted_list(args)


def _expose(doc: dict[str, Any], instr: Any, _state: Any) -> str:
    ports = dict(doc["config"].get("ExposedPorts") or {})
    added = []
    for port in instr.ports:
        for one in _port_range(port):
            ports[one] = {}
            added.append(one)
    doc["config"]["ExposedPorts"] = ports
    return "EXPOSE " + history.go_list(f"{p}:{{}}" for p in sorted(set(added))).replace("[", "map[", 1)


def _port_range(text: str) -> list[str]:
    number, _sep, proto = text.partition("/")
    proto = (proto or "tcp").lower()
    low, _dash, high = number.partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        raise InvalidInput(f"EXPOSE {text!r} is not a port", field="build.dockerfile",
                           hint="write PORT, PORT/PROTO or FIRST-LAST[/PROTO], e.g. 80 or 53/udp") from None
    if proto not in ("tcp", "udp", "sctp") or not 0 < first <= last < 65536:
        raise InvalidInput(f"EXPOSE {text!r} is not a port", field="build.dockerfile",
                           hint="ports are 1-65535 and the protocol tcp, udp or sctp")
    return [f"{n}/{proto}" for n in range(first, last + 1)]


def _volume(doc: dict[str, Any], instr: Any, _state: Any) -> str:
    volumes = dict(doc["config"].get("Volumes") or {})
    for path in instr.paths:
        if not path:
            raise InvalidInput("VOLUME specified can not be an empty string", field="build.dockerfile")
        volumes[path] = {}
    doc["config"]["Volumes"] = volumes
    return "VOLUME " + history.go_list(instr.paths)


def _user(doc: dict[str, Any], instr: Any, _state: Any) -> str:
    doc["config"]["User"] = instr.user
    return f"USER {instr.user}"


def _healthcheck(doc: dict[str, Any], instr: Any, _state: Any) -> str:
    if instr.test is None:
        doc["config"]["Healthcheck"] = {"Test": ["NONE"]}
        return "HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}"
    check: dict[str, Any] = {"Test": list(instr.test)}
    for key, value in (("Interval", instr.interval), ("Timeout", instr.timeout),
                       ("StartPeriod", instr.start_period), ("StartInterval", instr.start_interval)):
        if value:
            check[key] = round(value * NANOS)
    if instr.retries:
        check["Retries"] = instr.retries
    doc["config"]["Healthcheck"] = check
    return history.healthcheck_created_by(instr.test, instr.interval, instr.timeout, instr.start_period,
                                          instr.start_interval, instr.retries)


def _stopsignal(doc: dict[str, Any], instr: Any, _state: Any) -> str:
    doc["config"]["StopSignal"] = instr.signal
    return f"STOPSIGNAL {instr.signal}"


def _shell(doc: dict[str, Any], instr: Any, _state: Any) -> str:
    doc["config"]["Shell"] = list(instr.command)
    return "SHELL " + history.go_list(instr.command)


def _onbuild(doc: dict[str, Any], instr: Any, _state: Any) -> None:
    doc["config"]["OnBuild"] = [*(doc["config"].get("OnBuild") or []), instr.expression]


def _maintainer(doc: dict[str, Any], instr: Any, _state: Any) -> str:
    doc["author"] = instr.name
    return f"MAINTAINER {instr.name}"


_HANDLERS: dict[str, Any] = {
    "Env": _env, "Label": _label, "Cmd": _cmd, "Entrypoint": _entrypoint, "Expose": _expose,
    "Volume": _volume, "User": _user, "Healthcheck": _healthcheck, "Stopsignal": _stopsignal,
    "Shell": _shell, "Onbuild": _onbuild, "Maintainer": _maintainer,
}
METADATA_KINDS = frozenset(_HANDLERS) | {"Arg"}
