"""``docker commit``: a container's writable layer and settings as a new
image (moby's ``CreateImageFromContainer``).

- The container may be running or stopped; a running one is frozen while
  its upper dir is read (``pause``, the default, as Docker), and thawed
  afterwards, on error too; one that was already paused stays paused.
- The layer is the upper dir through ``layerdiff.diff_upper``, leaving out
  the stubs the runtime made for its mount points (``/proc``, ``/sys``,
  ``/dev``, ``/etc/hosts``, ``/etc/resolv.conf``, ``/etc/hostname``, volume
  and tmpfs targets, and parents the image lacked) — Docker keeps those in
  an init layer that is never committed. No change at all means no layer
  (``empty_layer: true`` in the history, as moby's ``layer.IsEmpty``).
- The config is the parent image's with the container's settings over it
  (Cmd, Entrypoint, Env, Labels, WorkingDir, User, ExposedPorts, Volumes,
  StopSignal, Healthcheck: what Docker's container config holds), then the
  ``changes`` applied in order, each a Dockerfile line of the kinds moby's
  ``validCommitCommands`` accepts, expanded against the config's Env as it
  goes. Unlike Docker the parent's ONBUILD triggers and SHELL are kept (a
  commit is no build that consumes them).
- History: ``{created, created_by: the container's Cmd joined by spaces
  (moby: strings.Join(ContainerConfig.Cmd, " ")), author, comment}``; the
  author also as the config's ``author``, the message as ``comment``.

Changes are checked before anything is paused or written, so a refused
change leaves no blob, snapshot or record behind.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .. import lifecycle
from ..containers.record import ContainerRecord
from ..containers.service import ContainerService
from ..containers.store import ContainerStore
from ..engine import Engine
from ..errors import InvalidInput, NotFound
from ..image.assemble import NewLayer, assemble, image_config
from ..image.compressor import LayerSink
from ..image.records import ImageRecord
from ..image.reference import Reference
from ..image.store import ImageStore
from . import config as cfg
from .dockerfile import DockerfileError, parse
from .expand import Expander
from .instructions import typed
from .layerdiff import diff_upper

# moby builder/dockerfile/builder.go validCommitCommands
COMMIT_KEYWORDS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
                   "VOLUME", "WORKDIR")
# what the runtime itself mounts in every container (runtime/defaults.py, containers/networking.py)
RUNTIME_STUBS = ("/proc", "/sys", "/dev", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname")
FIELD = "commit.changes"


@dataclass
class _ChangeState:
    cmd_set: bool = False   # whether a CMD change came before an ENTRYPOINT one (ENTRYPOINT resets Cmd)


def commit_container(engine: Engine, ref: str, *, changes: list[str] | tuple[str, ...] = (),
                     message: str | None = None, author: str | None = None, pause: bool = True,
                     tag: Reference | None = None, compression: str = "gzip") -> ImageRecord:
    engine.require_writable(f"commit container {ref}")
    containers = ContainerStore(engine)
    record = containers.find_record(ref)
    if record is None:
        raise NotFound(f"container {ref!r} does not exist", field="commit.container",
                       hint="list containers with `berth ps -a`")
    store = ImageStore(engine)
    parent = _parent(store, record)
    parent_doc = image_config(store, parent) if parent is not None else cfg.scratch_config()
    doc = _config_of(parent_doc, record)
    created_by = " ".join(doc["config"].get("Cmd") or ())   # the container's, before the changes
    apply_changes(doc, list(changes))           # refused changes stop here: nothing written yet
    _finish(doc, created_by, message, author)
    directory = containers.directory(record.id) / "bundle"
    exclude = runtime_stubs(directory, engine, parent)
    with _paused(engine, record, pause):
        layer = _write_layer(engine, directory / "upper", exclude, compression)
    try:
        if layer is None:
            doc["history"][-1]["empty_layer"] = True
        else:
            doc["rootfs"]["diff_ids"].append(layer.digests.diff_id)
        return assemble(store, parent, [layer] if layer else [], doc, source="commit", tag=tag)
    finally:
        if layer is not None:
            with contextlib.suppress(FileNotFoundError):
                layer.path.unlink()


def apply_changes(doc: dict[str, Any], changes: list[str]) -> None:
    """Apply ``changes`` (Dockerfile lines) to the image config ``doc`` as
    ``docker commit --change`` does; InvalidInput naming commit.changes."""
    if not changes:
        return
    try:
        nodes = parse("\n".join(changes), path=FIELD).nodes
    except DockerfileError as err:
        raise InvalidInput(err.message, field=FIELD, hint=err.hint) from None
    for node in nodes:
        if node.keyword not in COMMIT_KEYWORDS:
            raise InvalidInput(f"{node.keyword} is not a valid change command", field=FIELD,
                               hint=f"commit accepts only {', '.join(COMMIT_KEYWORDS)}")
    state = _ChangeState()
    try:
        for node in nodes:
            instr = typed(node, FIELD).expand(Expander(path=FIELD), cfg.env_of(doc))
            if type(instr).__name__ == "Workdir":
                current = doc["config"].get("WorkingDir") or "/"
                doc["config"]["WorkingDir"] = str(PurePosixPath(current, instr.path))  # type: ignore[attr-defined]
            else:
                cfg.apply_metadata(doc, instr, state)
                if type(instr).__name__ == "Cmd":
                    state.cmd_set = True
    except DockerfileError as err:
        raise InvalidInput(err.message, field=FIELD, hint=err.hint) from None
    except InvalidInput as err:
        raise InvalidInput(err.message, field=FIELD, hint=err.hint) from None


# -- the config ------------------------------------------------------------------------
def _parent(store: ImageStore, record: ContainerRecord) -> ImageRecord | None:
    if not record.image_id:
        return None
    try:
        return store.get(record.image_id)
    except NotFound:
        raise NotFound(f"the image {record.image} ({record.image_id}) of container {record.name!r} is gone",
                       field="commit.container",
                       hint="pull or load the container's image again, then commit") from None


def _config_of(parent: dict[str, Any], record: ContainerRecord) -> dict[str, Any]:
    """The parent's config document with the container's settings over it."""
    doc = copy.deepcopy(parent)
    for key in ("container_config", "container", "docker_version", "author", "comment"):
        doc.pop(key, None)
    doc.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    doc["rootfs"]["diff_ids"] = list(doc["rootfs"].get("diff_ids") or [])
    doc["history"] = list(doc.get("history") or [])
    image = dict(doc.get("config") or {})
    spec = record.spec
    merged = dict(image)
    env = spec.effective("env", image)
    labels = spec.effective("labels", image)
    values: dict[str, Any] = {
        "Cmd": spec.effective("command", image) or None,
        "Entrypoint": spec.effective("entrypoint", image) or None,
        "Env": [f"{k}={v}" for k, v in env.items()] or None,
        "Labels": labels or None,
        "WorkingDir": spec.working_dir or image.get("WorkingDir") or None,
        "User": spec.user or image.get("User") or None,
        "StopSignal": spec.stop_signal or image.get("StopSignal") or None,
        "Healthcheck": _healthcheck(spec.healthcheck) or image.get("Healthcheck"),
        "ExposedPorts": {**(image.get("ExposedPorts") or {}), **_exposed(spec.published_ports)} or None,
        "Volumes": {**(image.get("Volumes") or {}), **_anonymous_volumes(spec.volumes)} or None,
    }
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    doc["config"] = merged
    return doc


def _healthcheck(check: dict[str, Any] | None) -> dict[str, Any] | None:
    """The spec's healthcheck (seconds) in the image config's form (nanoseconds)."""
    if not check:
        return None
    out: dict[str, Any] = {"Test": list(check["test"])}
    for key, name in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod")):
        if check.get(key):
            out[name] = round(check[key] * cfg.NANOS)
    if check.get("retries"):
        out["Retries"] = check["retries"]
    return out


def _exposed(published: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``-p`` makes the container port exposed too (Docker's container config)."""
    ports: dict[str, dict[str, Any]] = {}
    for item in published:
        spec, _sep, proto = item.rpartition(":")[2].partition("/")
        low, _dash, high = spec.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            for number in range(int(low), int(high or low) + 1):
                ports[f"{number}/{proto or 'tcp'}"] = {}
    return ports


def _anonymous_volumes(volumes: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``-v /path`` (no source) is an anonymous volume: Docker's Config.Volumes."""
    return {item: {} for item in volumes if item.startswith("/") and ":" not in item}


def _finish(doc: dict[str, Any], created_by: str, message: str | None, author: str | None) -> None:
    created = cfg.now_iso()
    doc["created"] = created
    entry: dict[str, Any] = {"created": created, "created_by": created_by}
    if author:
        entry["author"] = doc["author"] = author
    if message:
        entry["comment"] = doc["comment"] = message
    doc["history"].append(entry)


# -- the layer -------------------------------------------------------------------------
def runtime_stubs(bundle: Path, engine: Engine, parent: ImageRecord | None) -> list[str]:
    """The container paths the runtime may have made as mount points: every
    mount destination of the bundle, and their parent directories unless the
    container changed one's owner or mode (a parent the image has is copied up
    into the upper dir when a stub is made in it: that copy is no change)."""
    destinations = set(RUNTIME_STUBS)
    with contextlib.suppress(OSError, ValueError):
        config = json.loads((bundle / "config.json").read_text())
        destinations.update(m["destination"] for m in config.get("mounts") or []
                            if isinstance(m, dict) and isinstance(m.get("destination"), str))
    lowers = engine.snapshots.lowerdirs(parent.top_chain_id) if parent and parent.top_chain_id else []
    found = {os.path.normpath(d) for d in destinations if d.startswith("/") and d.strip("/")}
    for path in list(found):
        for ancestor in PurePosixPath(path).parents:
            if str(ancestor) != "/" and _unchanged_dir(bundle / "upper", lowers, str(ancestor)):
                found.add(str(ancestor))
    return sorted(found)


def _unchanged_dir(upper: Path, lowers: list[Path], path: str) -> bool:
    """The upper dir's copy of ``path`` has the owner and mode of the image's
    (the topmost lower that has it), or the image has none."""
    for lower in lowers:
        with contextlib.suppress(OSError):
            image = os.lstat(f"{lower}{path}")
            try:
                mine = os.lstat(f"{upper}{path}")
            except OSError:
                return True
            return (mine.st_mode, mine.st_uid, mine.st_gid) == (image.st_mode, image.st_uid, image.st_gid)
    return True


@contextlib.contextmanager
def _paused(engine: Engine, record: ContainerRecord, pause: bool) -> Iterator[None]:
    """Freeze a running container for the read; thaw it after, also on error."""
    service = ContainerService(engine)
    if not pause or service.current(record.id).lifecycle != lifecycle.RUNNING:
        yield
        return
    service.pause(record.id, True)
    try:
        yield
    finally:
        service.pause(record.id, False)


def _write_layer(engine: Engine, upper: Path, exclude: list[str], compression: str) -> NewLayer | None:
    """The upper dir as a compressed blob in the store's scratch; None when it holds no change."""
    scratch = engine.layout.tmp
    scratch.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="commit-", suffix=".layer", dir=scratch)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, LayerSink(out, compression) as sink:
            entries = diff_upper(upper, sink, exclude=exclude)
            digests = sink.close()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if entries == 0:
        path.unlink(missing_ok=True)
        return None
    return NewLayer(digests, path)
