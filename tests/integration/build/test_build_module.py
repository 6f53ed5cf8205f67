"""The image module's ``source: build`` and ``source: commit`` through
ansible-playbook: check → apply → apply → check, check mode's prediction
against what the apply did, and bad input that leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.archive import load_archive
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.playbook import assert_converges, run_playbook, write_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="integration tests need root")
REPO = Path(__file__).resolve().parents[3]

DOCKERFILE = """\
FROM busybox
ARG VERSION=1
ENV APP=/app
WORKDIR $APP
COPY site/ ./site/
RUN echo "v$VERSION" > version
CMD ["cat", "/app/version"]
"""


@pytest.fixture
def roots(tmp_path: Path, busybox_image: Any) -> dict[str, str]:
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    load_archive(ImageStore(engine), busybox_image.layout, parse_reference("busybox:latest"))
    return {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run")}


def _context(tmp_path: Path) -> Path:
    context = tmp_path / "ctx"
    (context / "site").mkdir(parents=True)
    (context / "site" / "index.html").write_text("hello\n")
    (context / "notes.txt").write_text("not copied\n")
    (context / ".dockerignore").write_text("notes.txt\n")
    (context / "Dockerfile").write_text(DOCKERFILE)
    return context


def _play(tmp_path: Path, roots: dict[str, str], task: dict[str, Any]) -> Path:
    return write_playbook(tmp_path, [{"name": "image", "berth.engine.image": task, "register": "out"}],
                          module_defaults={"group/berth.engine.all": roots})


def _berth(roots: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / "bin" / "berth"), "--state-root", roots["state_root"], "--run-root",
                           roots["run_root"], *args], capture_output=True, text=True, timeout=120, check=False)


def _task(results: Any) -> dict[str, Any]:
    return results.berth_tasks()[0]


def test_build_converges_and_check_predicts_the_changed_step(tmp_path: Path, roots: dict[str, str]) -> None:
    context = _context(tmp_path)
    task = {"name": "shop/web", "tag": "1.4", "source": "build",
            "build": {"path": str(context), "args": {"VERSION": 1.4}, "labels": {"team": "shop"}}}
    play = _play(tmp_path, roots, task)
    assert_converges(play)
    store = ImageStore(Engine.open(roots["state_root"], roots["run_root"]))
    first = store.resolve("shop/web:1.4")
    run = _berth(roots, "run", "--rm", "--network", "none", "shop/web:1.4")
    assert run.stdout == "v1.4\n", run.stderr

    # a file .dockerignore excludes does not invalidate anything
    (context / "notes.txt").write_text("changed\n")
    assert run_playbook(play, check=True, diff=True).changed == 0

    # a context file's content: check names the COPY step, the apply builds from there
    (context / "site" / "index.html").write_text("hello again\n")
    check = run_playbook(play, check=True, diff=True)
    assert check.changed == 1, check.output[-3000:]
    assert "COPY site/ ./site/" in _task(check)["actions"][0], _task(check)
    apply = run_playbook(play, diff=True)
    assert apply.changed == 1 and _task(apply)["actions"] == _task(check)["actions"]
    second = store.resolve("shop/web:1.4")
    assert second.id != first.id
    assert second.layers[:2] == first.layers[:2]   # busybox + WORKDIR came from the cache
    assert run_playbook(play, diff=True).changed == 0

    # its mode
    os.chmod(context / "site" / "index.html", 0o600)
    assert run_playbook(play, check=True).changed == 1
    assert run_playbook(play).changed == 1


def test_build_arg_change_rebuilds_from_the_first_step_that_sees_it(tmp_path: Path, roots: dict[str, str]) -> None:
    context = _context(tmp_path)
    task = {"name": "shop/web", "source": "build", "build": {"path": str(context), "args": {"VERSION": "1"}}}
    assert run_playbook(_play(tmp_path, roots, task)).changed == 1
    task["build"]["args"] = {"VERSION": "2"}
    check = run_playbook(_play(tmp_path, roots, task), check=True)
    assert "ARG VERSION=1" in _task(check)["actions"][0], _task(check)
    assert run_playbook(_play(tmp_path, roots, task)).changed == 1
    assert _berth(roots, "run", "--rm", "--network", "none", "shop/web").stdout == "v2\n"


def test_failed_build_names_the_line_and_leaves_no_image(tmp_path: Path, roots: dict[str, str]) -> None:
    context = _context(tmp_path)
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo preparing\nRUN sh -c 'echo boom; exit 3'\n")
    result = run_playbook(_play(tmp_path, roots, {"name": "broken", "source": "build",
                                                  "build": {"path": str(context)}}))
    assert result.failed == 1
    assert "Dockerfile:3" in result.output and "exit code 3" in result.output and "boom" in result.output
    assert "Traceback" not in result.output
    engine = Engine.open(roots["state_root"], roots["run_root"])
    assert ImageStore(engine).find("broken:latest") is None
    assert json.loads(_berth(roots, "ps", "-a", "--json").stdout) == {}
    assert not any(line.split()[4].startswith(roots["state_root"]) for line in
                   Path("/proc/self/mountinfo").read_text().splitlines())


def test_commit_converges(tmp_path: Path, roots: dict[str, str]) -> None:
    made = _berth(roots, "run", "-d", "--network", "none", "--name", "web", "busybox", "sh", "-c",
                  "echo hi > /made; sleep 600")
    assert made.returncode == 0, made.stderr
    try:
        task = {"name": "shop/web-debug", "source": "commit",
                "commit": {"container": "web", "changes": ['CMD ["cat", "/made"]', "ENV DEBUG=1"],
                           "message": "debug", "author": "ops"}}
        assert_converges(_play(tmp_path, roots, task))
        run = _berth(roots, "run", "--rm", "--network", "none", "shop/web-debug")
        assert run.stdout == "hi\n", run.stderr
        store = ImageStore(Engine.open(roots["state_root"], roots["run_root"]))
        config = json.loads(store.engine.blobs.read_bytes(store.resolve("shop/web-debug").id))
        assert "DEBUG=1" in config["config"]["Env"]
        assert config["author"] == "ops" and config["history"][-1]["comment"] == "debug"
    finally:
        _berth(roots, "rm", "-f", "web")
