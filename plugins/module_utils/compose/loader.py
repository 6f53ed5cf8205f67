"""``load_project``: Compose files in, a normalised ``Project`` out."""

from __future__ import annotations

import os
import re
from typing import Any

from ..errors import InvalidInput
from .files import Context, Loaded, load_document, load_file, read_dotenv
from .finalize import finalize
from .merge import enforce_unicity, merge
from .model import Project

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = {"compose.yaml": "compose.override.yaml", "compose.yml": "compose.override.yml",
                  "docker-compose.yaml": "docker-compose.override.yaml",
                  "docker-compose.yml": "docker-compose.override.yml"}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def load_project(files: list[str] | tuple[str, ...] = (), *, project_dir: str | None = None,
                 project_name: str | None = None, env_files: list[str] | tuple[str, ...] | None = None,
                 profiles: list[str] | tuple[str, ...] | None = None, environ: dict[str, str] | None = None,
                 definition: dict[str, Any] | None = None) -> Project:
    """Load, merge and normalise a project.

    ``files`` are read in order (later ones override); without files (and
    without ``definition``, a project given inline) compose.yaml & co. are
    looked up in ``project_dir``. ``environ`` is the shell environment (it wins
    over ``.env``/``env_files``). Every problem is an ``InvalidInput``.
    """
    shell = dict(os.environ if environ is None else environ)
    files = list(files)
    if not files and definition is None and shell.get("COMPOSE_FILE"):
        files = [f for f in shell["COMPOSE_FILE"].split(shell.get("COMPOSE_PATH_SEPARATOR", os.pathsep)) if f]
    # relative files are relative to project_dir when it is given (the module's project_src), else to the cwd
    files = [os.path.abspath(os.path.join(project_dir or ".", f)) for f in files]
    work_dir = os.path.abspath(project_dir or (os.path.dirname(files[0]) if files else "."))
    if not files and definition is None:
        files = _default_files(work_dir)
    env = _environment(work_dir, env_files, shell)
    warnings: list[str] = []
    ctx = Context(env, warnings)
    loaded = [load_document(definition, "definition", work_dir, ctx)] if definition is not None else []
    loaded += [load_file(path, work_dir, Context(env, warnings, (os.path.realpath(path),)), field_name="files")
               for path in files]
    data: dict[str, Any] = {}
    for one in loaded:
        data = merge(data, one.data, (), frozenset(one.resets), frozenset(one.overrides))
    data = enforce_unicity(data)
    source = files[0] if files else "definition"
    name = _project_name(project_name, env, data, work_dir, source)
    active = _profiles(profiles, env)
    project = Project(name=name, working_dir=work_dir, config_files=files, services={},
                      environment=env, profiles=active, warnings=warnings)
    finalize(project, data, source)
    return project


def _default_files(work_dir: str) -> list[str]:
    for name in DEFAULT_FILES:
        path = os.path.join(work_dir, name)
        if os.path.isfile(path):
            override = os.path.join(work_dir, OVERRIDE_FILES[name])
            return [path, override] if os.path.isfile(override) else [path]
    raise InvalidInput(f"{work_dir}: no compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml",
                       field="project_src", hint="pass files, or the directory that holds compose.yaml")


def _environment(work_dir: str, env_files: list[str] | tuple[str, ...] | None, shell: dict[str, str]
                 ) -> dict[str, str]:
    """The interpolation variables: env files (default ``.env``), the shell winning."""
    values: dict[str, str] = {}
    if env_files:
        paths = [os.path.join(work_dir, p) for p in env_files]
    else:
        default = os.path.join(work_dir, ".env")
        paths = [default] if os.path.isfile(default) else []
    for i, path in enumerate(paths):
        for key, value in read_dotenv(path, f"env_files[{i}]" if env_files else ".env", {**values, **shell}).items():
            if not key[:1].isdigit():
                values[key] = value
    return {**values, **shell}


def normalize_project_name(text: str) -> str:
    """A directory's name as a project name (lowercase, [a-z0-9_-], a letter or digit first)."""
    name = re.sub(r"[^a-z0-9_-]", "", text.lower())
    return name.lstrip("_-")


def _project_name(explicit: str | None, env: dict[str, str], data: dict[str, Any], work_dir: str,
                  source: str) -> str:
    for value, field in ((explicit, "project_name"), (env.get("COMPOSE_PROJECT_NAME"), "COMPOSE_PROJECT_NAME"),
                         (data.get("name"), "name")):
        if value:
            if not _NAME.fullmatch(value):
                where = f"{source}: " if field == "name" else ""
                raise InvalidInput(f"{where}{value!r} is not a valid project name", field=field,
                                   hint="use lowercase letters, digits, dashes and underscores, "
                                        "starting with a letter or digit")
            return value
    name = normalize_project_name(os.path.basename(work_dir))
    if not name:
        raise InvalidInput(f"cannot derive a project name from the directory {work_dir!r}", field="project_name",
                           hint="give a project name")
    return name


def _profiles(profiles: list[str] | tuple[str, ...] | None, env: dict[str, str]) -> list[str]:
    if profiles is None:
        profiles = [p.strip() for p in env.get("COMPOSE_PROFILES", "").split(",")]
    return [p for p in profiles if p]


__all__ = ["Loaded", "load_project", "normalize_project_name"]
