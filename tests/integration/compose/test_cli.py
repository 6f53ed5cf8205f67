"""`berth compose` on the real kernel (busybox): config in docker compose's
JSON shape, up -d (and --dry-run), ps, logs, exec, run --rm, stop, start,
restart, build, bad input, and down -v leaving nothing of the project."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose import names
from tests.integration.compose.conftest import Roots

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="integration tests need root")
REPO = Path(__file__).resolve().parents[3]

COMPOSE = """\
services:
  db:
    image: busybox:latest
    command: [sleep, "1000"]
    network_mode: none
    stop_grace_period: 1s
    volumes: [data:/data]
  web:
    image: busybox:latest
    command: sh -c 'echo "web says $$GREETING" && exec sleep 1000'
    network_mode: none
    stop_grace_period: 1s
    environment:
      GREETING: ${GREETING}
    depends_on:
      db: {condition: service_started}
volumes:
  data: {}
"""


def _berth(roots: Roots, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / "bin" / "berth"), "--state-root", str(roots.state), "--run-root",
                           str(roots.run), "compose", *args], capture_output=True, text=True, timeout=120,
                          check=False, cwd=cwd or roots.project_dir, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    return result.stdout


def _ps(roots: Roots, *flags: str) -> list[dict[str, Any]]:
    return json.loads(_ok(_berth(roots, "ps", "--format", "json", *flags)))


@pytest.fixture
def project(roots: Roots) -> Roots:
    (roots.project_dir / "compose.yaml").write_text(COMPOSE)
    (roots.project_dir / ".env").write_text("GREETING=hi from .env\n")
    return roots


def test_config_prints_the_normalised_project(project: Roots) -> None:
    config = json.loads(_ok(_berth(project, "config", "--format", "json")))
    assert config["name"] == "project"   # the directory's name
    web = config["services"]["web"]
    assert web["environment"] == {"GREETING": "hi from .env"}
    assert web["command"] == ["sh", "-c", 'echo "web says $GREETING" && exec sleep 1000']
    assert web["depends_on"]["db"]["condition"] == "service_started"
    assert config["services"]["db"]["volumes"][0]["type"] == "volume"
    shell = json.loads(_ok(_berth(project, "-p", "other", "config", "--format", "json", env={"GREETING": "shell"})))
    assert shell["name"] == "other" and shell["services"]["web"]["environment"]["GREETING"] == "shell"
    assert _ok(_berth(project, "config", "--services")).split() == ["db", "web"]
    # from a subdirectory, the project is found in the parent (as Compose looks)
    below = project.project_dir / "src"
    below.mkdir()
    assert json.loads(_ok(_berth(project, "config", "--format", "json", cwd=below)))["name"] == "project"


def test_bad_input_says_where(project: Roots, tmp_path: Path) -> None:
    (project.project_dir / "compose.yaml").write_text(COMPOSE.replace("network_mode: none\n    stop_grace_period: 1s\n"
                                                                      "    volumes", "portz: 1\n    volumes"))
    bad = _berth(project, "config")
    assert bad.returncode == 1 and "services.db.portz" in bad.stderr and "Traceback" not in bad.stderr
    nothing = tmp_path / "empty"
    nothing.mkdir()
    missing = _berth(project, "ps", cwd=nothing)
    assert missing.returncode == 1 and "no compose file" in missing.stderr
    (project.project_dir / "compose.yaml").write_text(COMPOSE)
    assert _berth(project, "up", "-d", "--scale", "web").returncode == 1
    assert "exclusive" in _berth(project, "up", "-d", "--force-recreate", "--no-recreate").stderr
    assert "no service 'cache'" in _berth(project, "up", "-d", "cache").stderr
    assert _ps(project, "-a") == []


def test_up_ps_logs_exec_run_stop_start_down(project: Roots) -> None:
    dry = _ok(_berth(project, "up", "-d", "--dry-run"))
    assert "(dry run) created: project-web-1" in dry and _ps(project, "-a") == []
    up = _berth(project, "up")   # no -d: converges detached, and says so
    assert up.returncode == 0 and "no attached mode" in up.stderr, up.stderr
    lines = up.stdout.splitlines()
    assert lines.index("created: project-db-1") < lines.index("created: project-web-1"), lines
    rows = {row["Name"]: row for row in _ps(project)}
    assert sorted(rows) == ["project-db-1", "project-web-1"]
    assert rows["project-web-1"]["State"] == "running" and rows["project-web-1"]["Service"] == "web"
    assert rows["project-web-1"]["Labels"][names.PROJECT] == "project"
    table = _ok(_berth(project, "ps"))
    assert table.splitlines()[0].split() == ["NAME", "IMAGE", "SERVICE", "STATUS", "PORTS"]
    assert _ok(_berth(project, "up", "-d")) == ""   # converged: nothing to do

    assert "project-web-1  | web says hi from .env" in _ok(_berth(project, "logs", "web"))
    assert _ok(_berth(project, "exec", "db", "sh", "-c", "echo stored > /data/x; cat /data/x")) == "stored\n"
    failed = _berth(project, "exec", "db", "sh", "-c", "exit 3")
    assert failed.returncode == 3
    one_off = _berth(project, "run", "--rm", "-e", "EXTRA=1", "web", "sh", "-c", 'cat /data/x 2>&1; echo "$EXTRA"')
    assert one_off.returncode == 0 and one_off.stdout.endswith("1\n"), (one_off.stdout, one_off.stderr)
    assert sorted(row["Name"] for row in _ps(project, "-a")) == ["project-db-1", "project-web-1"]  # --rm'd

    assert json.loads(_ok(_berth(project, "stop", "--json"))) == {"project-web-1": "exited",
                                                                  "project-db-1": "exited"}
    assert _ps(project) == [] and len(_ps(project, "-a")) == 2
    assert json.loads(_ok(_berth(project, "start", "--json"))) == {"project-db-1": "running",
                                                                   "project-web-1": "running"}
    assert json.loads(_ok(_berth(project, "restart", "web", "--json"))) == {"project-web-1": "running"}

    down = _ok(_berth(project, "down", "-v"))
    assert "project-web-1" in down and "project_data" in down, down
    assert _ps(project, "-a") == []
    assert _ok(_berth(project, "down", "-v")) == ""


def test_build_a_service(project: Roots) -> None:
    context = project.project_dir / "app"
    context.mkdir()
    (context / "Dockerfile").write_text('FROM busybox:latest\nCOPY hello.txt /hello.txt\nCMD ["cat", "/hello.txt"]\n')
    (context / "hello.txt").write_text("built here\n")
    (project.project_dir / "compose.yaml").write_text(
        "services:\n  app:\n    build: ./app\n    network_mode: none\n")
    built = _berth(project, "build")
    assert built.returncode == 0 and "built: project-app" in built.stdout, (built.stdout, built.stderr)
    one_off = _berth(project, "run", "--rm", "app")
    assert one_off.returncode == 0 and one_off.stdout == "built here\n", (one_off.stdout, one_off.stderr)
    assert _ok(_berth(project, "down", "--rmi", "local"))


def test_project_verbs_by_name_alone_work_from_labels(project: Roots, tmp_path: Path) -> None:
    """With no compose file to find, -p NAME finds the project by its labels (ps, logs, stop, start,
    restart, down); up and config still need the files."""
    _ok(_berth(project, "up", "-d"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def by_name(*args: str) -> subprocess.CompletedProcess[str]:
        return _berth(project, "-p", "project", *args, cwd=elsewhere)

    rows = json.loads(_ok(by_name("ps", "--format", "json")))
    assert sorted(r["Name"] for r in rows) == ["project-db-1", "project-web-1"]
    assert "web says hi from .env" in _ok(by_name("logs", "web"))
    _ok(by_name("stop"))
    assert not json.loads(_ok(by_name("ps", "--format", "json")))
    _ok(by_name("start"))
    _ok(by_name("restart", "web"))
    assert {r["State"] for r in json.loads(_ok(by_name("ps", "--format", "json")))} == {"running"}
    refused = by_name("up", "-d")
    assert refused.returncode != 0 and "-f" in refused.stderr
    down = _ok(by_name("down", "-v"))
    assert "removed: project-web-1" in down and "removed volume: project_data" in down
    assert not _ps(project, "-a") and not json.loads(_ok(by_name("ps", "-a", "--format", "json")))
