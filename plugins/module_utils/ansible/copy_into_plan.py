"""The plan of a ``container_copy_into`` task (plans as data: plan.py).

Desired: the source (``content`` or the local file at ``path``) with its
mode and owner; actual: what the container holds at ``container_path`` now
(containers/file_into.py, read the same over a read-only view and over the
writable engine). The file is written only when its kind, content (size,
then sha256), mode, owner or group differ; ``force: true`` writes anyway,
``force: false`` only when nothing is there, as community.docker's
``docker_container_copy_into``. The diff is that module's: the text of the
old and new file when both are text and small, markers otherwise.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import stat
from dataclasses import dataclass
from typing import Any

from ..containers.file_into import (
    ABSENT,
    MAX_DIFF_BYTES,
    Entry,
    Source,
    copy_into,
    default_owner,
    is_running,
    look,
    normalise,
    refuse_hidden_path,
    summarise,
)
from ..containers.record import ContainerRecord
from ..containers.service import ContainerService
from ..containers.store import ContainerStore
from ..engine import Engine
from ..errors import InvalidInput, NotFound
from ..plan import Plan, Step
from .copy_into_models import CopyIntoRequest

MAX_MODE = 0o7777
MAX_ID = 0xFFFFFFFE   # (uid_t)-1 means "unchanged" to chown


@dataclass(frozen=True)
class WriteFile(Step):
    container: str    # the container's id
    path: str         # resolved: the last component is replaced, never followed
    source: Source
    mode: int
    uid: int
    gid: int

    def describe(self) -> str:
        what = "symlink" if self.source.target is not None else f"mode {self.mode:04o}"
        return f"write {self.path} ({what}, owner {self.uid}:{self.gid})"

    def execute(self, context: Engine) -> None:
        copy_into(context, self.container, self.path, self.source, mode=self.mode, uid=self.uid, gid=self.gid)


def plan_copy_into(engine: Engine, request: CopyIntoRequest) -> Plan:
    record = _container(engine, request.container)
    path = normalise(request.container_path)
    source, wanted = read_source(request)
    if request.ignore_stopped_containers and not is_running(record):
        plan = Plan(facts={"container_path": path})
        plan.warnings.append(f"container {record.name} is not running: nothing copied "
                             "(ignore_stopped_containers: true)")
        return plan
    uid, gid = _owner(engine, record, request)
    wanted = Entry(wanted.kind, wanted.mode, uid, gid, wanted.size, wanted.digest, wanted.target, wanted.text,
                   wanted.binary, wanted.larger)
    if not is_running(record):   # before the look: a mount point may not exist in its layers at all
        refuse_hidden_path(engine, record, path)
    real, current = look(engine, record, path, follow=request.follow, want_text=True)
    if real != path and not is_running(record):
        refuse_hidden_path(engine, record, real)
    plan = Plan(before=_facts(real, current), after=_facts(real, wanted))
    plan.differences = differences(current, wanted)
    if needs_write(current, wanted, request.force, real):
        plan.add(WriteFile(record.id, real, source, wanted.mode or 0, uid, gid))
    plan.facts = {"container_path": real, "mode": f"{wanted.mode or 0:04o}", "owner_id": uid, "group_id": gid,
                  "diff": text_diff(real, current, wanted if plan.changed else current, source.path)}
    return plan


def _container(engine: Engine, ref: str) -> ContainerRecord:
    """The container's record, corrected when its process died unwatched (over a view: not written)."""
    record = ContainerStore(engine).find_record(ref)
    if record is None:
        raise NotFound(f"no container named {ref}", field="container",
                       hint="create it first (berth.engine.container), or check the name")
    return ContainerService(engine).refreshed(record)


def _owner(engine: Engine, record: ContainerRecord, request: CopyIntoRequest) -> tuple[int, int]:
    if (request.owner_id is None) != (request.group_id is None):
        given, missing = ("owner_id", "group_id") if request.group_id is None else ("group_id", "owner_id")
        raise InvalidInput(f"{given} is given without {missing}", field=missing,
                           hint="give both owner_id and group_id, or neither (the container's user then)")
    if request.owner_id is None or request.group_id is None:
        return default_owner(engine, record)
    for name, value in (("owner_id", request.owner_id), ("group_id", request.group_id)):
        if not 0 <= value <= MAX_ID:
            raise InvalidInput(f"{value} is not a uid/gid", field=name, hint=f"a number from 0 to {MAX_ID}")
    return request.owner_id, request.group_id


# -- the source ---------------------------------------------------------------------
def read_source(request: CopyIntoRequest) -> tuple[Source, Entry]:
    """What to write and its facts (owner filled in later)."""
    if (request.path is None) == (request.content is None):
        raise InvalidInput("give exactly one of path and content", field="path" if request.path else "content",
                           hint="path: a file on the host; content: the file's text (or base64 with "
                                "content_is_b64: true)")
    mode = parse_mode(request.mode)
    if request.content is not None:
        if mode is None:
            raise InvalidInput("content needs a mode", field="mode", hint="e.g. mode: '0644'")
        data = _content_bytes(request.content, request.content_is_b64)
        return Source(content=data), Entry("file", mode, **summarise(io.BytesIO(data), want_text=True))  # type: ignore[arg-type]
    return _local_source(request.path or "", request.local_follow, mode)


def _content_bytes(content: str, is_b64: bool) -> bytes:
    if not is_b64:
        return content.encode()
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("content is not valid base64", field="content",
                           hint="encode it with the b64encode filter, or set content_is_b64: false") from None


def _local_source(path: str, follow: bool, mode: int | None) -> tuple[Source, Entry]:
    try:
        info = os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist on the host", field="path",
                           hint="give the path of a file on the managed node") from None
    except OSError as err:
        raise _unreadable(path, err) from None
    wanted_mode = stat.S_IMODE(info.st_mode) if mode is None else mode
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(path)
        return Source(target=target), Entry("symlink", wanted_mode, target=target, text=target)
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(f"{path} is not a regular file or a symbolic link", field="path",
                           hint="copy one file; for directories use berth cp")
    try:
        with open(path, "rb") as handle:
            facts = summarise(handle, want_text=True)
    except OSError as err:
        raise _unreadable(path, err) from None
    return Source(path=path), Entry("file", wanted_mode, **facts)  # type: ignore[arg-type]


def _unreadable(path: str, err: OSError) -> InvalidInput:
    return InvalidInput(f"{path} cannot be read: {err.strerror}", field="path", hint="check its permissions")


def parse_mode(value: int | str | None) -> int | None:
    """An int as given (YAML's 0644 is already octal), a string as octal
    (``'0644'``, ``'644'``, ``'0o644'``), as ansible.builtin.copy reads it."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInput("mode is not a number", field="mode", hint="give it as an octal string, e.g. '0644'")
    if isinstance(value, int):
        number = value
    else:
        text = value.strip().lower().removeprefix("0o")
        if not text or len(text) > 8 or any(c not in "01234567" for c in text):
            raise InvalidInput(f"{value!r} is not an octal mode", field="mode", hint="e.g. '0644' or '0755'")
        number = int(text, 8)
    if not 0 <= number <= MAX_MODE:
        raise InvalidInput(f"{value!r} is not a file mode", field="mode", hint="from 0000 to 7777 (octal)")
    return number


# -- comparing ----------------------------------------------------------------------
def needs_write(current: Entry, wanted: Entry, force: bool | None, path: str) -> bool:
    if current.kind == "directory" and force is not False:
        raise InvalidInput(f"{path} is a directory in the container", field="container_path",
                           hint="name the file itself, e.g. a path below that directory")
    if force is not None:
        return force or current.kind == "absent"
    return bool(differences(current, wanted))


def differences(current: Entry, wanted: Entry) -> list[dict[str, Any]]:
    """What differs, as other berth modules report it (option, before, after)."""
    if current.kind != wanted.kind:
        return [{"option": "kind", "before": current.kind, "after": wanted.kind}]
    found = []
    if wanted.kind == "symlink" and current.target != wanted.target:
        found.append({"option": "target", "before": current.target, "after": wanted.target})
    if wanted.kind == "file" and (current.size, current.digest) != (wanted.size, wanted.digest):
        found.append({"option": "content", "before": f"sha256:{current.digest}", "after": f"sha256:{wanted.digest}"})
    if wanted.kind == "file" and current.mode != wanted.mode:
        found.append({"option": "mode", "before": f"{current.mode or 0:04o}", "after": f"{wanted.mode or 0:04o}"})
    for option, before, after in (("owner_id", current.uid, wanted.uid), ("group_id", current.gid, wanted.gid)):
        if before != after:
            found.append({"option": option, "before": before, "after": after})
    return found


def _facts(path: str, entry: Entry) -> dict[str, Any]:
    if entry.kind == "absent":
        return {}
    return {"path": path, "kind": entry.kind, "mode": f"{entry.mode or 0:04o}", "owner_id": entry.uid,
            "group_id": entry.gid, "size": entry.size, "sha256": entry.digest, "target": entry.target}


def text_diff(path: str, current: Entry, after: Entry, local: str | None) -> dict[str, Any]:
    """Ansible's file diff: before/after text with headers, or the callback's
    markers for binary (``dst_binary``/``src_binary``) and large content."""
    diff: dict[str, Any] = {"before_header": path, "after_header": local or path}
    for side, entry, marker in (("before", current, "dst"), ("after", after, "src")):
        if entry.binary:
            diff[f"{marker}_binary"] = 1
        elif entry.larger:
            diff[f"{marker}_larger"] = MAX_DIFF_BYTES
        else:
            diff[side] = _diff_text(entry)
    return diff


def _diff_text(entry: Entry) -> str:
    if entry is ABSENT or entry.kind == "absent":
        return ""
    if entry.kind == "symlink":
        return entry.target or ""
    if entry.kind != "file":
        return f"({entry.kind})"
    return entry.text or ""
