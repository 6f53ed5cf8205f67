"""Converging Compose projects through the engine API on the real kernel
(busybox): up from nothing, start order per depends_on condition (read
from the containers' start times), check → apply → apply → check, one
service's change and a bound file's change, scale, orphans, down -v, and a
kill -9 in the middle of an up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose import names
from ansible_collections.berth.engine.plugins.module_utils.compose.plan import project_facts
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidState
from ansible_collections.berth.engine.plugins.module_utils.network.store import NetworkStore
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.integration.compose.conftest import Roots

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
SLEEP = ["sleep", "1000"]
REPO = Path(__file__).resolve().parents[3]


def _svc(command: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"image": "busybox:latest", "command": command or SLEEP, "network_mode": "none",
            "stop_grace_period": "1s", **extra}


def _state(roots: Roots, name: str) -> dict[str, Any]:
    return roots.containers().store.get(name)["state"]


def _started(roots: Roots, name: str) -> datetime:
    return datetime.fromisoformat(_state(roots, name)["started_at"].replace("Z", "+00:00"))


def _exec(roots: Roots, name: str, script: str) -> str:
    result = roots.containers().execute(name, ["sh", "-c", script], timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.decode()


def test_up_from_nothing_then_converged(roots: Roots) -> None:
    project = roots.project({
        "web": _svc(environment={"GREETING": "hello from shop", "EMPTY": ""}, labels={"team": "shop"}),
        "db": {"image": "busybox:latest", "command": SLEEP, "stop_grace_period": "1s",
               "volumes": [{"type": "volume", "source": "data", "target": "/data"}]},
        "api": {"image": "busybox:latest", "command": SLEEP, "stop_grace_period": "1s",
                "depends_on": {"db": {"condition": "service_started", "required": True}}},
    }, volumes={"data": {}})
    first = roots.check(project)
    assert first.changed and "created: shop-web-1" in first.actions()
    assert first.actions()[:2] == ["created network: shop_default", "created volume: shop_data"]
    applied = roots.up(project)
    assert applied.changed
    again = roots.up(project)
    assert not again.changed and again.actions() == []
    assert not roots.check(project).changed
    engine = roots.engine()
    network = NetworkStore(engine).by_name("shop_default")
    assert network is not None and network["labels"][names.PROJECT] == "shop"
    assert network["labels"][names.NETWORK] == "default"
    volume = VolumeService(engine).get("shop_data")
    assert volume["labels"][names.VOLUME] == "data" and volume["labels"][names.PROJECT] == "shop"
    web = roots.containers().store.get("shop-web-1")
    labels = web["spec"]["labels"]
    assert labels[names.SERVICE] == "web" and labels[names.NUMBER] == "1" and labels["team"] == "shop"
    assert labels[names.IMAGE] == web["image_id"] and labels[names.CONFIG_HASH]
    assert labels[names.WORKING_DIR] == str(roots.project_dir)
    assert _exec(roots, "shop-web-1", 'echo "$GREETING|${EMPTY-unset}"') == "hello from shop|\n"
    assert _exec(roots, "shop-db-1", "touch /data/x && echo ok") == "ok\n"
    hosts = _exec(roots, "shop-api-1", "cat /etc/hosts").split()
    assert "db" in hosts and "shop-db-1" in hosts   # the service name is an alias on the project's network
    facts = project_facts(engine, "shop")
    assert sorted((c["Name"], c["Service"], c["State"]) for c in facts["containers"]) == [
        ("shop-api-1", "api", "running"), ("shop-db-1", "db", "running"), ("shop-web-1", "web", "running")]
    assert applied.facts["networks"][0]["Name"] == "shop_default"
    assert [v["Name"] for v in applied.facts["volumes"]] == ["shop_data"]


def test_start_order_follows_each_condition(roots: Roots) -> None:
    project = roots.project({
        "db": _svc(["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 1000"],
                   healthcheck={"test": ["CMD-SHELL", "test -f /tmp/ready"], "interval": "200ms",
                                "retries": 50}),
        "migrate": _svc(["sh", "-c", "sleep 0.5; echo migrated"]),
        "cache": _svc(),
        "web": _svc(depends_on={"db": {"condition": "service_healthy", "required": True},
                                "migrate": {"condition": "service_completed_successfully", "required": True},
                                "cache": {"condition": "service_started", "required": True}}),
    })
    roots.up(project, wait_timeout=60)
    web = _started(roots, "shop-web-1")
    migrate = _state(roots, "shop-migrate-1")
    assert migrate["exit_code"] == 0
    assert web >= datetime.fromisoformat(migrate["finished_at"].replace("Z", "+00:00"))
    assert web >= _started(roots, "shop-cache-1")
    assert _state(roots, "shop-db-1")["health"]["status"] == "healthy"
    # db cannot be healthy before its command made /tmp/ready, a second after it started
    assert web - _started(roots, "shop-db-1") >= timedelta(seconds=1)
    # the completed one-shot is not run again by a no-op converge, and wait accepts it
    again = roots.up(project, wait=True, wait_timeout=60)
    assert again.actions() == []
    assert _state(roots, "shop-migrate-1")["finished_at"] == migrate["finished_at"]


def test_a_failed_dependency_fails_its_dependents(roots: Roots) -> None:
    project = roots.project({"bad": _svc(["sh", "-c", "exit 3"]),
                             "after": _svc(depends_on={"bad": {"condition": "service_completed_successfully",
                                                               "required": True}}),
                             "free": _svc()})
    with pytest.raises(InvalidState, match=r"after was not started: its dependency bad failed.*exit code 3"):
        roots.up(project, wait_timeout=30)
    assert roots.containers().store.find("shop-after-1") is None
    assert _state(roots, "shop-free-1")["status"] == "running"


def test_one_service_change_and_a_bound_file_change_recreate_only_it(roots: Roots) -> None:
    conf = roots.project_dir / "app.conf"
    conf.write_text("v1\n")
    services = {"a": _svc(volumes=[{"type": "bind", "source": str(conf), "target": "/etc/app.conf",
                                    "read_only": True, "bind": {"create_host_path": True}}]),
                "b": _svc()}
    roots.up(roots.project(services))
    ids = {n: roots.containers().store.get(n)["id"] for n in ("shop-a-1", "shop-b-1")}
    changed = {**services, "b": _svc(environment={"MODE": "2"})}
    plan = roots.up(roots.project(changed))
    assert plan.actions() == ["recreated: shop-b-1 (config changed)", "started: shop-b-1"]
    assert roots.containers().store.get("shop-a-1")["id"] == ids["shop-a-1"]
    assert roots.containers().store.get("shop-b-1")["id"] != ids["shop-b-1"]
    conf.write_text("v2\n")
    wanted = ["recreated: shop-a-1 (config changed)", "started: shop-a-1"]
    assert roots.check(roots.project(changed)).actions() == wanted
    roots.up(roots.project(changed))
    assert _exec(roots, "shop-a-1", "cat /etc/app.conf") == "v2\n"
    assert not roots.up(roots.project(changed)).changed


def test_scale_up_down_and_orphans(roots: Roots) -> None:
    services = {"web": _svc(deploy={"replicas": 3}), "old": _svc()}
    roots.up(roots.project(services))
    assert sorted(c["Name"] for c in project_facts(roots.engine(), "shop")["containers"]) == [
        "shop-old-1", "shop-web-1", "shop-web-2", "shop-web-3"]
    plan = roots.up(roots.project(services), scale={"web": 1})
    assert plan.actions() == ["removed: shop-web-3 (scaled down)", "removed: shop-web-2 (scaled down)"]
    plan = roots.up(roots.project({"web": services["web"]}), scale={"web": 2})
    assert plan.actions() == ["created: shop-web-2", "started: shop-web-2"]
    assert plan.facts["orphans"] == ["shop-old-1"] and any("shop-old-1" in w for w in plan.warnings)
    plan = roots.up(roots.project({"web": services["web"]}), scale={"web": 2}, remove_orphans=True)
    assert plan.actions() == ["removed orphan: shop-old-1"]
    assert sorted(c["Name"] for c in project_facts(roots.engine(), "shop")["containers"]) == [
        "shop-web-1", "shop-web-2"]


def test_stopped_restarted_and_down_with_volumes(roots: Roots) -> None:
    volumes = [{"type": "volume", "source": "data", "target": "/data"}]
    project = roots.project({"web": _svc(volumes=volumes), "db": _svc(volumes=volumes)}, volumes={"data": {}})
    other = roots.project({"web": _svc()}, name="other")
    roots.up(project)
    roots.up(other)
    VolumeService(roots.engine()).create("unlabelled")
    assert roots.up(project, state="stopped").actions() == ["stopped: shop-web-1", "stopped: shop-db-1"]
    plan = roots.up(project)
    assert sorted(plan.actions()) == ["started: shop-db-1", "started: shop-web-1"]
    before = _started(roots, "shop-db-1")
    assert roots.up(project, state="restarted").actions() == ["restarted: shop-db-1", "restarted: shop-web-1"]
    assert _started(roots, "shop-db-1") > before
    plan = roots.up(project, state="absent", remove_volumes=True)
    assert plan.actions() == ["removed: shop-web-1", "removed: shop-db-1", "removed volume: shop_data"]
    assert project_facts(roots.engine(), "shop") == {"containers": [], "networks": [], "volumes": [], "images": []}
    assert VolumeService(roots.engine()).find("unlabelled") is not None
    assert _state(roots, "other-web-1")["status"] == "running"
    assert not roots.up(project, state="absent").changed


CRASHING_UP = """
import json, sys
from ansible_collections.berth.engine.plugins.module_utils.compose.model import Project
from ansible_collections.berth.engine.plugins.module_utils.compose.plan import UpOptions, plan_project
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
state, run, project = json.loads(sys.argv[1])
engine = Engine.open(state, run)
plan_project(engine, Project(**project), UpOptions()).execute(engine)
"""


def test_kill_9_mid_up_then_converge(roots: Roots) -> None:
    services = {"a": _svc(), "b": _svc(depends_on={"a": {"condition": "service_started", "required": True}})}
    project = roots.project(services)
    roots.up(roots.project({"a": services["a"]}))
    argument = json.dumps([str(roots.state), str(roots.run), {
        "name": "shop", "working_dir": project.working_dir, "config_files": project.config_files,
        "services": {**services, "a": _svc(environment={"X": "1"})}}])
    env = {**os.environ, "BERTH_CRASH_AT": "container.create.config",
           "PYTHONPATH": os.pathsep.join([str(REPO / ".build" / "collections"), str(REPO)])}
    result = subprocess.run([sys.executable, "-c", CRASHING_UP, argument], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr
    plan = roots.up(roots.project({**services, "a": _svc(environment={"X": "1"})}))
    assert plan.changed
    facts = project_facts(roots.engine(), "shop")
    assert sorted((c["Name"], c["State"]) for c in facts["containers"]) == [("shop-a-1", "running"),
                                                                            ("shop-b-1", "running")]
    assert not roots.up(roots.project({**services, "a": _svc(environment={"X": "1"})})).changed


def test_build_is_tagged_like_compose_and_rebuilt_only_when_it_changes(roots: Roots) -> None:
    context = roots.project_dir / "app"
    context.mkdir()
    (context / "hello.txt").write_text("one\n")
    (context / "Dockerfile").write_text('FROM busybox:latest\nCOPY hello.txt /hello.txt\nCMD ["sleep", "1000"]\n')
    service = {"build": {"context": str(context), "dockerfile": "Dockerfile"}, "network_mode": "none",
               "stop_grace_period": "1s"}
    project = roots.project({"app": service})
    plan = roots.up(project)
    assert plan.actions() == ["built: shop-app (app, from Dockerfile:2)", "created: shop-app-1", "started: shop-app-1"]
    assert _exec(roots, "shop-app-1", "cat /hello.txt") == "one\n"
    assert not roots.up(project).changed
    assert not roots.up(project, build="always").changed   # the cache predicts the same image
    (context / "hello.txt").write_text("two\n")
    assert not roots.check(project).changed                 # policy: the image exists
    plan = roots.up(project, build="always")
    assert plan.actions() == ["built: shop-app (app, from Dockerfile:2)", "recreated: shop-app-1 (image changed)",
                              "started: shop-app-1"]
    assert _exec(roots, "shop-app-1", "cat /hello.txt") == "two\n"
    plan = roots.up(project, state="absent", remove_images="local")
    assert plan.actions() == ["removed: shop-app-1", "removed image: shop-app"]


def test_secrets_and_configs_from_environment_and_content(roots: Roots) -> None:
    """Written by the apply under the state root, read-only in the container with the long syntax's mode
    and owner; a changed variable recreates its user; check → apply → apply → check; down removes them."""
    def project(token: str) -> Any:
        return roots.project({"app": _svc(
            secrets=[{"source": "token"}, {"source": "token", "target": "mine", "mode": 0o400, "uid": "1000"}],
            configs=[{"source": "motd", "target": "/etc/motd"}])},
            environment={"TOKEN": token}, secrets={"token": {"environment": "TOKEN"}},
            configs={"motd": {"content": "hello shop"}})

    first = roots.check(project("one"))
    assert first.actions()[:3] == ["wrote config: motd", "wrote secret: token", "wrote secret: token"]
    roots.up(project("one"))
    assert not roots.check(project("one")).changed and not roots.up(project("one")).changed
    assert _exec(roots, "shop-app-1", "cat /run/secrets/token /etc/motd") == "onehello shop"
    assert _exec(roots, "shop-app-1", "stat -c '%a %u' /run/secrets/mine /run/secrets/token") == "400 1000\n444 0\n"
    assert _exec(roots, "shop-app-1", "{ echo x > /run/secrets/token; } 2>/dev/null || echo refused") == "refused\n"
    again = roots.up(project("two"))
    assert "recreated: shop-app-1 (config changed)" in again.actions()
    assert _exec(roots, "shop-app-1", "cat /run/secrets/token") == "two"
    down = roots.up(project("two"), state="absent")
    assert any(a.startswith("removed configs and secrets: ") for a in down.actions())
    assert not (roots.state / "compose" / "shop").exists()
