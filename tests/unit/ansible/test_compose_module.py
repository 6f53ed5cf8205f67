"""The compose module's surface: its options' validation, how it finds and loads a
project, and its task over a stand-in loader and planner (the engine side,
compose/loader and compose/plan, has tests of its own).

Every bad input is an InvalidInput naming the option (what fail_json shows),
never a traceback."""

from __future__ import annotations

import dataclasses
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible import tasks
from ansible_collections.berth.engine.plugins.module_utils.ansible.compose_models import ComposeRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import validate_params
from ansible_collections.berth.engine.plugins.module_utils.ansible.tasks import compose as task
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.plan import Plan, Step

PACKAGE = "ansible_collections.berth.engine.plugins.module_utils.compose"
COMPOSE = "services:\n  web:\n    image: busybox\n"


@dataclasses.dataclass
class FakeProject:
    name: str
    services: dict[str, dict[str, Any]]
    warnings: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class FakeUpOptions:   # the contract's UpOptions, field for field
    services: tuple[str, ...] = ()
    scale: dict[str, int] = dataclasses.field(default_factory=dict)
    state: str = "present"
    recreate: str = "auto"
    pull: str = "policy"
    build: str = "policy"
    remove_orphans: bool = False
    remove_volumes: bool = False
    remove_images: str | None = None
    wait: bool = False
    wait_timeout: float = 300.0
    registry: Any = None


@dataclasses.dataclass(frozen=True)
class Create(Step):
    name: str

    def describe(self) -> str:
        return f"created: {self.name}"

    def execute(self, context: Any) -> Any:
        context.made.append(self.name)


class Stand:
    """The loader and the planner as the contract gives them, recording their calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, existing: list[str] | None = None) -> None:
        self.loads: list[dict[str, Any]] = []
        self.plans: list[tuple[bool, Any]] = []
        self.made: list[str] = []
        self.existing = existing or []
        loader = types.ModuleType(f"{PACKAGE}.loader")
        loader.load_project = self.load_project   # type: ignore[attr-defined]
        converge = types.ModuleType(f"{PACKAGE}.plan")
        converge.UpOptions = FakeUpOptions   # type: ignore[attr-defined]
        converge.plan_project = self.plan_project   # type: ignore[attr-defined]
        converge.project_facts = self.project_facts   # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, loader.__name__, loader)
        monkeypatch.setitem(sys.modules, converge.__name__, converge)
        monkeypatch.setattr(Plan, "execute", lambda plan, _engine: [s.execute(self) for s in plan.steps])

    def load_project(self, files: list[str], **kwargs: Any) -> FakeProject:
        self.loads.append({"files": [Path(f) for f in files], **kwargs})
        return FakeProject(kwargs["project_name"] or Path(kwargs["project_dir"]).name, {"web": {}, "db": {}},
                           warnings=["version is obsolete"])

    def plan_project(self, engine: Engine, project: FakeProject, options: FakeUpOptions) -> Plan:
        self.plans.append((engine.readonly if hasattr(engine, "readonly") else None, options))
        wanted = [] if options.state == "absent" else [f"{project.name}-web-1"]
        plan = Plan(steps=[Create(n) for n in wanted if n not in self.existing + self.made])
        plan.before = {"containers": list(self.existing + self.made)}
        plan.after = {"containers": wanted}
        plan.facts = {"containers": [{"Name": n, "State": "created"} for n in wanted], "networks": [],
                      "volumes": [], "images": []}
        return plan

    def project_facts(self, _engine: Engine, name: str) -> dict[str, Any]:
        return {"containers": [{"Name": n, "State": "running"} for n in self.existing + self.made
                               if n.startswith(name)], "networks": [], "volumes": [], "images": [], "extra": 1}


@pytest.fixture
def roots(tmp_path: Path) -> dict[str, str]:
    Engine.open(tmp_path / "state", tmp_path / "run")
    return {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run")}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "shop"
    directory.mkdir()
    (directory / "compose.yaml").write_text(COMPOSE)
    return directory


def _failure(params: dict[str, Any], check_mode: bool = True) -> dict[str, Any]:
    """What fail_json would get: the reply of tasks.execute (no exception escapes it)."""
    reply = tasks.execute("compose", params, check_mode, True)
    assert "failed" in reply, reply
    return reply["failed"]


# -- options ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "field"), [
    ({"state": "running"}, "state"),
    ({"pull": "sometimes"}, "pull"),
    ({"build": "maybe"}, "build"),
    ({"recreate": "yes"}, "recreate"),
    ({"remove_images": "some"}, "remove_images"),
    ({"scale": {"web": -1}}, "scale"),
    ({"scale": {"web": "many"}}, "scale.web"),
    ({"wait_timeout": 0}, "wait_timeout"),
    ({"services": "web"}, "services"),
    ({"state_root": "relative/state"}, "engine.state_root"),
])
def test_a_bad_option_names_itself(project: Path, params: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_params(ComposeRequest, {"project_src": str(project), **params})
    assert caught.value.field == field, caught.value


def test_the_defaults_are_docker_compose_v2s() -> None:
    request = validate_params(ComposeRequest, {"project_src": "/srv/shop"})
    assert (request.state, request.pull, request.build, request.recreate) == ("present", "policy", "policy", "auto")
    assert not (request.remove_orphans or request.remove_volumes or request.wait) and request.remove_images is None
    assert request.wait_timeout == 300 and request.scale == {} and request.services == []


def test_the_options_become_the_converge_options(monkeypatch: pytest.MonkeyPatch) -> None:
    Stand(monkeypatch)
    request = validate_params(ComposeRequest, {
        "project_src": "/srv/shop", "services": ["web"], "scale": {"web": "3"}, "state": "absent",
        "recreate": "always", "pull": "never", "build": "always", "remove_orphans": True, "remove_volumes": True,
        "remove_images": "local", "wait": True, "wait_timeout": 20})
    assert task.up_options(request) == FakeUpOptions(
        services=("web",), scale={"web": 3}, state="absent", recreate="always", pull="never", build="always",
        remove_orphans=True, remove_volumes=True, remove_images="local", wait=True, wait_timeout=20.0,
        registry=request.registry)


@pytest.mark.parametrize(("params", "field", "words"), [
    ({}, "project_src", "no project"),
    ({"definition": {"services": {}}}, "project_name", "needs a project name"),
    ({"definition": {"services": {}}, "project_name": "p", "files": ["a.yaml"]}, "definition", "mutually exclusive"),
    ({"project_src": "/nonexistent/shop"}, "project_src", "not a directory"),
])
def test_where_the_project_comes_from_is_checked(roots: dict[str, str], params: dict[str, Any], field: str,
                                                 words: str) -> None:
    failed = _failure({**roots, **params})
    assert failed["error"]["field"] == field and words in failed["msg"], failed
    assert "Traceback" not in failed["msg"]


# -- finding the files ---------------------------------------------------------------------------------------------
def test_the_cli_looks_in_the_parents(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yaml").write_text(COMPOSE)
    below = tmp_path / "src" / "app"
    below.mkdir(parents=True)
    assert task.find_project_dir(below) == tmp_path
    (below / "compose.yml").write_text(COMPOSE)
    assert task.find_project_dir(below) == below
    with pytest.raises(InvalidInput) as caught:
        task.find_project_dir(Path("/proc/self"))
    assert caught.value.field == "-f" and "compose.yaml" in str(caught.value)


def test_files_are_relative_to_the_project_and_must_exist(project: Path) -> None:
    (project / "prod.yaml").write_text(COMPOSE)
    assert task.project_files(project, [Path("compose.yaml"), Path("prod.yaml")]) == [
        project / "compose.yaml", project / "prod.yaml"]
    assert task.project_files(project, []) == []   # the loader looks up compose.yaml & co.
    with pytest.raises(InvalidInput) as caught:
        task.project_files(project, [Path("compose.yaml"), Path("missing.yaml")])
    assert caught.value.field == "files[1]"


def test_the_real_loader_through_the_task(roots: dict[str, str], project: Path) -> None:
    """compose/loader.py's own errors reach fail_json with the key's path; a project's name is its directory's."""
    (project / "compose.yaml").write_text(COMPOSE + "    portz: 80\n")
    failed = _failure({**roots, "project_src": str(project)})
    assert failed["error"]["field"] == "services.web.portz" and "portz" in failed["msg"]
    request = validate_params(ComposeRequest, {"definition": {"services": {"web": {"image": "busybox"}}},
                                               "project_name": "inline", "project_src": str(project)})
    loaded = task.load_request(request)
    assert loaded.name == "inline" and list(loaded.services) == ["web"]


# -- the task over stand-ins --------------------------------------------------------------------------------------
def test_check_plans_on_a_view_and_apply_executes_the_same_steps(monkeypatch: pytest.MonkeyPatch,
                                                                 roots: dict[str, str], project: Path) -> None:
    stand = Stand(monkeypatch)
    params = {**roots, "project_src": str(project)}
    check = tasks.run("compose", params, True, True)
    assert check["changed"] and check["actions"] == ["created: shop-web-1"] and stand.made == []
    assert check["containers"] == [{"Name": "shop-web-1", "State": "created"}]   # the plan's prediction
    assert check["diff"] == {"before": {"containers": []}, "after": {"containers": ["shop-web-1"]}}
    assert check["warnings"] == ["version is obsolete"] and check["project_name"] == "shop"
    apply = tasks.run("compose", params, False, True)
    assert apply["actions"] == check["actions"] and stand.made == ["shop-web-1"]
    assert apply["containers"] == [{"Name": "shop-web-1", "State": "running"}]   # what is there now
    assert "extra" not in apply
    again = tasks.run("compose", params, False, True)
    assert not again["changed"] and again["actions"] == [] and again["diff"]["before"] == again["diff"]["after"]
    loaded = stand.loads[0]
    assert loaded["files"] == [] and loaded["project_dir"] == str(project)   # the loader finds compose.yaml
    assert loaded["project_name"] is None and loaded["profiles"] is None and loaded["env_files"] is None
    assert loaded["definition"] is None


def test_the_loaders_inputs(monkeypatch: pytest.MonkeyPatch, roots: dict[str, str], project: Path) -> None:
    stand = Stand(monkeypatch)
    (project / "prod.env").write_text("A=1\n")
    (project / "prod.yaml").write_text(COMPOSE)
    monkeypatch.setenv("TAG", "1.4")
    tasks.run("compose", {**roots, "project_src": str(project), "files": ["compose.yaml", "prod.yaml"],
                          "env_files": ["prod.env"], "profiles": ["debug"], "project_name": "Shop2"}, True, False)
    loaded = stand.loads[0]
    assert loaded["files"] == [project / "compose.yaml", project / "prod.yaml"]
    assert loaded["env_files"] == [str(project / "prod.env")] and loaded["profiles"] == ["debug"]
    assert loaded["project_name"] == "Shop2" and loaded["environ"]["TAG"] == "1.4"
    failed = _failure({**roots, "project_src": str(project), "env_files": ["none.env"]})
    assert failed["error"]["field"] == "env_files[0]"


def test_an_inline_definition_goes_to_the_loader_as_it_is(monkeypatch: pytest.MonkeyPatch,
                                                          roots: dict[str, str], project: Path) -> None:
    stand = Stand(monkeypatch)
    definition = {"services": {"web": {"image": "busybox", "command": ["echo", "$$HOME"]}}}
    result = tasks.run("compose", {**roots, "definition": definition, "project_name": "inline",
                                   "project_src": str(project)}, True, False)
    assert result["actions"] == ["created: inline-web-1"]
    loaded = stand.loads[0]
    assert loaded["definition"] == definition and loaded["files"] == [] and loaded["project_dir"] == str(project)


def test_unknown_services_name_the_option(monkeypatch: pytest.MonkeyPatch, roots: dict[str, str],
                                          project: Path) -> None:
    Stand(monkeypatch)
    failed = _failure({**roots, "project_src": str(project), "services": ["web", "cache"]})
    assert failed["error"]["field"] == "services[1]" and "db, web" in failed["msg"]
    failed = _failure({**roots, "project_src": str(project), "scale": {"worker": 2}})
    assert failed["error"]["field"] == "scale.worker"


def test_the_loaders_errors_come_back_as_they_are(monkeypatch: pytest.MonkeyPatch, roots: dict[str, str],
                                                  project: Path) -> None:
    stand = Stand(monkeypatch)

    def bad(_files: list[Path], **_kwargs: Any) -> None:
        raise InvalidInput("compose.yaml: unknown key portz", field="services.web.portz")

    monkeypatch.setattr(stand, "load_project", bad)
    sys.modules[f"{PACKAGE}.loader"].load_project = bad   # type: ignore[attr-defined]
    failed = _failure({**roots, "project_src": str(project)})
    assert failed["error"]["field"] == "services.web.portz" and "services.web.portz" in failed["msg"]


def test_down_reports_what_is_left(monkeypatch: pytest.MonkeyPatch, roots: dict[str, str], project: Path) -> None:
    stand = Stand(monkeypatch, existing=["shop-web-1"])
    result = tasks.run("compose", {**roots, "project_src": str(project), "state": "absent",
                                   "remove_volumes": True}, True, True)
    assert stand.plans[-1][1].state == "absent" and stand.plans[-1][1].remove_volumes
    assert result["containers"] == [] and not result["changed"]   # the stand-in plans no removal


# -- the CLI's own parsing ---------------------------------------------------------------------------------------
def test_the_cli_parses_compose_verbs() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.cli import compose as cli
    from ansible_collections.berth.engine.plugins.module_utils.cli.main import _parser

    args = _parser().parse_args(["compose", "-f", "a.yaml", "-f", "b.yaml", "-p", "shop", "--profile", "debug",
                                 "up", "-d", "--scale", "web=3", "--remove-orphans", "web"])
    assert (args.command, args.compose_command, args.compose_files) == ("compose", "up", ["a.yaml", "b.yaml"])
    assert args.project_name == "shop" and args.profiles == ["debug"] and args.services == ["web"]
    assert cli._scale(args.scale) == {"web": 3}
    with pytest.raises(InvalidInput) as caught:
        cli._scale(["web"])
    assert caught.value.field == "--scale"
    run = _parser().parse_args(["compose", "run", "--rm", "web", "sh", "-c", "echo hi"])
    assert (run.service, run.cmd, run.rm) == ("web", ["sh", "-c", "echo hi"], True)
    down = _parser().parse_args(["compose", "down", "-v", "--rmi", "local"])
    assert down.volumes and down.rmi == "local"
