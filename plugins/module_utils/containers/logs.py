"""Container logs: timestamped JSON lines, rotated by size like Docker's
json-file driver (``max_size`` bytes per file, ``max_file`` files kept).
The ``local`` driver keeps the same files (with Docker's local rotation
defaults, spec.log_defaults); ``none`` keeps nothing: the monitor still
drains the container's pipes, into a ``Discard``, and reading is refused
as Docker refuses it.

One line per chunk of output: {"time": RFC 3339 ns, "stream": "stdout", "log": text}.
"""

from __future__ import annotations

import os
import time

from .protocol import loads  # json.loads without importing json: the fast lane follows logs

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: the fast lane follows logs (Follower)
if TYPE_CHECKING:
    from pathlib import Path


def _stamp() -> str:
    now = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now % 10**9:09d}Z"


class LogWriter:
    def __init__(self, path: Path, max_size: int = 0, max_file: int = 1) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size
        import json  # here: the fast lane imports this module (Follower) without json

        self.dumps = json.dumps

    def write(self, stream: str, data: bytes) -> None:
        line = self.dumps({"time": _stamp(), "stream": stream, "log": data.decode(errors="replace")}) + "\n"
        encoded = line.encode()
        if self.max_size and self.size and self.size + len(encoded) > self.max_size:
            self._rotate()
        os.write(self.fd, encoded)
        self.size += len(encoded)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_file == 1:
            os.truncate(self.path, 0)
        else:
            for index in range(self.max_file - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                newer = self.path.with_name(f"{self.path.name}.{index - 1}") if index > 1 else self.path
                if newer.exists():
                    os.replace(newer, older)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.size = 0

    def close(self) -> None:
        os.close(self.fd)


class Discard:
    """The none driver's writer: the output is read from the pipes and dropped."""

    def write(self, stream: str, data: bytes) -> None:
        return None

    def close(self) -> None:
        return None


def writer(path: Path, driver: str | None, max_size: int = 0, max_file: int = 1) -> LogWriter | Discard:
    """The writer of a container's log driver."""
    return Discard() if driver == "none" else LogWriter(path, max_size, max_file)


def require_readable(name: str, config: dict) -> None:
    """Reading logs of a container whose driver keeps none is an error (Docker's words)."""
    if config.get("log_driver") == "none":
        from ..errors import InvalidState

        raise InvalidState(f"container {name}: configured logging driver does not support reading",
                           field="log_driver", hint="its log_driver is none: its output is not kept")


def files(path: Path) -> list[Path]:
    """The log files, oldest first."""
    rotated = sorted(path.parent.glob(f"{path.name}.*"), key=lambda p: int(p.suffix[1:]) if p.suffix[1:].isdigit()
                     else 0, reverse=True)
    return [*rotated, *([path] if path.exists() else [])]


def read(path: Path, tail: int | None = None, since: str | None = None) -> list[dict]:
    """Log entries, oldest first; ``tail`` keeps the last N, ``since`` an RFC 3339 lower bound."""
    entries = []
    for log_file in files(path):
        for line in log_file.read_text(errors="replace").splitlines():
            try:
                entry = loads(line)
            except ValueError:
                continue  # a line cut by a crash mid-write
            if since is None or entry.get("time", "") >= since:
                entries.append(entry)
    return entries[-tail:] if tail else entries


class Follower:
    """New entries of a log as they are written (``logs -f``), across rotations.
    Takes a str too: the CLI's fast lane follows without importing pathlib."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.fd: int | None = None
        self.pending = b""

    def poll(self) -> list[dict]:
        entries = []
        if self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return entries
        while True:
            chunk = os.read(self.fd, 65536)
            if chunk:
                self.pending += chunk
                continue
            if self._rotated():
                os.close(self.fd)
                self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                continue
            break
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            try:
                entries.append(loads(line))
            except ValueError:
                continue
        return entries

    def _rotated(self) -> bool:
        try:
            return os.stat(self.path).st_ino != os.fstat(self.fd).st_ino  # type: ignore[arg-type]
        except FileNotFoundError:
            return False

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
