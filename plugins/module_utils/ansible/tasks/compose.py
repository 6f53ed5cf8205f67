"""The compose module's task, and what ``berth compose`` shares with it: finding a
project's files, loading it, and the converge options.

The module and the CLI load a project the same way (``load``) and converge it
through the same planner (compose/plan.plan_project), so a project brought
up by one is the project the other sees.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InvalidInput
from ..compose_models import ComposeRequest
from ..glue import plan_and_apply, validate_params

if TYPE_CHECKING:
    from ...compose.model import Project
    from ...compose.plan import UpOptions
    from ...engine import Engine
    from ...plan import Plan

# Compose's file names, in the order it looks them up in a directory (compose/loader.py picks one, and its override)
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
FACTS = ("containers", "networks", "volumes", "images")


def find_project_dir(start: Path) -> Path:
    """The nearest of ``start`` and its parents that holds a compose file (as the Compose CLI looks)."""
    for place in (start, *start.parents):
        if any((place / name).is_file() for name in DEFAULT_FILES):
            return place
    raise InvalidInput(f"no compose file in {start} or its parents", field="-f",
                       hint=f"name one with -f, or add one of {', '.join(DEFAULT_FILES)}")


def project_files(project_dir: Path, files: list[Path]) -> list[Path]:
    """``files`` made absolute against ``project_dir``, each one checked (none: the loader looks up
    Compose's default names in ``project_dir``)."""
    absolute = [f if f.is_absolute() else project_dir / f for f in (Path(os.path.expanduser(f)) for f in files)]
    for index, path in enumerate(absolute):
        if not path.is_file():
            raise InvalidInput(f"{path} is not a file", field=f"files[{index}]",
                               hint="paths are relative to project_src")
    return absolute


def load(*, project_dir: Path, files: list[Path], project_name: str | None = None,
         env_files: list[Path] | None = None, profiles: list[str] | None = None,
         definition: dict[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Project:
    """The project from its files or inline ``definition`` (the loader's errors name the key at fault:
    ``services.web.ports[0]``). The environment is this process's: the module's, or the CLI's shell."""
    from ...compose.loader import load_project

    env = [f if f.is_absolute() else project_dir / f for f in env_files or []]
    for index, path in enumerate(env):
        if not path.is_file():
            raise InvalidInput(f"{path} is not a file", field=f"env_files[{index}]",
                               hint="paths are relative to project_src")
    return load_project([str(f) for f in files], project_dir=str(project_dir), project_name=project_name,
                        env_files=[str(f) for f in env] or None, profiles=list(profiles) if profiles else None,
                        environ=dict(os.environ if environ is None else environ), definition=definition)


def check_request(request: ComposeRequest) -> None:
    """What the argument spec cannot say (a task called without AnsibleModule gets the same answers)."""
    if request.definition is not None and request.files:
        raise InvalidInput("files and definition are mutually exclusive", field="definition",
                           hint="give the project inline (definition) or as files under project_src")
    if request.definition is None and request.project_src is None and not by_labels(request):
        raise InvalidInput("no project: set project_src (a directory with a compose file) or definition",
                           field="project_src", hint="with only project_name, state absent, stopped and restarted "
                                                     "work on the project's containers (found by their labels)")
    if request.definition is not None and not request.project_name:
        raise InvalidInput("an inline definition needs a project name", field="project_name",
                           hint="set project_name (the definition has no directory to take it from)")
    if request.project_src is not None and not request.project_src.is_dir():
        raise InvalidInput(f"{request.project_src} is not a directory", field="project_src")


def by_labels(request: ComposeRequest) -> bool:
    """Only a project name, and a state that needs no files: the project is found by its labels (as
    `docker compose -p NAME down|stop|restart` finds it)."""
    return request.definition is None and request.project_src is None and bool(request.project_name) \
        and request.state in ("absent", "stopped", "restarted")


def load_request(request: ComposeRequest) -> Project:
    check_request(request)
    project_dir = request.project_src if request.project_src is not None else Path.cwd()
    return load(project_dir=project_dir, files=project_files(project_dir, request.files),
                project_name=request.project_name, env_files=request.env_files, profiles=request.profiles,
                definition=request.definition)


def up_options(request: ComposeRequest) -> UpOptions:
    from ...compose.plan import UpOptions

    return UpOptions(services=tuple(request.services), scale=dict(request.scale), state=request.state,
                     recreate=request.recreate, pull=request.pull, build=request.build,
                     remove_orphans=request.remove_orphans, remove_volumes=request.remove_volumes,
                     remove_images=request.remove_images, wait=request.wait,
                     wait_timeout=float(request.wait_timeout), registry=request.registry)


def check_names(project: Project, request: ComposeRequest) -> None:
    """A service named in ``services`` or ``scale`` must be the project's (the option names the index);
    one a profile left out counts (named, it runs, as in Compose)."""
    known = {*project.services, *(getattr(project, "disabled", None) or {})}
    hint = f"the services are {', '.join(sorted(known)) or 'none'}"
    for index, name in enumerate(request.services):
        if name not in known:
            raise InvalidInput(f"no service {name!r} in project {project.name}", field=f"services[{index}]",
                               hint=hint)
    for name in request.scale:
        if name not in known:
            raise InvalidInput(f"no service {name!r} in project {project.name}", field=f"scale.{name}", hint=hint)


def facts(engine: Engine, name: str) -> dict[str, Any]:
    """The project's containers, networks, volumes and images as they are (compose/plan.project_facts)."""
    from ...compose.plan import project_facts

    found = project_facts(engine, name)
    return {key: found[key] for key in FACTS if key in found}


def compose(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    request = validate_params(ComposeRequest, params)
    labelled = by_labels(request)
    project: Any = None if labelled else load_request(request)
    if project is not None:
        check_names(project, request)
    options = up_options(request)
    name = str(request.project_name) if labelled else project.name

    def plan(engine: Engine, _request: ComposeRequest) -> Plan:
        from ...compose.plan import plan_project
        from ...compose.state import project_from_labels

        nonlocal project
        if labelled:
            project = project_from_labels(engine, name)
        planned = plan_project(engine, project, options)
        planned.warnings = [*getattr(project, "warnings", []), *planned.warnings]
        return planned

    def report(engine: Engine, _request: ComposeRequest, _planned: Plan, applied: bool) -> dict[str, Any]:
        # check mode reports the plan's prediction (plan.facts); an apply, what is there now
        return {"project_name": name, **(facts(engine, name) if applied else {})}

    return plan_and_apply(request, check_mode=check_mode, plan=plan, report=report)


TASKS = {"compose": compose}
MODELS = {"compose": ComposeRequest}
