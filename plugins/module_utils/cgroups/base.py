"""What v1 and v2 managers share: path rules, plan = desired writes minus
what the kernel already reports, apply with ordering retries, removal."""

from __future__ import annotations

import errno
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import Conflict, InvalidInput, InvalidState
from .detect import Hierarchy
from .protocol import Write
from .units import device_number

if TYPE_CHECKING:  # pydantic stays out of the runtime's fast path
    from .resources import Resources

_COMPONENT = re.compile(r"^[A-Za-z0-9_.@:+-]+$")
FREEZE_TIMEOUT = 10.0


def check_path(path: str, field: str = "path") -> str:
    """A cgroup path relative to the hierarchy root, e.g. ``berth/web``."""
    if not path or path.startswith("/"):
        raise InvalidInput(f"{path!r} is not a relative cgroup path", field=field,
                           hint="give a path below the cgroup root such as berth/web (no leading /)")
    parts = path.split("/")
    if any(p in ("", ".", "..") or not _COMPONENT.fullmatch(p) for p in parts):
        raise InvalidInput(f"{path!r} is not a valid cgroup path", field=field,
                           hint="use names of letters, digits and . _ - @ : + separated by /, without ..")
    return path


class BaseManager:
    version = ""

    def __init__(self, path: str, hierarchy: Hierarchy,
                 device: Callable[[str, str], str] = device_number) -> None:
        self.path = check_path(path)
        self.hierarchy = hierarchy
        self.device = device
        self.warnings: list[str] = []

    # -- to be provided by a driver ------------------------------------------
    def dir_for(self, controller: str) -> Path:
        raise NotImplementedError

    def dirs(self) -> list[Path]:
        raise NotImplementedError

    def desired(self, resources: Resources) -> list[Write]:
        raise NotImplementedError

    def create(self, controllers: set[str] | None = None) -> None:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------
    def exists(self) -> bool:
        dirs = self.dirs()
        return bool(dirs) and all(d.is_dir() for d in dirs)

    def read(self, writes: list[Write]) -> dict[str, str | None]:
        """Current contents of the files ``writes`` touch (None: absent)."""
        current: dict[str, str | None] = {}
        for write in writes:
            path = self.dir_for(write.controller) / write.file
            try:
                current[write.file] = path.read_text()
            except OSError:
                current[write.file] = None
        return current

    def plan(self, resources: Resources) -> list[Write]:
        desired = self.desired(resources)
        current = self.read(desired) if self.exists() else {}
        return [w for w in desired if not w.satisfied_by(current.get(w.file))]

    def apply(self, resources: Resources) -> list[Write]:
        """Create the cgroup if needed and write what differs; returns the writes made."""
        self.create({w.controller for w in self.desired(resources)})
        pending = self.plan(resources)
        done: list[Write] = []
        # Some limits constrain each other (v1 memory vs memory+swap, quota vs
        # period): a write the kernel refuses now may pass once the others are in.
        for _round in range(2):
            failed: list[tuple[Write, OSError]] = []
            for write in pending:
                try:
                    self._write(write)
                    done.append(write)
                except OSError as err:
                    failed.append((write, err))
            pending = [w for w, _err in failed]
            if not failed:
                return done
        write, err = failed[0]
        raise InvalidInput(f"the kernel refused {write.value!r} for {write.file} in {self.path}: {err.strerror}",
                           field=write.controller, hint="check the value against the host's limits")

    def _write(self, write: Write) -> None:
        path = self.dir_for(write.controller) / write.file
        if not path.exists():
            self.warnings.append(f"{write.file} does not exist on this kernel ({self.version}); "
                                 f"{write.value!r} was not applied")
            return
        path.write_text(write.value)

    def add_process(self, pid: int) -> None:
        self.create()
        for directory in self.dirs():
            (directory / "cgroup.procs").write_text(str(pid))

    def processes(self) -> list[int]:
        pids: set[int] = set()
        for directory in self.dirs():
            try:
                pids.update(int(x) for x in (directory / "cgroup.procs").read_text().split())
            except OSError:
                continue
        return sorted(pids)

    def remove(self) -> None:
        for directory in self.dirs():
            try:
                directory.rmdir()
            except FileNotFoundError:
                continue
            except OSError as err:
                if err.errno == errno.EBUSY:
                    raise Conflict(f"cgroup {self.path} still has processes or child cgroups", field="path",
                                   hint="stop them, move them, or use absent_processes: kill") from None
                raise

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + FREEZE_TIMEOUT
        while not done():
            if time.monotonic() > deadline:
                raise InvalidState(f"cgroup {self.path} did not finish {what} within {FREEZE_TIMEOUT:.0f}s",
                                   field="path")
            time.sleep(0.01)


def read_int(path: Path, key: str | None = None) -> int | None:
    """An integer file, or one ``key value`` line of a flat-keyed file."""
    try:
        text = path.read_text()
    except OSError:
        return None
    if key is None:
        value = text.strip()
        return None if value == "max" else int(value)
    for line in text.splitlines():
        name, _sep, value = line.partition(" ")
        if name == key:
            return int(value)
    return None
