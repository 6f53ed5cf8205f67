"""Dockerfile builds: stages → steps → cached images.

``build`` and ``predict`` walk the same steps. Each step's cache key is
computed first (``keys.py``); a hit moves the stage onto the image the cache
names, a miss runs the step (``steps.py``) and records its image. ``predict``
runs over a read-only engine: it computes the keys, reads the cache, and
stops at the first miss — which is what check mode reports ("would build
from step N") without running, pulling or mounting anything.

Every step leaves an untagged image (a *build-cache* image, ``source:
build``), so the next RUN has a parent to run on and an unchanged rebuild
walks hits only and ends on the very same image ID. Only the caller tags.
"""

from __future__ import annotations

import json
from typing import Any

from ..engine import Engine
from ..errors import InvalidInput, NotFound
from ..image.records import ImageRecord
from ..image.reference import parse_reference
from ..image.store import ImageStore
from . import config as cfg
from . import keys
from .cache import BuildCache
from .images import pull_base
from .model import PROXY_ARGS, BuildOptions, BuildResult, StageState, StepReport, dead_build_scratch


class _Stop(Exception):
    """A prediction reached its first miss."""


class Builder:
    def __init__(self, engine: Engine, options: BuildOptions) -> None:
        self.engine = engine
        self.options = options
        self.store = ImageStore(engine)
        self.cache = BuildCache(engine)
        self.predicting = engine.read_only
        self.result = BuildResult(image=None)
        self.program: Any = None
        self.ignore: Any = None
        self.stage_images: dict[int, ImageRecord | None] = {}
        self.stage_configs: dict[int, dict[str, Any]] = {}
        self.used_args: set[str] = set()

    # -- entry points --------------------------------------------------------------------------------------
    def run(self) -> BuildResult:
        from .ignore import Ignore
        from .stages import load

        path = self.options.dockerfile_path
        text = _read_dockerfile(path)
        self.program = load(text, self.options.dockerfile)
        self.ignore = Ignore.load(self.options.context, self.options.dockerfile)
        self.result.warnings.extend(getattr(self.program, "warnings", ()) or ())
        meta = self._meta_args()
        try:
            for stage in self.program.needed(self.options.target):
                self._build_stage(stage, meta)
            final = self._final(self.program.needed(self.options.target)[-1])
        except _Stop:
            return self.result
        self.result.image = final
        self._warn_unused_args()
        return self.result

    # -- stages ----------------------------------------------------------------------------------------------
    def _meta_args(self) -> dict[str, str]:
        values = keys.platform_args()
        expander = self._expander()
        for arg in getattr(self.program, "meta_args", ()):
            for name, default in arg.pairs:
                if name in self.options.args:
                    values[name] = self.options.args[name]
                elif default is not None:
                    values[name] = expander.word(default, values)
                self.used_args.add(name)
        return values

    def _escape(self) -> str:
        return getattr(self.program, "escape", "\\") or "\\"

    def _expander(self) -> Any:
        from .expand import Expander

        return Expander(self._escape(), path=self.options.dockerfile)

    def _build_stage(self, stage: Any, meta: dict[str, str]) -> None:
        base = stage.base.expand(self._expander(), meta)
        label = stage.name or str(stage.index)
        record, config = self._base(base, stage)
        state = StageState(name=label, record=record, config=cfg.from_base(config), meta=meta)
        triggers = onbuild_triggers(config, self.options.dockerfile, self._escape())
        for instr in (*triggers, *stage.instructions):
            self._step(state, instr)
        if not (triggers or stage.instructions) and (state.record is None or state.config != config):
            # FROM alone: the stage's image is the base with BuildKit's config changes (PATH, no ONBUILD)
            self._finish(state, {"parent": state.parent_id, "stage-end": True}, None, None)
        self.stage_images[stage.index] = state.record
        self.stage_configs[stage.index] = state.config

    def _base(self, base: Any, stage: Any) -> tuple[ImageRecord | None, dict[str, Any]]:
        name = base.image
        if name.lower() == "scratch":
            return None, cfg.scratch_config()
        earlier = self._stage_by_name(name, stage.index)
        if earlier is not None:
            return self.stage_images[earlier], self.stage_configs[earlier]
        record = self._base_image(name, base, stage)
        return record, json.loads(self.engine.blobs.read_bytes(record.id))

    def _stage_by_name(self, name: str, before: int) -> int | None:
        for stage in self.program.stages:
            if stage.index < before and stage.name and stage.name.lower() == name.lower():
                return stage.index
        return None

    def _base_image(self, name: str, base: Any, stage: Any) -> ImageRecord:
        ref = parse_reference(name, field="build.dockerfile")
        present = self.store.find(str(ref))
        if present is not None and self.store.complete(present) and not self.options.pull:
            return present
        report = StepReport(stage=stage.name or str(stage.index), line=base.line, instruction=base.original,
                            cached=False)
        if self.predicting:
            if present is not None and self.options.pull:
                self.result.warnings.append(f"check mode does not contact the registry, so it cannot know "
                                            f"whether {ref.familiar} has a newer image; assuming it does not")
                return present
            self._miss(report)
        record = pull_base(self.engine, ref, self.options.registry)
        self.result.pulled.append(ref.familiar)
        return record

    # -- steps ----------------------------------------------------------------------------------------------
    def _step(self, state: StageState, instr: Any) -> None:
        kind = type(instr).__name__
        env = keys.expansion_env(state)
        # RUN's command is the shell's to expand (its --mount values are expanded here), CMD/ENTRYPOINT/SHELL
        # are not expanded at all, ONBUILD's expression waits for the child build
        expanded = instr if kind in ("Cmd", "Entrypoint", "Shell", "Onbuild") else self._expand(instr, env)
        if kind == "Arg":
            expanded = self._declare_args(state, expanded)
        parts, sources = keys.step_parts(self, state, expanded)
        self._finish(state, parts, expanded, sources)

    def _expand(self, instr: Any, env: dict[str, str]) -> Any:

        expander = self._expander()
        expanded = instr.expand(expander, env)
        self.used_args.update(n for n in getattr(expander, "used", ()) if n in self.options.args)
        return expanded

    def _declare_args(self, state: StageState, arg: Any) -> Any:
        """ARG in a stage: a build arg's value, else the default, else the
        global (meta) value when the ARG names one without a default."""
        meta = state.meta
        pairs = []
        for name, default in arg.pairs:
            self.used_args.add(name)
            if name in self.options.args:
                value: str | None = self.options.args[name]
            elif default is not None:
                value = default
            else:
                value = meta.get(name)
            if value is not None:
                state.args[name] = value
                if name not in state.arg_order:
                    state.arg_order.append(name)
            pairs.append((name, value))
        return _with_pairs(arg, tuple(pairs))

    def _finish(self, state: StageState, parts: dict[str, Any], instr: Any, sources: Any) -> None:
        key = keys.digest(parts)
        line = getattr(instr, "line", 0)
        text = getattr(instr, "original", "") or "(end of stage)"
        report = StepReport(stage=state.name, line=line, instruction=text, cached=False, key=key)
        hit = None if (self.options.nocache or state.missed) else self.cache.lookup(key)
        if hit is not None:
            report.cached, report.image = True, hit.id
            state.record, state.config = hit, json.loads(self.engine.blobs.read_bytes(hit.id))
            replay_state(state, instr)
            self.result.steps.append(report)
            if self.options.output is not None:
                self.options.output(f"#{len(self.result.steps)} [{state.name}] CACHED {text}\n")
            return
        state.missed = True
        if self.predicting:
            self._miss(report)
        if self.options.output is not None:
            self.options.output(f"#{len(self.result.steps) + 1} [{state.name}] {text}\n")
        from . import steps  # only a step that runs needs the runtime, the copier and the layer writer

        record = steps.execute(self, state, instr, sources)
        self.cache.store(key, record)
        report.image = record.id
        self.result.steps.append(report)
        if self.result.first_miss is None:
            self.result.first_miss = report

    def _miss(self, report: StepReport) -> None:
        self.result.steps.append(report)
        self.result.first_miss = report
        raise _Stop

    def _final(self, stage: Any) -> ImageRecord:
        state = StageState(name=stage.name or str(stage.index), record=self.stage_images[stage.index],
                           config=self.stage_configs[stage.index])
        if self.options.labels:
            self._finish(state, {"parent": state.parent_id, "labels": dict(sorted(self.options.labels.items()))},
                         keys.LabelsStep(dict(self.options.labels)), None)
        if state.record is None:
            raise InvalidInput("the build made no image", field="build.dockerfile",
                               hint="a Dockerfile needs at least FROM")
        return state.record

    def _warn_unused_args(self) -> None:
        unused = sorted(set(self.options.args) - self.used_args - PROXY_ARGS)
        if unused:
            self.result.warnings.append(f"one or more build args {unused} were not consumed")


def replay_state(state: StageState, instr: Any) -> None:
    """What a cached step still does to the stage beyond its image."""
    if type(instr).__name__ == "Cmd":
        state.cmd_set = True


def onbuild_triggers(config: dict[str, Any], path: str, escape: str = "\\") -> list[Any]:
    """The base image's ONBUILD instructions, parsed; they run right after FROM."""
    triggers = (config.get("config") or {}).get("OnBuild") or []
    if not triggers:
        return []
    from .dockerfile import parse
    from .instructions import typed

    parsed = parse("\n".join(str(t) for t in triggers) + "\n", f"{path} (ONBUILD of the base image)")
    return [typed(node, parsed.path, escape) for node in parsed.nodes]


def _with_pairs(arg: Any, pairs: tuple[tuple[str, str | None], ...]) -> Any:
    import dataclasses

    return dataclasses.replace(arg, pairs=pairs)


def _read_dockerfile(path: Any) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist", field="build.dockerfile",
                       hint="give the Dockerfile's path relative to build.path") from None
    except OSError as err:
        raise InvalidInput(f"cannot read {path}: {err.strerror}", field="build.dockerfile") from None
    if len(data) > keys.MAX_DOCKERFILE:
        raise InvalidInput(f"{path} is larger than {keys.MAX_DOCKERFILE} bytes", field="build.dockerfile")
    return data.decode("utf-8", "replace")


def build(engine: Engine, options: BuildOptions) -> BuildResult:
    """Build (writable engine) or predict (a read-only view) the image."""
    if not options.context.is_dir():
        raise NotFound(f"build context {options.context} is not a directory", field="build.path",
                       hint="give the directory holding the Dockerfile and the files it copies")
    if not engine.read_only and dead_build_scratch(engine.layout.tmp):
        from .runstep import sweep_leftovers

        sweep_leftovers(engine, None)   # what a killed build left: its scratch mounts, its RUN container
    return Builder(engine, options).run()
