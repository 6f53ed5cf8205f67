"""A Dockerfile as a program: meta ARGs, build stages, and the stages a target needs.

Only ARG may come before the first FROM (those are the "meta" ARGs FROM lines can
use). Stages are named by ``FROM ... AS name`` (case-insensitive) or by index. A
stage depends on another through ``FROM <stage>``, ``COPY --from=<stage>`` and
``RUN --mount=from=<stage>``; any other ``--from`` value is an image reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .dockerfile import fail, parse
from .expand import Expander, ExpansionError
from .instructions import Arg, Copy, From, Instruction, Run, typed

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None
    base: From
    instructions: tuple[Instruction, ...]

    @property
    def label(self) -> str:
        return self.name or str(self.index)


@dataclass(frozen=True)
class Program:
    path: str
    meta_args: tuple[Arg, ...]
    stages: tuple[Stage, ...]
    warnings: tuple[str, ...]
    escape: str = "\\"
    directives: dict[str, str] = field(default_factory=dict)

    def stage(self, ref: str) -> Stage:
        """The stage named ``ref`` (case-insensitive) or with index ``ref``."""
        found = self._find(ref)
        if found is None:
            raise fail(self.path, 1, f"target stage {ref!r} could not be found",
                       f"available stages: {self._available()}")
        return found

    def _find(self, ref: str, before: int | None = None) -> Stage | None:
        lowered = ref.lower()
        for stage in self.stages:
            if before is not None and stage.index >= before:
                break
            if stage.name == lowered:
                return stage
        if ref.isdecimal() and int(ref) < len(self.stages) and (before is None or int(ref) < before):
            return self.stages[int(ref)]
        return None

    def _available(self) -> str:
        return ", ".join(s.name or str(s.index) for s in self.stages)

    def meta_env(self, build_args: Mapping[str, str] | None = None,
                 builtin: Mapping[str, str] | None = None) -> dict[str, str]:
        """The ARG values FROM lines see: defaults in order, overridden by build args."""
        env: dict[str, str] = dict(builtin or {})
        args = build_args or {}
        expander = Expander(self.escape, path=self.path)
        for arg in self.meta_args:
            for name, default in arg.expand(expander, env).pairs:
                if name in args:
                    env[name] = args[name]
                elif default is not None:
                    env[name] = default
        return env

    def dependencies(self, stage: Stage, meta: Mapping[str, str] | None = None) -> list[Stage]:
        """The stages ``stage`` uses directly (its base, COPY --from, RUN --mount from=).

        As BuildKit: FROM names an earlier stage (else it is an image, so a stage's own name
        is the image: ``FROM node AS node``); --from names any stage or index, which must
        come before this one, and is otherwise an image reference.
        """
        out: list[Stage] = []
        base = self._expand(stage.base.image, stage.base.line, meta)
        if not base:
            raise fail(self.path, stage.base.line, f"base name ({stage.base.image}) should not be blank",
                       "give FROM an image, or a default to the ARG it uses")
        dep = next((s for s in self.stages[:stage.index] if s.name == base), None)
        if dep is not None:
            out.append(dep)
        for instr in stage.instructions:
            refs = [instr.from_] if isinstance(instr, Copy) and instr.from_ else []
            if isinstance(instr, Run):
                refs = [m.from_ for m in instr.mounts if m.from_]
            for ref in refs:
                dep = self._source(ref, stage, instr.line)
                if dep is not None and dep not in out:
                    out.append(dep)
        return out

    def _source(self, ref: str, stage: Stage, line: int) -> Stage | None:
        """The stage a --from names, None for an image reference."""
        if ref.isdecimal():
            if int(ref) >= len(self.stages):
                raise fail(self.path, line, f"invalid stage index {ref}", f"available stages: {self._available()}")
            dep: Stage | None = self.stages[int(ref)]
        else:
            dep = next((s for s in self.stages if s.name == ref.lower()), None)
        if dep is not None and dep.index >= stage.index:
            raise fail(self.path, line, f"cannot copy from stage {ref!r}, it needs to be defined before current "
                       f"stage {stage.label!r}", "move the stage it uses above this one")
        return dep

    def _expand(self, text: str, line: int, meta: Mapping[str, str] | None) -> str:
        if "$" not in text:
            return text
        try:
            return Expander(self.escape, path=self.path).word(text, meta or {})
        except ExpansionError as err:
            raise fail(self.path, line, err.message, err.hint) from None

    def needed(self, target: str | None = None, build_args: Mapping[str, str] | None = None) -> list[Stage]:
        """The target stage (default: the last) and every stage it uses, in file order."""
        final = self.stage(target) if target else self.stages[-1]
        meta = self.meta_env(build_args)
        seen: dict[int, Stage] = {}
        todo = [final]
        while todo:
            stage = todo.pop()
            if stage.index not in seen:
                seen[stage.index] = stage
                todo.extend(self.dependencies(stage, meta))
        return [seen[i] for i in sorted(seen)]


def load(text: str, path: str = "Dockerfile") -> Program:
    """Parse and type a whole Dockerfile; DockerfileError for any problem in it."""
    parsed = parse(text, path)
    meta: list[Arg] = []
    stages: list[Stage] = []
    current: tuple[From, list[Instruction]] | None = None
    for node in parsed.nodes:
        instr = typed(node, path, parsed.escape)
        if isinstance(instr, From):
            if current is not None:
                stages.append(_stage(len(stages), current, stages, path))
            current = (instr, [])
        elif current is not None:
            current[1].append(instr)
        elif isinstance(instr, Arg):
            meta.append(instr)
        else:
            raise fail(path, node.line, f"{node.keyword} before the first FROM: no build stage in current context",
                       "only ARG may come before the first FROM")
    if current is None:
        raise fail(path, parsed.nodes[-1].line, "no FROM instruction", "start the build stage with FROM <image>")
    stages.append(_stage(len(stages), current, stages, path))
    return Program(path=path, meta_args=tuple(meta), stages=tuple(stages), warnings=parsed.warnings,
                   escape=parsed.escape, directives=dict(parsed.directives))


def _stage(index: int, current: tuple[From, list[Instruction]], earlier: list[Stage], path: str) -> Stage:
    base, body = current
    if base.name and any(s.name == base.name for s in earlier):
        raise fail(path, base.line, f"duplicate stage name {base.name!r}", "give each stage its own name")
    return Stage(index=index, name=base.name, base=base, instructions=tuple(body))
