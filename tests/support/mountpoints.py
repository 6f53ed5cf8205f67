"""Mount points on the controller's filesystem that several fleets share.

A fleet's hosts bind their private directories (/var/lib/berth, /opt, ...)
over the controller's; a missing one is made first. With pytest workers,
two fleets run at once: if the one that made /var/lib/berth removed it while
the other's hosts still had it bound, the kernel detaches those binds (an
rmdir is allowed across mount namespaces), and that host's engine writes
into the controller's real /var/lib/berth. So the directories are made by
whoever needs one first and removed by whoever leaves last: a record under
/run lists what was made and the processes using it (dead ones do not
count, so a killed worker does not keep them forever), changed under a
short exclusive flock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCK = Path("/run/berth-test-mountpoints.lock")
RECORD = Path("/run/berth-test-mountpoints.json")


class SharedMountpoints:
    def __init__(self) -> None:
        self._held = False

    def acquire(self, paths: list[Path]) -> None:
        """Every path exists (missing ones made and recorded), this process counted as a user."""
        with _record() as record:
            for path in paths:
                if not path.exists():
                    path.mkdir(parents=True)
                    record["made"].append(str(path))
            record["users"].append(os.getpid())
        self._held = True

    def release(self) -> None:
        """This process no longer uses them; the last user removes what was made."""
        if not self._held:
            return
        self._held = False
        with _record() as record:
            record["users"].remove(os.getpid())
            if any(_alive(pid) for pid in record["users"]):
                return
            for path in reversed(record["made"]):
                with contextlib.suppress(OSError):
                    Path(path).rmdir()
            record["made"], record["users"] = [], []


@contextlib.contextmanager
def _record() -> Iterator[dict[str, Any]]:
    """The record, read and written back under the exclusive lock (removed when it is empty)."""
    fd = _locked()
    try:
        try:
            record = json.loads(RECORD.read_text())
        except (FileNotFoundError, ValueError):
            record = {"made": [], "users": []}
        yield record
        if record["made"] or record["users"]:
            RECORD.write_text(json.dumps(record))
        else:
            with contextlib.suppress(FileNotFoundError):
                RECORD.unlink()
            LOCK.unlink()   # while held: a waiter finds its inode gone and opens the new one (_locked)
    finally:
        os.close(fd)


def _locked() -> int:
    """The lock file open and held exclusively, reopened if another process unlinked it meanwhile."""
    while True:
        fd = os.open(LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(FileNotFoundError):
            if os.stat(LOCK).st_ino == os.fstat(fd).st_ino:
                return fd
        os.close(fd)


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()
