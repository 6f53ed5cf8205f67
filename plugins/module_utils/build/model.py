"""What a build is asked for and what it reports (plain data, shared by the
executor, the image task and ``berth build``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..image.records import ImageRecord

SCRATCH_PREFIX = "build-"   # <tmp>/build-<pid>-<random>: a build step's scratch directory
PROXY_ARGS = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"})


@dataclass(frozen=True)
class BuildOptions:
    context: Path
    dockerfile: str = "Dockerfile"          # relative to the context, or absolute
    args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    nocache: bool = False
    pull: bool = False
    network: str = "none"                    # RUN's network unless a RUN says --network
    labels: dict[str, str] = field(default_factory=dict)
    compression: str = "gzip"
    registry: Any = None                     # image.service.RegistryAccess for base images
    output: Any = None                       # a callable shown RUN's output and step lines (the CLI's stderr)

    @property
    def dockerfile_path(self) -> Path:
        path = Path(self.dockerfile)
        return path if path.is_absolute() else self.context / path


@dataclass
class StepReport:
    stage: str
    line: int
    instruction: str
    cached: bool
    key: str | None = None
    image: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "line": self.line, "instruction": self.instruction, "cached": self.cached,
                "image": self.image}


@dataclass
class BuildResult:
    image: ImageRecord | None                  # None in a prediction that stopped at a miss
    steps: list[StepReport] = field(default_factory=list)
    first_miss: StepReport | None = None
    warnings: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)

    @property
    def cached(self) -> int:
        return sum(1 for step in self.steps if step.cached)

    def to_dict(self) -> dict[str, Any]:
        miss = self.first_miss
        return {"id": self.image.id if self.image else None, "steps": [s.to_dict() for s in self.steps],
                "cached": self.cached, "from_step": miss.to_dict() if miss else None,
                "warnings": list(self.warnings), "pulled": list(self.pulled)}


@dataclass
class StageState:
    """Where a stage is: its image so far (None: scratch, nothing made yet)
    and that image's config; the ARGs in scope; whether CMD was set here."""

    name: str
    record: ImageRecord | None
    config: dict[str, Any]
    meta: dict[str, str] = field(default_factory=dict)   # the global ARGs (before the first FROM)
    args: dict[str, str] = field(default_factory=dict)
    arg_order: list[str] = field(default_factory=list)
    cmd_set: bool = False
    missed: bool = False

    @property
    def parent_id(self) -> str:
        return self.record.id if self.record is not None else "scratch"

    def next_config(self) -> dict[str, Any]:
        return copy.deepcopy(self.config)


def dead_build_scratch(tmp: Path) -> bool:
    """Whether a build that died left a scratch directory (then its RUN
    container may be left too): a cheap look before the sweep is imported."""
    import os

    try:
        names = os.listdir(tmp)
    except OSError:
        return False
    for name in names:
        pid = name[len(SCRATCH_PREFIX):].split("-", 1)[0] if name.startswith(SCRATCH_PREFIX) else ""
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            return True
    return False
