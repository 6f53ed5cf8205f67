"""What the runtime remembers of a container between commands: one JSON file
per container under ``--root`` (no daemon). Liveness is read from /proc each
time, with the process start time guarding against pid reuse."""

from __future__ import annotations

import fcntl
import json
import os

from .. import lifecycle as lc
from ..errors import InvalidInput, InvalidState, NotFound

OCI_VERSION = "1.0.2"
# the characters of an id (ASCII word characters, "+", ".", "-"): a set, not a regex, as compiling one at
# import is a millisecond of every runtime command
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-")
PENDING = "creating.json"  # a create's own notes until state.json exists


def check_id(container_id: str) -> str:
    if not container_id or not _ID_CHARS.issuperset(container_id) or container_id in (".", ".."):
        raise InvalidInput(f"invalid container id {container_id!r}", field="container-id",
                           hint="use letters, digits and _ + . -")
    return container_id


def state_dir(root: str, container_id: str) -> str:
    return os.path.join(root, check_id(container_id))


def reserve(root: str, container_id: str) -> tuple[str, int]:
    """Create the container's state directory and lock it (flock) until
    ``release``: its existence makes two `create`s of one id fail cleanly, and
    the lock tells a crashed create (a directory without state.json, lock
    free) from one still under way. Returns (directory, lock descriptor)."""
    os.makedirs(root, mode=0o700, exist_ok=True)
    directory = state_dir(root, container_id)
    os.mkdir(directory, 0o711)  # FileExistsError: the caller decides (see container._reserve)
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        fd = -1
    if fd >= 0:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # a `delete --force` may have removed it between mkdir and flock: then it is not ours
        if os.fstat(fd).st_nlink > 0 and _same_file(fd, directory):
            return directory, fd
        os.close(fd)
    raise InvalidState(f"the state directory of container {container_id} was removed while it was being created",
                       field="container-id", hint="another process ran delete --force on it; create it again")


def _same_file(fd: int, path: str) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def try_lock(directory: str) -> int | None:
    """The state directory locked without waiting; None when another process
    holds its lock (a create under way). FileNotFoundError when it is gone."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def has_state(directory: str) -> bool:
    return os.path.exists(os.path.join(directory, "state.json"))


def save_pending(directory: str, data: dict) -> None:
    """What a crashed create leaves for the cleanup (its cgroup), written
    before anything is made that would need cleaning."""
    with open(os.path.join(directory, PENDING), "w") as handle:
        json.dump(data, handle)


def load_pending(directory: str) -> dict:
    try:
        with open(os.path.join(directory, PENDING)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(directory: str, data: dict) -> None:
    temporary = os.path.join(directory, ".state.json.tmp")
    with open(temporary, "w") as handle:
        json.dump(data, handle)
    os.replace(temporary, os.path.join(directory, "state.json"))


def load(root: str, container_id: str) -> dict:
    path = os.path.join(state_dir(root, container_id), "state.json")
    try:
        with open(path) as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise NotFound(f"container {container_id} does not exist", field="container-id",
                       hint=f"list containers with `berth-runtime --root {root} list`") from None


def list_ids(root: str) -> list[str]:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [n for n in names if os.path.exists(os.path.join(root, n, "state.json"))]


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks, or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def alive(data: dict) -> bool:
    pid = data.get("pid") or 0
    return pid > 0 and start_time(pid) == data.get("pid_start")


def status(data: dict, frozen: bool) -> str:
    """The OCI status (lifecycle.OCI_STATES): the init's liveness, whether it
    still waits on exec.fifo, and the freezer's word."""
    if not alive(data):
        return lc.OCI_STOPPED
    if os.path.exists(os.path.join(data["state_dir"], "exec.fifo")):
        return lc.OCI_CREATED
    return lc.OCI_PAUSED if frozen else lc.OCI_RUNNING


def oci_state(data: dict, current: str) -> dict:
    """The runtime-spec state object (plus runc's informative extras)."""
    state = {"ociVersion": OCI_VERSION, "id": data["id"], "status": current, "bundle": data["bundle"],
             "rootfs": data["rootfs"], "created": data["created"], "owner": ""}
    state["pid"] = data["pid"] if current != lc.OCI_STOPPED else 0
    if data.get("annotations"):
        state["annotations"] = data["annotations"]
    return state
