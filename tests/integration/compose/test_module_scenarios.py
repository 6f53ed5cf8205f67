"""The compose module through ansible-playbook on the real kernel (busybox),
scenarios a user runs into: start order for every depends_on condition read
from the containers' own start and finish times; the same project converged
through the module and through `berth compose up -d` in separate state roots
giving the same containers; and a kill -9 of the play (and the engine worker
running its task) in the middle of an up, then a re-run converging with no
duplicate and nothing left behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.compose.conftest import Roots
from tests.support.devinstall import agent_pids
from tests.support.playbook import recorded, recording_play, run_playbook
from tests.support.runtime import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="integration tests need root")
REPO = Path(__file__).resolve().parents[3]

SLEEP = '[sleep, "1000"]'
ORDER = f"""\
name: order
services:
  cache:
    image: busybox:latest
    command: {SLEEP}
    network_mode: none
    stop_grace_period: 1s
  db:
    image: busybox:latest
    command: sh -c 'sleep 2; touch /tmp/ready; exec sleep 1000'
    network_mode: none
    stop_grace_period: 1s
    healthcheck:
      test: [CMD, test, -f, /tmp/ready]
      interval: 1s
      retries: 30
  migrate:
    image: busybox:latest
    command: sh -c 'sleep 2; exit 0'
    network_mode: none
  app:
    image: busybox:latest
    command: {SLEEP}
    network_mode: none
    stop_grace_period: 1s
    depends_on:
      cache: {{condition: service_started}}
      db: {{condition: service_healthy}}
      migrate: {{condition: service_completed_successfully}}
"""


def _defaults(state: Path, run: Path) -> dict[str, Any]:
    return {"group/berth.engine.all": {"state_root": str(state), "run_root": str(run)}}


def _play(roots: Roots, name: str = "play.yml", **task: Any) -> Path:
    return recording_play(roots.project_dir.parent, [{"name": "project", "berth.engine.compose": {
        "project_src": str(roots.project_dir), **task}}], _defaults(roots.state, roots.run), name=name)


def _berth(state: Path, run: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / "bin" / "berth"), "--state-root", str(state), "--run-root", str(run),
                           *args], capture_output=True, text=True, timeout=180, check=False, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def _records(state: Path, run: Path, cwd: Path) -> dict[str, dict[str, Any]]:
    """Every container of the project in that root, as `berth inspect --json` records it."""
    listed = _berth(state, run, cwd, "compose", "ps", "-a", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    names = [row["Name"] for row in json.loads(listed.stdout)]
    if not names:
        return {}
    inspected = _berth(state, run, cwd, "inspect", "--json", *names)
    assert inspected.returncode == 0, inspected.stderr
    return json.loads(inspected.stdout)


def test_start_order_for_every_condition(roots: Roots) -> None:
    (roots.project_dir / "compose.yaml").write_text(ORDER)
    done = run_playbook(_play(roots))
    assert done.failed == 0 and done.changed == 1, done.output[-3000:]
    records = _records(roots.state, roots.run, roots.project_dir)
    state = {name.split("-")[1]: record["state"] for name, record in records.items()}
    app_started = state["app"]["started_at"]
    assert state["cache"]["started_at"] <= app_started                 # service_started
    assert state["migrate"]["finished_at"] <= app_started              # service_completed_successfully
    assert state["migrate"]["exit_code"] == 0
    healthy_at = _first_passing_probe(state["db"])
    assert healthy_at is not None and healthy_at <= app_started, state["db"]   # service_healthy
    assert state["db"]["started_at"] < healthy_at
    again = run_playbook(_play(roots))
    assert again.changed == 0, again.output[-3000:]   # the completed one-shot is not re-run (compose#11590)


def _first_passing_probe(state: dict[str, Any]) -> str | None:
    """When the healthcheck first passed: the end of the first probe that exited 0 in the health log."""
    log = (state.get("health") or {}).get("log") or []
    passed = [probe["end"] for probe in log if probe.get("exit_code") == 0]
    return min(passed) if passed else None


SAME = """\
name: same
services:
  db:
    image: busybox:latest
    command: [sleep, "1000"]
    stop_grace_period: 1s
    volumes: [data:/data]
    environment: {ROLE: db}
  web:
    image: busybox:latest
    command: sh -c 'exec sleep 1000'
    stop_grace_period: 1s
    ports: ["127.0.0.1:18321:80"]
    depends_on: [db]
    labels: {tier: front}
  worker:
    image: busybox:latest
    command: [sleep, "1000"]
    stop_grace_period: 1s
    scale: 2
volumes:
  data: {}
"""


@pytest.fixture
def cli_root(roots: Roots, tmp_path: Path, busybox_image: Any) -> Iterator[tuple[Path, Path]]:
    """A second state root (busybox loaded) for `berth compose`; the project taken down at the end."""
    from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
    from ansible_collections.berth.engine.plugins.module_utils.image.archive import load_archive
    from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
    from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
    from tests.support.networks import drop_networks
    from tests.support.runtime import mounts_under

    state, run = tmp_path / "cli-state", tmp_path / "cli-run"
    load_archive(ImageStore(Engine.open(state, run)), busybox_image.layout, parse_reference("busybox:latest"))
    try:
        yield state, run
    finally:
        _berth(state, run, roots.project_dir, "compose", "down", "-v")
        drop_networks(Engine.open(state, run))
        assert wait_for(lambda: not _monitor_alive(run), timeout=15), "the CLI root's monitor did not exit"
        assert not mounts_under(state)


def _monitor_alive(run: Path) -> bool:
    try:
        return Path(f"/proc/{int((run / 'monitor.pid').read_text())}").exists()
    except (OSError, ValueError):
        return False


def test_module_and_cli_make_the_same_containers(roots: Roots, cli_root: tuple[Path, Path]) -> None:
    (roots.project_dir / "compose.yaml").write_text(SAME)
    done = run_playbook(_play(roots))
    assert done.failed == 0 and done.changed == 1, done.output[-3000:]
    made = sorted(c["Name"] for c in recorded(roots.project_dir.parent)[0]["containers"])
    assert made == ["same-db-1", "same-web-1", "same-worker-1", "same-worker-2"]
    listed = _berth(roots.state, roots.run, roots.project_dir, "compose", "ps", "--format", "json")
    assert sorted(row["Name"] for row in json.loads(listed.stdout)) == made   # the CLI sees what the module made
    by_module = _records(roots.state, roots.run, roots.project_dir)
    # the published port is the host's: the module's project comes down before the CLI's goes up
    assert run_playbook(_play(roots, "down.yml", state="absent", remove_volumes=True)).changed == 1

    state, run = cli_root
    up = _berth(state, run, roots.project_dir, "compose", "up", "-d")
    assert up.returncode == 0, (up.stdout, up.stderr)
    by_cli = _records(state, run, roots.project_dir)
    assert sorted(by_cli) == made
    for name in made:
        ours, theirs = by_module[name], by_cli[name]
        assert ours["config"]["labels"] == theirs["config"]["labels"], name   # config-hash included
        assert _comparable(ours["spec"]) == _comparable(theirs["spec"]), name


def _comparable(spec: dict[str, Any]) -> dict[str, Any]:
    """A container's spec less what names its own id (its cgroup)."""
    return {key: value for key, value in spec.items() if key not in ("cgroup_path",)}


CRASH_SERVICES = 8
GATED = """\
name: crash
services:
  gate:
    image: busybox:latest
    command: sh -c 'sleep 3; touch /tmp/ready; exec sleep 1000'
    network_mode: none
    stop_grace_period: 1s
    healthcheck:
      test: [CMD, test, -f, /tmp/ready]
      interval: 1s
      retries: 60
""" + "".join(f"""\
  s{i}:
    image: busybox:latest
    command: [sleep, "1000"]
    network_mode: none
    stop_grace_period: 1s
    depends_on:
      gate: {{condition: service_healthy}}
""" for i in range(1, CRASH_SERVICES))


def test_a_kill_mid_up_then_converge(roots: Roots) -> None:
    (roots.project_dir / "compose.yaml").write_text(GATED)
    play = _play(roots)
    outcome: dict[str, Any] = {}
    scratch = roots.project_dir.parent / "module-tmp"   # the killed module's AnsiballZ payload lands here
    scratch.mkdir()
    runner = threading.Thread(target=_run_into, args=(play, outcome, {"TMPDIR": str(scratch)}))
    runner.start()
    try:
        assert wait_for(lambda: bool(_records(roots.state, roots.run, roots.project_dir)), timeout=120), \
            "no container was made"
        killed = _kill_play_and_workers(play)
        assert killed, "found no ansible-playbook to kill"
    finally:
        runner.join(timeout=180)
    assert outcome.get("result") is None or outcome["result"].returncode != 0   # it did not finish
    assert len(_records(roots.state, roots.run, roots.project_dir)) < CRASH_SERVICES   # killed mid-up

    done = run_playbook(play)
    assert done.failed == 0 and done.changed == 1, done.output[-3000:]
    records = _records(roots.state, roots.run, roots.project_dir)
    expected = ["crash-gate-1"] + [f"crash-s{i}-1" for i in range(1, CRASH_SERVICES)]
    assert sorted(records) == sorted(expected)   # no duplicate, none missing
    assert all(record["state"]["status"] == "running" for record in records.values()), records
    assert len({record["id"] for record in records.values()}) == CRASH_SERVICES
    assert run_playbook(play).changed == 0


def _run_into(play: Path, outcome: dict[str, Any], env: dict[str, str]) -> None:
    try:
        outcome["result"] = run_playbook(play, timeout=300, env=env)
    except AssertionError as error:   # no PLAY RECAP: it was killed
        outcome["error"] = str(error)


def _kill_play_and_workers(play: Path) -> list[int]:
    """SIGKILL the ansible-playbook running ``play`` with everything under it, and the engine agents'
    workers (the processes that carry out a task; the agents themselves stay, as after a worker's crash)."""
    children = _children()
    plays = [pid for pid, cmd in _cmdlines().items() if "ansible-playbook" in cmd and str(play) in cmd]
    doomed = [pid for root in plays for pid in _tree(root, children)]
    cmdlines = _cmdlines()
    doomed += [pid for agent in agent_pids() for pid in _tree(agent, children)
               if pid != agent and "monitor" not in cmdlines.get(pid, "")]   # a container monitor is no worker
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return plays


def _cmdlines() -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
    return found


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _tree(root: int, children: dict[int, list[int]]) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found
