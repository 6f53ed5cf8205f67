"""What each step's cache key covers, computed without writing anything.

A key is the parent image, the instruction after expansion (its line and
original text left out, so moving a step does not invalidate it), and what
the step reads: RUN — its environment (ENV and the ARGs in scope), user,
workdir, shell, network and mount specs, and the content of what it binds;
COPY/ADD — the digest of every selected source's content and metadata after
``.dockerignore`` (``sources.content_digest``: no mtimes), or the image a
``--from`` names; WORKDIR — the user who will own the directory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..image.manifest import Platform
from . import config as cfg
from .cache import step_key
from .inputs import copy_inputs, mount_input, run_env, run_network
from .model import StageState

MAX_DOCKERFILE = 4 << 20


@dataclass(frozen=True)
class LabelsStep:
    """The task's ``labels``, applied to the final image (no history entry, as BuildKit's --label)."""

    labels: dict[str, str]
    line: int = 0
    original: str = "(labels)"


def digest(parts: dict[str, Any]) -> str:
    return step_key(parts)


def platform_args() -> dict[str, str]:
    """BuildKit's automatic platform ARGs (global scope)."""
    host = Platform.host()
    platform = f"linux/{host.architecture}" + (f"/{host.variant}" if host.variant else "")
    values = {"TARGETPLATFORM": platform, "TARGETOS": "linux", "TARGETARCH": host.architecture,
              "TARGETVARIANT": host.variant or ""}
    values.update({k.replace("TARGET", "BUILD"): v for k, v in values.items()})
    return values


def expansion_env(state: StageState) -> dict[str, str]:
    """What ``$V`` sees in a stage: the ARGs in scope, then ENV (ENV wins over an ARG of the same name)."""
    return {**state.args, **cfg.env_of(state.config)}


def fields_of(instr: Any) -> dict[str, Any]:
    data = dataclasses.asdict(instr) if dataclasses.is_dataclass(instr) else dict(vars(instr))  # type: ignore
    data.pop("line", None)
    data.pop("end_line", None)
    data.pop("original", None)
    return data


def step_parts(builder: Any, state: StageState, instr: Any) -> tuple[dict[str, Any], Any]:
    """The key's parts and what the step will read (selected sources, for COPY/ADD)."""
    kind = type(instr).__name__
    parts: dict[str, Any] = {"parent": state.parent_id, "kind": kind, "fields": fields_of(instr)}
    sources = None
    if kind == "Run":
        parts.update(env=run_env(state, builder.options.args), user=state.config["config"].get("User"),
                     workdir=state.config["config"].get("WorkingDir"), shell=cfg.shell_of(state.config),
                     network=run_network(builder, instr), mounts=_mount_inputs(builder, instr))
    elif kind in ("Copy", "Add"):
        sources, inputs = copy_inputs(builder, state, instr)
        parts.update(inputs=inputs, workdir=state.config["config"].get("WorkingDir"))
    elif kind == "Workdir":
        parts.update(user=state.config["config"].get("User"), workdir=state.config["config"].get("WorkingDir"))
    return parts, sources


def _mount_inputs(builder: Any, instr: Any) -> list[Any]:
    return [mount_input(builder, mount) for mount in getattr(instr, "mounts", ()) or ()]
