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
from .inputs import exclude_of, patterns, select_sources, where
from .model import StageState
from .runstep import Scratch, readonly_root, writable_root
from .sources import SourceRoot


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
                selected = select_sources(builder, root, instr)
            else:
                _root, selected = sources if sources is not None else (None, [])
            selected = [*selected, *(heredoc_source(doc.name, doc.content) for doc in instr.heredocs or ())]
            users = stack.enter_context(readonly_root(scratch, "users", lowers)) if link else None
            with writable_root(scratch, [] if link else lowers) as (merged, _upper):
                copy_into(merged, selected, instr.dest, workdir=state.config["config"].get("WorkingDir") or "/",
                          chown=instr.chown, chmod=instr.chmod, field_line=where(builder, instr),
                          instruction=type(instr).__name__.upper(), checksum=getattr(instr, "checksum", None),
                          unpack=getattr(instr, "unpack", None),
                          exclude=exclude_of(instr), users_root=users,
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
    words += patterns(instr)
    words += [f"<<{doc.name}" for doc in instr.heredocs or ()]
    words.append(instr.dest)
    return " ".join(words) + history.LAYER_SUFFIX
