"""`berth compose`: Docker Compose's verbs over the planner the compose module uses.

``berth compose [-f FILE]... [-p NAME] [--env-file F] [--profile P] VERB``:
config, up, down, ps, logs, pull, build, start, stop, restart, exec, run.
The project is loaded as the module loads it (ansible/tasks/compose.load):
without ``-f`` (or ``COMPOSE_FILE``), Compose's file names are looked up in
the working directory and its parents; the project directory is the first
file's directory (or ``--project-directory``). ``up`` and ``down`` plan and
execute as the module does (``--dry-run`` prints the plan over a read-only
view), so what one makes the other sees.

``up`` without ``-d`` converges like ``up -d`` and says so: there is no
attached mode (follow the output with ``berth compose logs -f``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from ..compose.model import Project
    from ..containers.record import ContainerRecord

ATTACHED_NOTE = ("berth compose up: no attached mode; the project runs detached "
                 "(follow it with berth compose logs -f)\n")


def _task() -> Any:
    # Absolute, not `..ansible`: ansible-test's pylint reads a relative import of a package named ansible as
    # Ansible itself (as cli/main.py does).
    from ansible_collections.berth.engine.plugins.module_utils.ansible.tasks import compose

    return compose


# -- the parser ----------------------------------------------------------------------------------------------
def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("compose", parents=[common], help="Compose projects: config, up, down, ps, logs, ...")
    parser.add_argument("-f", "--file", action="append", default=[], dest="compose_files", metavar="FILE")
    parser.add_argument("-p", "--project-name")
    parser.add_argument("--project-directory", help="default: the first file's directory")
    parser.add_argument("--env-file", action="append", default=[], dest="env_files", metavar="FILE")
    parser.add_argument("--profile", action="append", default=[], dest="profiles", metavar="PROFILE")
    verbs = parser.add_subparsers(dest="compose_command", required=True, metavar="VERB")

    def verb(name: str, text: str, services: bool = True) -> argparse.ArgumentParser:
        found = verbs.add_parser(name, parents=[common], help=text)
        if services:
            found.add_argument("services", nargs="*", metavar="SERVICE")
        return found

    config = verb("config", "the normalised project (docker compose config)", services=False)
    config.add_argument("--format", choices=["yaml", "json"], default="yaml")
    config.add_argument("--services", action="store_true", help="print the services' names")
    up = verb("up", "create and start the project's containers")
    up.add_argument("-d", "--detach", action="store_true")
    up.add_argument("--wait", action="store_true", help="until running and healthy")
    up.add_argument("--wait-timeout", type=float, default=300.0)
    up.add_argument("--build", action="store_true", help="build images before starting")
    up.add_argument("--no-build", action="store_true")
    up.add_argument("--pull", choices=["always", "missing", "never", "policy"], default="policy")
    up.add_argument("--force-recreate", action="store_true")
    up.add_argument("--no-recreate", action="store_true")
    up.add_argument("--remove-orphans", action="store_true")
    up.add_argument("--scale", action="append", default=[], metavar="SERVICE=NUM")
    up.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    down = verb("down", "remove the project's containers and networks", services=False)
    down.add_argument("-v", "--volumes", action="store_true", help="and its volumes")
    down.add_argument("--rmi", choices=["local", "all"])
    down.add_argument("--remove-orphans", action="store_true")
    down.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    ps = verb("ps", "the project's containers")
    ps.add_argument("-a", "--all", action="store_true", help="stopped ones too")
    ps.add_argument("--format", choices=["table", "json"], default="table")
    logs = verb("logs", "the output of the project's containers")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--tail", type=int)
    logs.add_argument("-t", "--timestamps", action="store_true")
    verb("pull", "pull the services' images")
    verb("build", "build the services that have a build section")
    verb("start", "start the project's containers")
    for name in ("stop", "restart"):
        verb(name, f"{name} the project's containers").add_argument("-t", "--timeout", type=float)
    execute = verb("exec", "run a command in a service's container", services=False)
    run = verb("run", "run a one-off container of a service", services=False)
    for found in (execute, run):
        found.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE")
        found.add_argument("-u", "--user")
        found.add_argument("-w", "--workdir")
        found.add_argument("service", metavar="SERVICE")
        found.add_argument("cmd", nargs=argparse.REMAINDER, metavar="COMMAND")
    execute.add_argument("--index", type=int, default=1, help="which replica")
    execute.add_argument("-i", "--interactive", action="store_true", help="pass stdin to the command")
    execute.add_argument("-t", "--tty", action="store_true", help="on a terminal")
    run.add_argument("--rm", action="store_true", help="remove the container when it exits")
    run.add_argument("--no-deps", action="store_true", help="do not start the services it depends on")


# -- the project ------------------------------------------------------------------------------------------------
def load(args: argparse.Namespace) -> Project:
    task = _task()
    given = list(args.compose_files) or [f for f in os.environ.get("COMPOSE_FILE", "").split(os.pathsep) if f]
    files = [Path(f).absolute() for f in given]
    for index, path in enumerate(files):
        if not path.is_file():
            raise InvalidInput(f"{path} is not a file", field=f"-f[{index}]")
    if args.project_directory:
        project_dir = Path(args.project_directory).absolute()
    else:
        project_dir = files[0].parent if files else task.find_project_dir(Path.cwd())
    return task.load(project_dir=project_dir, files=files, project_name=args.project_name,
                     env_files=[Path(f).absolute() for f in args.env_files], profiles=list(args.profiles))


def load_or_labels(engine: Engine, args: argparse.Namespace) -> Any:
    """ps, logs, start, stop, restart and down: with no compose file to find and ``-p`` given, the project
    its objects' labels make (compose/state.project_from_labels), as Docker Compose finds it."""
    task = _task()
    if args.project_name and not args.compose_files and not os.environ.get("COMPOSE_FILE") \
            and not args.project_directory:
        try:
            task.find_project_dir(Path.cwd())
        except InvalidInput:
            from ..compose.state import project_from_labels

            return project_from_labels(engine, args.project_name)
    return load(args)


def _selected(project: Project, args: argparse.Namespace) -> list[str]:
    services = list(getattr(args, "services", []) or [])
    for name in services:
        if name not in project.services and name not in (getattr(project, "disabled", None) or {}):
            raise InvalidInput(f"no service {name!r} in project {project.name}", field="SERVICE",
                               hint=f"the services are {', '.join(sorted(project.services))}")
    return services or list(project.service_order())


def _scale(items: list[str]) -> dict[str, int]:
    found = {}
    for item in items:
        service, sep, count = item.partition("=")
        if not sep or not service or not count.isdigit():
            raise InvalidInput(f"{item!r} is not SERVICE=NUM", field="--scale", hint="e.g. --scale web=3")
        found[service] = int(count)
    return found


def _records(engine: Engine, project: Project, services: list[str] | None = None) -> list[ContainerRecord]:
    from ..compose import names
    from ..compose.state import project_records

    return [r for r in project_records(engine, project.name, in_flight="skip")
            if not services or r.spec.labels.get(names.SERVICE) in services]


# -- up and down: the module's plan ------------------------------------------------------------------------------
def _converge(engine: Engine, args: argparse.Namespace, project: Project, options: Any) -> dict[str, Any]:
    from ..compose.plan import plan_project, project_facts

    dry = bool(getattr(args, "dry_run", False))
    planned = plan_project(Engine.view(engine.layout.state_root, engine.layout.run_root) if dry else engine,
                           project, options)
    if not dry:
        planned.execute(engine)
    facts = {} if dry else {k: v for k, v in project_facts(engine, project.name).items() if k == "containers"}
    result = planned.result(**facts)
    for warning in [*project.warnings, *result.pop("warnings", [])]:
        sys.stderr.write(f"berth: warning: {warning}\n")
    if args.json:
        return {key: result[key] for key in ("changed", "actions", "containers", "orphans") if key in result}
    for action in result["actions"]:
        sys.stdout.write(("(dry run) " if dry else "") + action + "\n")
    return {"_rc": 0}


def _up(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..compose.plan import UpOptions

    for first, second in (("force_recreate", "no_recreate"), ("build", "no_build")):
        if getattr(args, first) and getattr(args, second):
            raise InvalidInput(f"--{first.replace('_', '-')} and --{second.replace('_', '-')} are exclusive",
                               field=f"--{second.replace('_', '-')}")
    project = load(args)
    _selected(project, args)
    options = UpOptions(services=tuple(args.services), scale=_scale(args.scale), state="present",
                        recreate="always" if args.force_recreate else "never" if args.no_recreate else "auto",
                        pull=args.pull, build="always" if args.build else "never" if args.no_build else "policy",
                        remove_orphans=args.remove_orphans, wait=args.wait, wait_timeout=args.wait_timeout)
    if not args.detach and not args.dry_run:
        sys.stderr.write(ATTACHED_NOTE)
    return _converge(engine, args, project, options)


def _down(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..compose.plan import UpOptions

    options = UpOptions(state="absent", remove_volumes=args.volumes, remove_images=args.rmi,
                        remove_orphans=args.remove_orphans)
    return _converge(engine, args, load_or_labels(engine, args), options)


# -- reading ------------------------------------------------------------------------------------------------------
def _config(_engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    project = load(args)
    for warning in project.warnings:
        sys.stderr.write(f"berth: warning: {warning}\n")
    if args.services:
        sys.stdout.write("".join(f"{name}\n" for name in project.service_order()))
    elif args.format == "json":
        sys.stdout.write(json.dumps(project.to_config(), indent=2) + "\n")
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(project.to_config(), sort_keys=False, default_flow_style=False))
    return {"_rc": 0}


def _ps(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..compose.state import container_facts

    project = load_or_labels(engine, args)
    rows = [container_facts(r) for r in _records(engine, project, _selected(project, args) if args.services else None)]
    rows = [row for row in rows if args.all or row["State"] in ("running", "paused", "restarting")]
    if args.format == "json" or args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return {"_rc": 0}
    table = [("NAME", "IMAGE", "SERVICE", "STATUS", "PORTS")] + [
        (row["Name"], row["Image"] or "", row["Service"] or "", row["Status"], _ports(row["Publishers"]))
        for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line[:4], widths, strict=True)]
        sys.stdout.write("   ".join([*cells, line[4]]).rstrip() + "\n")
    return {"_rc": 0}


def _ports(publishers: list[dict[str, Any]]) -> str:
    return ", ".join(f"{p['URL']}:{p['PublishedPort']}->{p['TargetPort']}/{p['Protocol']}" if p["PublishedPort"]
                     else f"{p['TargetPort']}/{p['Protocol']}" for p in publishers)


def _logs(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..containers.service import ContainerService

    project = load_or_labels(engine, args)
    records = _readable(_records(engine, project, _selected(project, args) if args.services else None))
    service = ContainerService(engine)
    width = max((len(r.name) for r in records), default=0)
    lock = threading.Lock()

    def writer(name: str) -> Any:
        def write(entry: dict[str, Any]) -> None:
            stream = sys.stdout if entry["stream"] == "stdout" else sys.stderr
            with lock:
                stream.write(f"{name.ljust(width)}  | " + (entry["time"] + " " if args.timestamps else "")
                             + entry["log"])
                stream.flush()
        return write

    if not args.follow:
        for record in records:
            for entry in service.logs(record.id, tail=args.tail):
                writer(record.name)(entry)
        return {"_rc": 0}
    threads = [threading.Thread(target=service.follow, args=(r.id, writer(r.name)), daemon=True) for r in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"_rc": 0}


def _readable(records: list[Any]) -> list[Any]:
    """The containers whose output is kept: one with log_driver none is named on stderr and skipped, as
    Docker Compose reports it and goes on with the others."""
    kept = []
    for record in records:
        if (record.config or {}).get("log_driver") == "none":
            sys.stderr.write(f"{record.name}: configured logging driver does not support reading\n")
        else:
            kept.append(record)
    return kept


# -- images ---------------------------------------------------------------------------------------------------------
def _image_steps(engine: Engine, project: Project, services: list[str], kind: str) -> list[Any]:
    """The plan's pull or build steps for ``services`` (the planner decides what is needed, as for ``up``):
    ``pull`` and ``build`` do them all again, ``missing`` only those an ``up`` would do."""
    from ..compose import steps
    from ..compose.plan import UpOptions, plan_project

    options = UpOptions(services=tuple(services), pull="always" if kind == "pull" else "missing",
                        build="always" if kind == "build" else "policy" if kind == "missing" else "never")
    planned = plan_project(Engine.view(engine.layout.state_root, engine.layout.run_root), project, options)
    wanted = {"pull": (steps.PullImage,), "build": (steps.BuildImage,)}.get(kind, (steps.PullImage, steps.BuildImage))
    return [s for s in planned.steps if isinstance(s, wanted) and s.for_service in services]


def _images(kind: str) -> Any:
    def handler(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
        from ..compose import steps

        project = load(args)
        services = _selected(project, args)
        # pull: the services without a build section (Compose builds those); build: only those with one
        services = [s for s in services if bool(project.services[s].get("build")) == (kind == "build")]
        done = {}
        for step in _image_steps(engine, project, services, kind):
            if not args.json:
                sys.stdout.write(step.describe() + "\n")
            done[step.for_service] = step.execute(steps.Runner(engine))
        return {"_rc": 0} if not args.json else done
    return handler


# -- start, stop, restart ---------------------------------------------------------------------------------------------
def _lifecycle(verb: str) -> Any:
    def handler(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
        from ..compose import names
        from ..containers.service import ContainerService

        project = load_or_labels(engine, args)
        order = _selected(project, args)   # dependencies first; stop goes the other way
        records = sorted(_records(engine, project, order),
                         key=lambda r: (order.index(r.spec.labels.get(names.SERVICE)), r.name))
        if verb == "stop":
            records.reverse()
        service = ContainerService(engine)
        done = {}
        for record in records:
            if verb in ("stop", "restart"):
                service.stop(record.id, timeout=args.timeout)
            if verb in ("start", "restart"):
                service.start(record.id)
            done[record.name] = service.current(record.id).state.status
        if not records:
            raise NotFound(f"project {project.name} has no containers", field="SERVICE",
                           hint="create them with berth compose up -d")
        return done
    return handler


# -- exec and run -------------------------------------------------------------------------------------------------
def _env(items: list[str]) -> dict[str, str]:
    return {key: value if sep else os.environ.get(key, "")
            for key, sep, value in (item.partition("=") for item in items)}


def _exec(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..compose import names
    from ..containers.service import ContainerService

    project = load(args)
    _selected(project, argparse.Namespace(services=[args.service]))
    found = [r for r in _records(engine, project, [args.service]) if names.number_of(r.spec.labels) == args.index]
    if not found or found[0].state.status != "running":
        raise NotFound(f"service {args.service} has no running container number {args.index}", field="SERVICE",
                       hint="berth compose up -d first")
    if not args.cmd:
        raise InvalidInput("exec needs a command", field="COMMAND", hint=f"berth compose exec {args.service} sh")
    service = ContainerService(engine)
    if args.tty:
        return {"_rc": service.execute_tty(found[0].id, args.cmd, env=_env(args.env), user=args.user,
                                           workdir=args.workdir)}
    stdin = sys.stdin.buffer.read() if args.interactive else None
    done = service.execute(found[0].id, args.cmd, env=_env(args.env), user=args.user, workdir=args.workdir,
                           stdin=stdin)
    sys.stdout.buffer.write(done.stdout)
    sys.stderr.buffer.write(done.stderr)
    return {"_rc": done.returncode}


def _run(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    """A one-off container of the service (Compose's name ``<project>-<service>-run-<id>``, label
    ``oneoff=True``, so ``ps`` and a converge leave it out), after its dependencies are up and its image is
    there; the output followed here, its exit code the command's."""
    import secrets

    from ..compose import names, project_files, specs, steps
    from ..compose.plan import UpOptions, plan_project
    from ..containers.service import ContainerService

    project = load(args)
    _selected(project, argparse.Namespace(services=[args.service]))
    config = dict(project.services.get(args.service) or project.disabled[args.service])
    dependencies = [] if args.no_deps else list(project.dependencies(args.service))
    if dependencies:
        plan_project(engine, project, UpOptions(services=tuple(dependencies))).execute(engine)
    for step in _image_steps(engine, project, [args.service], "missing"):
        step.execute(steps.Runner(engine))
    if args.cmd:
        config["command"] = list(args.cmd)
    for key, value in (("user", args.user), ("working_dir", args.workdir)):
        if value:
            config[key] = value
    config["environment"] = {**(config.get("environment") or {}), **_env(args.env)}
    config.pop("ports", None)   # as Compose: a one-off publishes nothing unless asked (--service-ports)
    context = specs.Context(project, networks={k: names.network_name(project.name, k, v) for k, v in
                                               {**project.networks, names.DEFAULT_NETWORK: None}.items()},
                            volumes={k: names.volume_name(project.name, k, v) for k, v in project.volumes.items()},
                            container_of=lambda other: names.container_name(project.name, other, 1,
                                                                            project.services.get(other)),
                            files_root=project_files.files_root(engine.layout.state_root, project.name))
    for written in project_files.wanted_files(project, {args.service: config}, context.files_root).values():
        if not project_files.up_to_date(written):
            project_files.write(written)
    labels = {**names.container_labels(project, args.service, 1, "", None, config.get("depends_on") or {}),
              names.ONEOFF: "True"}
    spec, stated = specs.service_spec(context, args.service, config, labels)
    name = f"{project.name}-{args.service}-run-{secrets.token_hex(6)}"
    return _attached(ContainerService(engine), name, spec, stated, remove=args.rm)


def _attached(service: Any, name: str, spec: Any, stated: tuple[str, ...], *, remove: bool) -> dict[str, Any]:
    record = service.create(name, spec, stated=stated)
    outcome: dict[str, Any] = {}
    try:
        service.start(record["id"])
        waiter = threading.Thread(target=lambda: outcome.update(service.wait(record["id"], timeout=10**7)),
                                  daemon=True)
        waiter.start()

        def finished(seconds: float) -> bool:
            waiter.join(seconds)
            return not waiter.is_alive()

        def write(entry: dict[str, Any]) -> None:
            stream = sys.stdout if entry["stream"] == "stdout" else sys.stderr
            stream.write(entry["log"])
            stream.flush()

        service.follow(record["id"], write, finished)
    finally:
        if remove:
            service.remove(record["id"], force=True, volumes=True)
    code = outcome.get("state", {}).get("exit_code")
    return {"_rc": code if code is not None else 0}


COMMAND_HANDLERS = {
    "config": _config, "up": _up, "down": _down, "ps": _ps, "logs": _logs,
    "pull": _images("pull"), "build": _images("build"),
    "start": _lifecycle("start"), "stop": _lifecycle("stop"), "restart": _lifecycle("restart"),
    "exec": _exec, "run": _run,
}


def compose(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    return COMMAND_HANDLERS[args.compose_command](engine, args)


COMMANDS = {"compose": (compose, True)}
