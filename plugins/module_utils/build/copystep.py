"""COPY and ADD as build steps: their cache inputs and their layer.

The inputs are read without writing: sources selected in the build context
(after ``.dockerignore``) and the digest of their content and metadata, or
the image a ``--from`` names (its ID stands for its whole tree). The step
itself mounts a scratch overlay over the parent (an empty one for
``--link``, whose layer must not depend on what is below it), copies
through ``copying.copy_into`` and takes the upper dir as the layer.
"""

from __future__ import annotations

import contextlib
from typing import Any

from . import history
from .copying import copy_into, heredoc_source
from .images import from_image_id, layer_of, lowerdirs
from .model import StageState
from .runstep import Scratch, readonly_root, writable_root
from .sources import SourceRoot, content_digest, select


def _where(builder: Any, instr: Any) -> str:
    return f"{builder.options.dockerfile}:{instr.line}"


def _patterns(instr: Any) -> list[str]:
    return [s for s in instr.sources if not s.startswith("<<")]


def _exclude(instr: Any) -> tuple[str, ...]:
    return tuple(getattr(instr, "exclude", ()) or ())


def _select(builder: Any, root: SourceRoot, instr: Any) -> list[Any]:
    return select(root, _patterns(instr), field_line=_where(builder, instr), instruction=type(instr).__name__.upper(),
                  parents=bool(getattr(instr, "parents", False)), exclude=_exclude(instr))


def _context_root(builder: Any) -> SourceRoot:
    return SourceRoot(builder.options.context, builder.ignore, "build context")


def inputs(builder: Any, state: StageState, instr: Any) -> tuple[Any, dict[str, Any]]:
    """(what the step will copy, the cache key's part for it)."""
    source = getattr(instr, "from_", None)
    if source:
        return None, {"from": from_image_id(builder, source)}
    if not _patterns(instr):
        return (None, []), {"content": None}
    root = _context_root(builder)
    selected = _select(builder, root, instr)
    local = [item for item in selected if item.kind == "local"]
    remote = [item.source for item in selected if item.kind != "local"]
    digest = content_digest(root, local, exclude=_exclude(instr))
    return (root, selected), {"content": digest, "remote": remote}


def run_copy(builder: Any, state: StageState, instr: Any, sources: Any) -> tuple[Scratch, Any]:
    engine = builder.engine
    scratch = Scratch.make(engine)
    try:
        lowers = lowerdirs(engine, state.record)
        link = bool(getattr(instr, "link", False))
        with contextlib.ExitStack() as stack:
            source = getattr(instr, "from_", None)
            if source:
                record = builder.store.resolve(from_image_id(builder, source))
                path = stack.enter_context(readonly_root(scratch, "from", lowerdirs(engine, record)))
                root = SourceRoot(path, None, f"stage {source}", keep_owner=True)
                selected = _select(builder, root, instr)
            else:
                _root, selected = sources if sources is not None else (None, [])
            selected = [*selected, *(heredoc_source(doc.name, doc.content) for doc in instr.heredocs or ())]
            users = stack.enter_context(readonly_root(scratch, "users", lowers)) if link else None
            with writable_root(scratch, [] if link else lowers) as (merged, _upper):
                copy_into(merged, selected, instr.dest, workdir=state.config["config"].get("WorkingDir") or "/",
                          chown=instr.chown, chmod=instr.chmod, field_line=_where(builder, instr),
                          instruction=type(instr).__name__.upper(), checksum=getattr(instr, "checksum", None),
                          unpack=getattr(instr, "unpack", None),
                          exclude=_exclude(instr), users_root=users,
                          parents=bool(getattr(instr, "parents", False)))
        return scratch, layer_of(builder, scratch, scratch.path / "upper", [])
    except BaseException:
        scratch.remove()
        raise


def created_by(instr: Any) -> str:
    """BuildKit's ``COPY [--parents] [--chown=..] [--chmod=..] src... <<doc... dest # buildkit``."""
    words = [type(instr).__name__.upper()]
    if getattr(instr, "parents", False):
        words.append("--parents")
    if instr.chown:
        words.append(f"--chown={instr.chown}")
    if instr.chmod:
        words.append(f"--chmod={instr.chmod}")
    words += _patterns(instr)
    words += [f"<<{doc.name}" for doc in instr.heredocs or ()]
    words.append(instr.dest)
    return " ".join(words) + history.LAYER_SUFFIX
