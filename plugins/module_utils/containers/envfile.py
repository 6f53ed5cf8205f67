"""``env_file``: a file of KEY=value lines, read as Docker's CLI reads
``--env-file`` (shared by the container module and ``berth run``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import InvalidInput
from ..strict import brief

ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
ENV_FILE_LIMIT = 4 << 20  # bytes; an env file is a few KEY=value lines


def read_env_file(path: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """An ``env_file`` read as Docker's CLI reads ``--env-file`` (docker/cli
    opts/file.go, not compose's dotenv): UTF-8 (a BOM is dropped), one
    ``KEY=value`` per line, leading whitespace and ``#`` comment lines
    skipped, the value kept exactly (no quotes removed, no trimming), and a
    bare ``KEY`` taken from berth's own environment (left out when unset).

    Stricter than Docker: keys are ``[A-Za-z_][A-Za-z0-9_]*`` (Docker takes
    any key without whitespace) and ``export KEY=...`` is refused with a hint,
    as Docker refuses it (its key would contain a space)."""
    environ = os.environ if environ is None else environ  # type: ignore[assignment]
    data = _env_file_bytes(path)
    env: dict[str, str] = {}
    for number, raw in enumerate(data.split(b"\n"), 1):
        line = _env_line(path, number, raw.removesuffix(b"\r")).lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        _env_key(path, number, key)
        if "\0" in value:
            raise InvalidInput(f"line {number} of {path}: the value of {key} contains a NUL byte", field="env_file",
                               hint="remove the NUL character")
        if sep:
            env[key] = value
        elif key in environ:  # Docker: a bare name passes the caller's value through
            env[key] = environ[key]
    return env


def _env_file_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(ENV_FILE_LIMIT + 1)
    except OSError as err:
        raise InvalidInput(f"cannot read {path}: {err.strerror}", field="env_file",
                           hint="give a readable file of KEY=value lines") from None
    except ValueError:  # a NUL in the path
        raise InvalidInput(f"{brief(str(path))} is not a file path", field="env_file",
                           hint="give the path of a file of KEY=value lines") from None
    if len(data) > ENV_FILE_LIMIT:
        raise InvalidInput(f"{path} is larger than {ENV_FILE_LIMIT // (1 << 20)} MiB", field="env_file",
                           hint="an env file holds KEY=value lines; is this the right file?")
    return data.removeprefix(b"\xef\xbb\xbf")


def _env_line(path: Path, number: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"line {number} of {path} is not valid UTF-8 (byte {err.start + 1})", field="env_file",
                           hint="save the file as UTF-8") from None


def _env_key(path: Path, number: int, key: str) -> None:
    if ENV_KEY.fullmatch(key):
        return
    where = f"line {number} of {path}"
    if key.startswith("export") and key[6:7] in (" ", "\t"):
        raise InvalidInput(f"{where} starts with 'export'", field="env_file",
                           hint="write KEY=value without 'export ' (an env file is not a shell script; Docker "
                                "refuses it too)")
    if not key:
        raise InvalidInput(f"{where} has no variable name", field="env_file", hint="write KEY=value")
    if any(c.isspace() for c in key):
        raise InvalidInput(f"{where}: variable {brief(key)} contains whitespace", field="env_file",
                           hint="write KEY=value with no space before '='; # starts a comment line")
    raise InvalidInput(f"{where}: {brief(key)} is not a variable name", field="env_file",
                       hint="names are letters, digits and '_', not starting with a digit")
