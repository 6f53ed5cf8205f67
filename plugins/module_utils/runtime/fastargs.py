"""A parser for the commands a container engine calls per container (create,
start, run, state, kill, delete) without importing argparse.

It knows exactly the flags cli.py's argparse parser gives these commands and
returns ``None`` for anything else (help, another command, an unknown or
malformed flag), so argparse still handles every other case and every error
message. Why: argparse (with gettext) is ~2.5 ms of every container start.
"""

from __future__ import annotations

_GLOBAL_VALUES = {"--root": "root", "--log": "log", "--log-format": "log_format", "--criu": "criu",
                  "--rootless": "rootless"}
_GLOBAL_FLAGS = {"--debug": "debug", "--systemd-cgroup": "systemd_cgroup", "--no-new-keyring": "no_new_keyring"}
_CREATE_VALUES = {"-b": "bundle", "--bundle": "bundle", "--console-socket": "console_socket",
                  "--pid-file": "pid_file", "--preserve-fds": "preserve_fds"}
_CREATE_FLAGS = {"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring"}
_COMMANDS: dict[str, tuple[dict[str, str], dict[str, str], int]] = {
    # command: (flags taking a value, boolean flags, max positionals after the id)
    "create": (_CREATE_VALUES, _CREATE_FLAGS, 0),
    "run": (_CREATE_VALUES, {**_CREATE_FLAGS, "-d": "detach", "--detach": "detach", "--keep": "keep",
                             "--no-subreaper": "no_subreaper"}, 0),
    "start": ({}, {}, 0),
    "state": ({}, {}, 0),
    "kill": ({}, {"-a": "all", "--all": "all"}, 1),
    "delete": ({}, {"-f": "force", "--force": "force"}, 0),
}
_DEFAULTS = {"root": None, "log": None, "log_format": "text", "version": False, "bundle": ".", "console_socket": None,
             "pid_file": None, "preserve_fds": 0, "detach": False, "keep": False, "no_subreaper": False,
             "signal": "TERM", "all": False, "force": False}


def parse(argv: list[str], default_root: str) -> dict | None:
    """The parsed values (argparse's dest names), or None: let argparse do it."""
    values = {**_DEFAULTS, "root": default_root}
    position = _take_flags(argv, 0, _GLOBAL_VALUES, _GLOBAL_FLAGS, values)
    if position is None or position >= len(argv) or argv[position] not in _COMMANDS:
        return None
    command = argv[position]
    takes_value, flags, extra = _COMMANDS[command]
    positionals: list[str] = []
    position += 1
    while position < len(argv):
        token = argv[position]
        if token.startswith("-") and token != "-":
            next_position = _take_flags(argv, position, takes_value, flags, values, stop_at_positional=True)
            if next_position is None or next_position == position:
                return None
            position = next_position
        else:
            positionals.append(token)
            position += 1
    if not 1 <= len(positionals) <= 1 + extra or values["log_format"] not in ("text", "json"):
        return None
    values["command"], values["id"] = command, positionals[0]
    if len(positionals) > 1:
        values["signal"] = positionals[1]
    if isinstance(values["preserve_fds"], str):
        if not values["preserve_fds"].isdigit():
            return None
        values["preserve_fds"] = int(values["preserve_fds"])
    return values


def _take_flags(argv: list[str], position: int, takes_value: dict[str, str], flags: dict[str, str],
                values: dict, stop_at_positional: bool = False) -> int | None:
    """Consume flags from ``position``; the index of the first non-flag, or
    None for an unknown flag."""
    while position < len(argv) and argv[position].startswith("-"):
        name, has_value, inline = argv[position].partition("=")
        if name in takes_value:
            if has_value:
                values[takes_value[name]] = inline
                position += 1
            elif position + 1 < len(argv):
                values[takes_value[name]] = argv[position + 1]
                position += 2
            else:
                return None
        elif name in flags and not has_value:
            values[flags[name]] = True
            position += 1
        else:
            return None
        if stop_at_positional:
            return position
    return position
