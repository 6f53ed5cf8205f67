"""The build cache, change by change, with check mode's prediction first.

One Dockerfile, built once; then one kind of change per test. Before the
rebuild, `berth build --check --json` predicts {"changed", "from_step"}
without running anything; the build itself then reports which steps it
reused, and the two must agree: the first step the build did not take from
the cache is the step check mode named, and "changed" is true exactly when
the name now points at another image. A failing RUN leaves nothing behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.integration.build.conftest import BerthBuilder
from tests.support.runtime import mounts_under

TAG = "cache/app:1"
DOCKERFILE = """\
FROM busybox
ARG FLAVOR=plain
RUN echo base > /base
COPY app/ /app/
RUN echo "$FLAVOR" > /flavor
COPY conf.txt /etc/conf.txt
ENV DONE=1
"""
LINE = {"ARG": 2, "ARG-using RUN": 3, "COPY app/": 4, "ENV": 7}


def _context(root: Path) -> Path:
    context = root / "ctx"
    (context / "app").mkdir(parents=True)
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / ".dockerignore").write_text("app/*.log\n")
    (context / "app" / "main.txt").write_text("main\n")
    (context / "app" / "debug.log").write_text("excluded\n")
    (context / "conf.txt").write_text("conf\n")
    return context


def _json(result: Any) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _check(berth: BerthBuilder, context: Path, **options: Any) -> dict[str, Any]:
    return _json(berth(*berth.build_args(context, TAG, extra=["--check", "--json"], **options), check=False))


def _build(berth: BerthBuilder, context: Path, **options: Any) -> dict[str, Any]:
    return _json(berth(*berth.build_args(context, TAG, extra=["--json"], **options), check=False))


def _first_miss(report: dict[str, Any]) -> int | None:
    return next((step["line"] for step in report["steps"] if not step["cached"]), None)


def _predicted_line(check: dict[str, Any]) -> int | None:
    return check["from_step"]["line"] if check["from_step"] else None


def _snapshots(berth: BerthBuilder) -> set[str]:
    return {info.chain_id for info in berth.store().engine.snapshots.list()}


@pytest.fixture
def built(berth: BerthBuilder, tmp_path: Path) -> tuple[BerthBuilder, Path, str]:
    if "--check" not in berth("build", "--help").stdout:
        pytest.xfail("`berth build --check` is not there yet")
    context = _context(tmp_path)
    first = _build(berth, context)
    assert first["changed"] is True and first["id"]
    return berth, context, first["id"]


def _edit_dockerfile(context: Path) -> dict[str, str]:
    (context / "Dockerfile").write_text(DOCKERFILE.replace("ENV DONE=1", "ENV DONE=2"))
    return {}


def _content(context: Path) -> dict[str, str]:
    (context / "app" / "main.txt").write_text("main, edited\n")
    return {}


def _mode(context: Path) -> dict[str, str]:
    (context / "app" / "main.txt").chmod(0o600)
    return {}


def _arg(context: Path) -> dict[str, str]:
    return {"FLAVOR": "spicy"}


def _excluded(context: Path) -> dict[str, str]:
    (context / "app" / "debug.log").write_text("excluded, but edited\n")
    (context / "app" / "new.log").write_text("excluded too\n")
    return {}


def _mtime_only(context: Path) -> dict[str, str]:
    os.utime(context / "app" / "main.txt", (1_000_000_000, 1_000_000_000))
    return {}


CHANGES = {
    # name: (edit, the lines where the first step that runs again may be; () when nothing may change)
    "dockerfile-text": (_edit_dockerfile, (LINE["ENV"],)),
    # every RUN after an ARG sees it as env (BuildKit's miss is there); a builder that keeps
    # a cache entry for the ARG step itself misses one step earlier, which is as right
    "build-arg": (_arg, (LINE["ARG"], LINE["ARG-using RUN"])),
    "context-content": (_content, (LINE["COPY app/"],)),
    "context-mode": (_mode, (LINE["COPY app/"],)),
    "dockerignored-file": (_excluded, ()),
    "mtime-only": (_mtime_only, ()),
}


def test_unchanged_rebuild_reuses_every_step(built: tuple[BerthBuilder, Path, str]) -> None:
    berth, context, image_id = built
    check = _check(berth, context)
    assert (check["changed"], check["from_step"]) == (False, None)
    again = _build(berth, context)
    assert again["id"] == image_id and again["changed"] is False
    assert all(step["cached"] for step in again["steps"]) and again["cached"] == len(again["steps"])
    assert berth.image_id(TAG) == image_id


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_check_mode_predicts_what_the_build_does(change: str, built: tuple[BerthBuilder, Path, str]) -> None:
    berth, context, image_id = built
    edit, lines = CHANGES[change]
    args = edit(context)
    check = _check(berth, context, build_args=args)
    assert berth.image_id(TAG) == image_id, "check mode changed the tag"
    result = _build(berth, context, build_args=args)
    assert _first_miss(result) in (lines or (None,)), f"{change}: steps {result['steps']}"
    assert result["changed"] is bool(lines) and (result["id"] != image_id) is bool(lines)
    assert (check["changed"], _predicted_line(check)) == (result["changed"], _first_miss(result)), \
        f"{change}: check predicted {check}, the build did {result['steps']}"
    after = _check(berth, context, build_args=args)
    assert (after["changed"], after["from_step"]) == (False, None), f"{change}: not cached after the build"


FAILING = {
    "first step": ("FROM busybox\nRUN sh -c 'echo one; echo two; echo boom; exit 3'\n", 2, 0),
    "after a cached step": ("FROM busybox\nRUN echo ok > /ok\nCOPY f.txt /\nRUN false\n", 4, 2),
}


@pytest.mark.parametrize("case", sorted(FAILING))
def test_a_failing_run_leaves_nothing(case: str, berth: BerthBuilder, tmp_path: Path) -> None:
    text, line, good_steps = FAILING[case]
    context = tmp_path / "fail"
    context.mkdir()
    (context / "Dockerfile").write_text(text)
    (context / "f.txt").write_text("f\n")
    images_before = {record.id for record in berth.store().list()}
    snapshots_before = _snapshots(berth)
    result = berth.build(context, "broken/app:1", check=False)
    assert result.returncode != 0
    assert f"Dockerfile:{line}" in result.stderr, result.stderr
    if "boom" in text:   # the command's last output lines
        assert "two" in result.stderr and "boom" in result.stderr, result.stderr
    store = berth.store()
    assert store.find("broken/app:1") is None
    assert json.loads(berth("ps", "-a", "--json").stdout or "{}") == {}
    assert not list((berth.state / "containers").glob("*")) if (berth.state / "containers").exists() else True
    assert not mounts_under(berth.state.parent)
    new_snapshots = _snapshots(berth) - snapshots_before
    assert len(new_snapshots) <= good_steps, f"{case}: {len(new_snapshots)} new snapshots"
    new_images = {record.id for record in store.list()} - images_before
    assert len(new_images) <= good_steps, f"{case}: {len(new_images)} new images"  # the good steps' cache


BAD = {
    # name: (Dockerfile, what the error must name, extra CLI arguments)
    "unknown instruction": ("FROM busybox\nRUN true\nFROBNICATE x\n", "Dockerfile:3", ()),
    "malformed JSON (SHELL needs it)": ('FROM busybox\nSHELL ["/bin/sh", "-c"\n', "Dockerfile:2", ()),
    "no FROM": ("RUN true\n", "FROM", ()),
    "COPY outside the context": ("FROM busybox\nCOPY ../outside.txt /x\n", "Dockerfile:2", ()),
    "COPY of a missing file": ("FROM busybox\nCOPY missing.txt /x\n", "Dockerfile:2", ()),
    "COPY --from a missing stage or image": ("FROM busybox\nCOPY --from=nosuchstage /x /y\n", "nosuchstage", ()),
    "unknown target": ("FROM busybox AS one\nRUN true\n", "nosuch", ("--target", "nosuch")),
    "ADD of an unreachable URL": ("FROM busybox\nADD http://127.0.0.1:9/nothing /x\n", "Dockerfile:2", ()),
    "a required variable unset": ("FROM busybox\nENV X=${NOPE:?must-be-set}\n", "must-be-set", ()),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_the_place_and_leaves_nothing(case: str, berth: BerthBuilder, tmp_path: Path) -> None:
    text, named, extra = BAD[case]
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(text)
    (tmp_path / "outside.txt").write_text("not in the context\n")
    images_before, snapshots_before = {r.id for r in berth.store().list()}, _snapshots(berth)
    result = berth(*berth.build_args(context, "bad/app:1", extra=list(extra)), check=False)
    assert result.returncode != 0
    assert named in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert berth.store().find("bad/app:1") is None
    assert {r.id for r in berth.store().list()} == images_before and _snapshots(berth) == snapshots_before
    assert json.loads(berth("ps", "-a", "--json").stdout or "{}") == {}
    assert not mounts_under(berth.state.parent)


def test_an_undeclared_build_arg_is_warned(berth: BerthBuilder, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nARG USED=1\nRUN echo $USED > /used\n")
    report = _json(berth(*berth.build_args(context, "warn/app:1", build_args={"USED": "2", "UNUSED": "3"},
                                           extra=["--json", "--label", "team=shop"]), check=False))
    assert any("UNUSED" in warning for warning in report["warnings"]), report["warnings"]
    assert not any("USED" in w and "UNUSED" not in w for w in report["warnings"]), report["warnings"]
    assert berth.config("warn/app:1")["config"]["Labels"]["team"] == "shop"
