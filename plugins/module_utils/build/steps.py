"""Executing one build step: the new image it makes on top of its parent.

Metadata-only instructions change the config and add a history entry with
``empty_layer: true``; RUN, COPY/ADD and WORKDIR write through an overlay
(a container's for RUN, a scratch mount for the others) and the upper dir
becomes the layer (``layerdiff.diff_upper``), or no layer at all when the
step changed nothing. Every step's image is assembled all-or-nothing
(``image.assemble``); scratch directories go whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from ..image.records import ImageRecord
from . import config as cfg
from . import copystep, history
from .commit import runtime_stubs
from .images import from_image_id, layer_of, lowerdirs, pull_base
from .inputs import run_env, run_network
from .model import StageState
from .runstep import RunRequest, Scratch, readonly_root, run_container, writable_root

CACHE_MOUNTS = "buildcache-mounts"


# -- entry points the executor calls --------------------------------------------------------------------------
def execute(builder: Any, state: StageState, instr: Any, sources: Any) -> ImageRecord:
    kind = type(instr).__name__ if instr is not None else "StageEnd"
    doc = state.next_config()
    created = cfg.now_iso()
    if kind == "Run":
        return _with_layer(builder, state, doc, created, _run(builder, state, instr), _run_created_by(state, instr))
    if kind in ("Copy", "Add"):
        layer = copystep.run_copy(builder, state, instr, sources)
        return _with_layer(builder, state, doc, created, layer, copystep.created_by(instr))
    if kind == "Workdir":
        return _workdir(builder, state, instr, doc, created)
    if kind == "Arg":
        text = " ".join(n if v is None else f"{n}={v}" for n, v in instr.pairs)
        cfg.add_history(doc, f"ARG {text}", empty=True, created=created)
    elif kind == "LabelsStep":
        doc["config"]["Labels"] = {**(doc["config"].get("Labels") or {}), **instr.labels}
    elif kind != "StageEnd":
        created_by = cfg.apply_metadata(doc, instr, state)
        if created_by is not None:
            cfg.add_history(doc, created_by, empty=True, created=created)
    return _assemble(builder, state, doc, created, None)


# -- layers and images -----------------------------------------------------------------------------------------
def _assemble(builder: Any, state: StageState, doc: dict[str, Any], created: str, layer: Any) -> ImageRecord:
    from ..image.assemble import assemble

    doc["created"] = created
    layers = [layer] if layer is not None else []
    if layer is not None:
        doc["rootfs"]["diff_ids"] = [*doc["rootfs"].get("diff_ids", []), layer.digests.diff_id]
    record = assemble(builder.store, state.record, layers, doc, source="build", tag=None)
    state.record, state.config = record, doc
    return record


def _with_layer(builder: Any, state: StageState, doc: dict[str, Any], created: str, made: Any,
                created_by: str) -> ImageRecord:
    """``made`` is (scratch, layer-or-None): the scratch goes once the image exists."""
    scratch, layer = made
    try:
        cfg.add_history(doc, created_by, empty=layer is None, created=created)
        return _assemble(builder, state, doc, created, layer)
    finally:
        scratch.remove()


# -- RUN ----------------------------------------------------------------------------------------------------------
def _run_argv(state: StageState, instr: Any) -> list[str]:
    heredocs = getattr(instr, "heredocs", ()) or ()
    if not instr.shell_form:
        return list(instr.command)
    script = " ".join(instr.command)
    if heredocs and script.strip() in (f"<<{heredocs[0].name}", f"<<-{heredocs[0].name}",
                                       f"<<'{heredocs[0].name}'", f'<<"{heredocs[0].name}"') \
            and len(heredocs) == 1:
        return [*cfg.shell_of(state.config), heredocs[0].content]   # RUN <<EOF: the body is the script
    for doc in heredocs:   # the shell reads its own heredocs: hand it the whole text
        script += "\n" + doc.content + ("" if doc.content.endswith("\n") else "\n") + doc.name
    return [*cfg.shell_of(state.config), script]


def _run_created_by(state: StageState, instr: Any) -> str:
    args = [(name, state.args[name]) for name in state.arg_order if name in state.args]
    return history.run_created_by(_run_argv(state, instr), args)


def _run(builder: Any, state: StageState, instr: Any) -> tuple[Scratch, Any]:
    engine = builder.engine
    if state.record is None:
        raise InvalidInput(f"{builder.options.dockerfile}:{instr.line}: RUN on an empty (scratch) image",
                           field="build.dockerfile", hint="RUN needs a shell and a command in the image")
    mounts_scratch = Scratch.make(engine)
    try:
        with contextlib.ExitStack() as stack:
            mounts = [_run_mount(builder, stack, mounts_scratch, m) for m in getattr(instr, "mounts", ()) or ()]
            request = RunRequest(image_id=state.record.id, argv=_run_argv(state, instr),
                                 env=run_env(state, builder.options.args),
                                 user=state.config["config"].get("User"),
                                 workdir=state.config["config"].get("WorkingDir"), network=run_network(builder, instr),
                                 mounts=mounts, where=f"{builder.options.dockerfile}:{instr.line}",
                                 output=builder.options.output)
            result_dir = run_container(engine, request)
    finally:
        mounts_scratch.remove()
    scratch = Scratch(result_dir)
    try:
        exclude = runtime_stubs(result_dir, engine, state.record)   # mount points the runtime made
        return scratch, layer_of(builder, scratch, result_dir / "upper", exclude)
    except BaseException:
        scratch.remove()
        raise


def _run_mount(builder: Any, stack: contextlib.ExitStack, scratch: Scratch, mount: Any) -> dict[str, Any]:
    kind = mount.type or "bind"
    target = mount.target
    if kind == "tmpfs":
        return {"type": "tmpfs", "target": target, **({"tmpfs_size": mount.size} if mount.size else {})}
    if kind == "cache":
        return {"type": "bind", "target": target, "source": str(_cache_dir(builder, mount)),
                "read_only": bool(mount.readonly)}
    if kind != "bind":
        raise InvalidInput(f"RUN --mount=type={kind} is not supported", field="build.dockerfile",
                           hint="use type=bind, cache or tmpfs")
    if mount.from_:
        record = builder.store.resolve(from_image_id(builder, mount.from_))
        root = stack.enter_context(readonly_root(scratch, f"from-{len(stack._exit_callbacks)}",
                                                 lowerdirs(builder.engine, record)))
    else:
        root = builder.options.context
    source = _inside(root, mount.source or ".", builder)
    return {"type": "bind", "target": target, "source": str(source), "read_only": True}


def _inside(root: Path, relative: str, builder: Any) -> Path:
    """``relative`` under ``root``, never outside it (symlinks resolved within the root)."""
    from ..saferoot import fd_path, open_in_root, open_root

    rel = posixpath.normpath("/" + relative).lstrip("/")
    root_fd = open_root(root)
    try:
        fd = open_in_root(root_fd, rel or ".", os.O_PATH)
    except FileNotFoundError:
        raise NotFound(f"{builder.options.dockerfile}: RUN --mount source {relative!r} does not exist",
                       field="build.dockerfile", hint="give a path inside the build context (or the --from image)"
                       ) from None
    finally:
        os.close(root_fd)
    try:
        return Path(os.readlink(fd_path(fd)))   # the real path: the bind is made by another process
    finally:
        os.close(fd)


def _cache_dir(builder: Any, mount: Any) -> Path:
    import hashlib

    ident = mount.id or mount.target
    path = builder.engine.layout.state_root / CACHE_MOUNTS / hashlib.sha256(ident.encode()).hexdigest()[:32]
    if not path.is_dir():
        path.mkdir(parents=True, mode=0o755)
        mode = int(mount.mode, 8) if isinstance(mount.mode, str) and mount.mode else (mount.mode or 0o755)
        os.chmod(path, mode)
        os.chown(path, int(mount.uid or 0), int(mount.gid or 0))
    return path


# -- COPY / ADD -------------------------------------------------------------------------------------------------
# -- WORKDIR ------------------------------------------------------------------------------------------------------
def _workdir(builder: Any, state: StageState, instr: Any, doc: dict[str, Any], created: str) -> ImageRecord:
    current = doc["config"].get("WorkingDir") or "/"
    path = posixpath.normpath(posixpath.join(current, instr.path)) if instr.path else current
    doc["config"]["WorkingDir"] = path
    if path == "/":
        cfg.add_history(doc, "WORKDIR /", empty=True, created=created)
        return _assemble(builder, state, doc, created, None)
    scratch = Scratch.make(builder.engine)
    lowers = lowerdirs(builder.engine, state.record)
    try:
        with writable_root(scratch, lowers) as (merged, _upper):
            _make_workdir(merged, path, state.config["config"].get("User"), lowers)
        layer = layer_of(builder, scratch, scratch.path / "upper", [])
    except BaseException:
        scratch.remove()
        raise
    return _with_layer(builder, state, doc, created, (scratch, layer), f"WORKDIR {path}")


def _make_workdir(merged: Path, path: str, user: str | None, lowers: list[Path]) -> None:
    """mkdir -p, 0755; the directories it creates are owned by the stage's USER
    (BuildKit's Mkdir WithUser), existing ones are left as they are; symlinks
    are followed only inside the root."""
    from ..saferoot import make_dirs, open_in_root, open_root
    from ..userdb import resolve_user

    owner = resolve_user(user, lowers, field_name="build.dockerfile") if user else None
    rel = path.strip("/")
    prefixes = ["/".join(rel.split("/")[: i + 1]) for i in range(len(rel.split("/")))]
    root_fd = open_root(merged)
    try:
        missing = [p for p in prefixes if not _exists(root_fd, p)]
        os.close(make_dirs(root_fd, rel, 0o755))
        for created in missing if owner is not None else ():
            fd = open_in_root(root_fd, created, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fchown(fd, owner.uid, owner.gid)
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)


def _exists(root_fd: int, rel: str) -> bool:
    from ..saferoot import open_in_root

    try:
        os.close(open_in_root(root_fd, rel, os.O_PATH))
    except FileNotFoundError:
        return False
    return True


__all__ = ["execute", "pull_base"]
