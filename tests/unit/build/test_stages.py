"""Stages, meta ARGs and target selection."""

from __future__ import annotations

import random

import pytest

from ansible_collections.berth.engine.plugins.module_utils.build.dockerfile import DockerfileError
from ansible_collections.berth.engine.plugins.module_utils.build.instructions import Copy, Run
from ansible_collections.berth.engine.plugins.module_utils.build.stages import load

MULTI = """\
# syntax=docker/dockerfile:1
ARG BASE=busybox
ARG TAG
FROM ${BASE}:${TAG:-latest} AS Deps
RUN echo deps

FROM scratch AS unused
COPY x /x

FROM busybox AS tools

FROM deps AS build
RUN --mount=type=bind,from=tools,source=/bin,target=/t true
COPY --from=alpine:3 /etc/os-release /

FROM scratch
COPY --from=build /out /out
COPY --from=0 /deps /deps
"""


def labels(stages: list) -> list[str]:
    return [s.label for s in stages]


def test_load_structure() -> None:
    program = load(MULTI, "Dockerfile")
    assert [s.name for s in program.stages] == ["deps", "unused", "tools", "build", None]
    assert [a.pairs for a in program.meta_args] == [(("BASE", "busybox"),), (("TAG", None),)]
    assert program.stages[0].base.image == "${BASE}:${TAG:-latest}"
    assert isinstance(program.stages[3].instructions[0], Run)
    assert isinstance(program.stages[4].instructions[0], Copy)
    assert program.directives == {"syntax": "docker/dockerfile:1"} and program.escape == "\\"


def test_needed_skips_unneeded_stages() -> None:
    program = load(MULTI, "Dockerfile")
    assert labels(program.needed()) == ["deps", "tools", "build", "4"]
    assert labels(program.needed("build")) == ["deps", "tools", "build"]
    assert labels(program.needed("UNUSED")) == ["unused"]
    assert labels(program.needed("0")) == ["deps"]


def test_stage_lookup() -> None:
    program = load(MULTI, "Dockerfile")
    assert program.stage("Build").index == 3
    assert program.stage("2").name == "tools"
    with pytest.raises(DockerfileError) as info:
        program.stage("nope")
    assert "'nope'" in info.value.message
    assert "deps, unused, tools, build, 4" in (info.value.hint or "")
    with pytest.raises(DockerfileError):
        program.needed("9")


def test_meta_env() -> None:
    program = load("ARG A=1\nARG B=${A}2\nARG C\nFROM x\n", "Dockerfile")
    assert program.meta_env() == {"A": "1", "B": "12"}
    assert program.meta_env({"A": "9", "C": "c", "UNDECLARED": "u"}) == {"A": "9", "B": "92", "C": "c"}
    assert program.meta_env({}, {"TARGETARCH": "amd64"}) == {"TARGETARCH": "amd64", "A": "1", "B": "12"}


def test_from_arg_selects_stage() -> None:
    text = "ARG SRC=one\nFROM busybox AS one\nFROM busybox AS two\nFROM ${SRC}\n"
    program = load(text, "Dockerfile")
    assert labels(program.needed()) == ["one", "2"]
    assert labels(program.needed(build_args={"SRC": "two"})) == ["two", "2"]


def test_from_only_names_earlier_stages() -> None:
    program = load("FROM node AS node\nRUN x\n", "Dockerfile")
    assert labels(program.needed()) == ["node"]              # its own name: the image
    program = load("FROM late AS first\nFROM busybox AS late\n", "Dockerfile")
    assert labels(program.needed("first")) == ["first"]      # a later stage's name: an image too


@pytest.mark.parametrize(("text", "fragment"), [
    ("RUN x\n", "no build stage"),
    ("ARG A\n", "no FROM instruction"),
    ("FROM a AS x\nFROM b AS X\n", "duplicate stage name 'x'"),
    ("FROM a AS s\nCOPY --from=t / /\nFROM a AS t\n", "needs to be defined before current stage 's'"),
    ("FROM a AS s\nCOPY --from=s / /\n", "needs to be defined before current stage"),
    ("FROM a\nRUN --mount=from=1,target=/m x\nFROM b\n", "needs to be defined before"),
    ("FROM a\nCOPY --from=7 / /\n", "invalid stage index 7"),
    ("FROM a\nCOPY --from=$S / /\n", "variable expansion is not supported for --from"),
    ("ARG E\nFROM $E\n", "base name ($E) should not be blank"),
    ("FROM a\nBOGUS x\n", "unknown instruction: BOGUS"),
])
def test_errors(text: str, fragment: str) -> None:
    with pytest.raises(DockerfileError) as info:
        load(text, "sub/Dockerfile").needed("0")
    assert fragment in info.value.message
    assert info.value.message.startswith("sub/Dockerfile:")


def test_copy_from_index_and_image() -> None:
    program = load("FROM a\nFROM b\nCOPY --from=0 / /\nCOPY --from=img:1 / /\n", "Dockerfile")
    assert labels(program.needed()) == ["0", "1"]


def test_unneeded_stage_errors_do_not_matter() -> None:
    program = load("FROM a AS s\nCOPY --from=t / /\nFROM a AS t\nFROM b\n", "Dockerfile")
    assert labels(program.needed()) == ["2"]


def test_random_programs_never_crash() -> None:
    rng = random.Random(99)
    lines = ["FROM a", "FROM a AS x", "FROM x AS y", "FROM y", "ARG A=1", "COPY --from=x / /",
             "COPY --from=y / /", "RUN --mount=from=x,target=/m true", "FROM $A", "RUN echo", "ENV A=b"]
    for _round in range(2000):
        text = "\n".join(rng.choice(lines) for _round in range(rng.randint(0, 8)))
        try:
            program = load(text, "Dockerfile")
            for target in (None, "x", "0"):
                program.needed(target)
        except DockerfileError:
            pass
