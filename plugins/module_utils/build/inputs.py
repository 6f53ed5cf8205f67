"""What a step reads, found without writing anything (so check mode can key
it): a RUN's environment, network and the content its bind mounts read; a
COPY/ADD's sources selected in the build context after ``.dockerignore``
and the digest of their content and metadata, or the image ``--from`` names."""

from __future__ import annotations

from typing import Any

from . import config as cfg
from .images import from_image_id
from .model import PROXY_ARGS, StageState
from .sources import SourceRoot, content_digest, select


def run_env(state: StageState, build_args: dict[str, str]) -> dict[str, str]:
    """A RUN's environment: the image's ENV, the stage's ARGs, the proxy args given to the build."""
    proxies = {k: v for k, v in build_args.items() if k in PROXY_ARGS}
    return {**proxies, **state.args, **cfg.env_of(state.config)}


def run_network(builder: Any, instr: Any) -> str:
    stated = getattr(instr, "network", None)
    return builder.options.network if stated in (None, "", "default") else stated


def mount_input(builder: Any, mount: Any) -> dict[str, Any]:
    """A RUN --mount as its cache key sees it: the spec, plus the content a bind reads."""
    data = dict(vars(mount)) if not hasattr(mount, "__dataclass_fields__") else \
        {k: getattr(mount, k) for k in mount.__dataclass_fields__}
    if data.get("type") == "bind":
        data["content"] = _bind_content(builder, mount)
    return data


def _bind_content(builder: Any, mount: Any) -> str:
    source = getattr(mount, "from_", None)
    if source:
        return "image:" + from_image_id(builder, source)
    root = SourceRoot(builder.options.context, builder.ignore, "the build context")
    return content_digest(root, select(root, [getattr(mount, "source", None) or "."],
                                       field_line=f"{builder.options.dockerfile}:RUN --mount"))


def where(builder: Any, instr: Any) -> str:
    return f"{builder.options.dockerfile}:{instr.line}"


def patterns(instr: Any) -> list[str]:
    return [s for s in instr.sources if not s.startswith("<<")]


def exclude_of(instr: Any) -> tuple[str, ...]:
    return tuple(getattr(instr, "exclude", ()) or ())


def select_sources(builder: Any, root: SourceRoot, instr: Any) -> list[Any]:
    return select(root, patterns(instr), field_line=where(builder, instr), instruction=type(instr).__name__.upper(),
                  parents=bool(getattr(instr, "parents", False)), exclude=exclude_of(instr))


def _context_root(builder: Any) -> SourceRoot:
    return SourceRoot(builder.options.context, builder.ignore, "build context")


def copy_inputs(builder: Any, state: StageState, instr: Any) -> tuple[Any, dict[str, Any]]:
    """(what the step will copy, the cache key's part for it)."""
    source = getattr(instr, "from_", None)
    if source:
        return None, {"from": from_image_id(builder, source)}
    if not patterns(instr):
        return (None, []), {"content": None}
    root = _context_root(builder)
    selected = select_sources(builder, root, instr)
    local = [item for item in selected if item.kind == "local"]
    remote = [item.source for item in selected if item.kind != "local"]
    digest = content_digest(root, local, exclude=exclude_of(instr))
    return (root, selected), {"content": digest, "remote": remote}
