"""Plan converging a Compose project (plans as data: ``..plan``):
``plan_project(engine, project, options)`` only reads — container records by
label, networks, volumes, images, a build's cache prediction — so it works
on ``engine.view()`` (check mode) and writes nothing; ``plan.execute(engine)``
does the writing (``converge.ComposePlan``: services in parallel, gated on
their dependencies).

The plan is the union of the services' container plans plus the project's
networks and volumes, in dependency order (depends_on, ``network_mode:
service:x``; a cycle is an error naming it). Per service:

* its replicas are numbered 1..N (``scale`` > deploy.replicas > scale > 1);
  scaling down removes changed replicas first, then the highest numbers;
* a replica is recreated when its config hash label (``specs.config_hash``:
  the normalised config plus the content of the files it binds from the
  project and of its configs and secrets) or its image ID differs from the
  desired one (``recreate: auto``), always (``always``), or never (``never``);
* a replica whose config is unchanged is started when it is not running —
  except a one-shot that completed (exited 0, not stopped by anyone): a
  no-op converge does not re-run it and reports no change (Docker Compose
  re-runs it, compose#11590, closed "not planned").

Containers of the project whose service is gone are orphans: reported in
``facts["orphans"]`` with a warning, removed with ``remove_orphans``.
``state: absent`` (down) removes only what carries the project's labels:
its containers, its non-external networks, its volumes with
``remove_volumes``, its images with ``remove_images`` (local: those built
under Compose's default name; all: every service's image). ``wait`` does not
fail on a one-shot service that exited 0 (compose#10596; ``gating.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..containers.record import ContainerRecord
from ..engine import Engine
from ..errors import InvalidInput, NotFound
from ..image.store import ImageStore
from . import names, network_drivers, project_files, specs
from . import steps as st
from .converge import ComposePlan, Dependency
from .state import Actual, completed, project_facts, read_actual, status

__all__ = ["UpOptions", "plan_project", "project_facts"]
STATES = ("present", "absent", "stopped", "restarted")


@dataclass(frozen=True)
class UpOptions:
    services: tuple[str, ...] = ()          # a subset (plus what they depend on); () = all
    scale: dict[str, int] = field(default_factory=dict)
    state: str = "present"                  # present | absent | stopped | restarted
    recreate: str = "auto"                  # auto | always | never
    pull: str = "policy"                    # always | missing | never | policy
    build: str = "policy"                   # always | never | policy
    remove_orphans: bool = False
    remove_volumes: bool = False
    remove_images: str | None = None        # local | all
    wait: bool = False
    wait_timeout: float = 300.0
    registry: Any = None                    # image.service.RegistryAccess (None: defaults)


def plan_project(engine: Engine, project: Any, options: UpOptions) -> ComposePlan:
    _check_options(options)
    actual = read_actual(engine, project.name)
    plan = ComposePlan(project=project.name, wait=options.wait, wait_timeout=options.wait_timeout,
                       registry=options.registry)
    plan.before = {r.name: _view(r) for r in actual.all}
    if getattr(project, "from_labels", False) and options.state in ("present", "restarted"):
        _plan_labelled(project, options, actual, plan)
    elif options.state == "absent":
        _plan_down(engine, project, options, actual, plan)
    else:
        _Planner(engine, project, options, actual, plan).run()
    _facts(engine, project, plan)
    return plan


def _check_options(options: UpOptions) -> None:
    for name, value, choices in (("state", options.state, STATES),
                                 ("recreate", options.recreate, ("auto", "always", "never")),
                                 ("pull", options.pull, ("always", "missing", "never", "policy")),
                                 ("build", options.build, ("always", "never", "policy")),
                                 ("remove_images", options.remove_images, (None, "local", "all"))):
        if value not in choices:
            raise InvalidInput(f"{value!r} is not a {name}", field=name,
                               hint=f"use one of {', '.join(str(c) for c in choices if c)}")
    for service, count in options.scale.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidInput(f"scale {service}={count!r} is not a count", field="scale",
                               hint="give a whole number of replicas, 0 or more")


# -- dependency order -------------------------------------------------------------------------------
def dependencies(config: dict[str, Any]) -> list[Dependency]:
    found = [Dependency(str(name), (dep or {}).get("condition") or "service_started",
                        (dep or {}).get("required", True) is not False)
             for name, dep in sorted((config.get("depends_on") or {}).items())]
    mode = str(config.get("network_mode") or "")
    if mode.startswith("service:") and mode[8:] not in {d.service for d in found}:
        found.append(Dependency(mode[8:]))
    return found


def service_order(services: dict[str, dict[str, Any]], selected: list[str] | None = None) -> list[str]:
    """The services (the selected ones and what they need), dependencies
    first, ties by name; a cycle is an InvalidInput naming it."""
    wanted: list[str] = []
    for name in sorted(selected if selected else services):
        _visit(services, name, wanted, [])
    return wanted


def _visit(services: dict[str, dict[str, Any]], name: str, done: list[str], path: list[str]) -> None:
    if name in done:
        return
    if name in path:
        cycle = " -> ".join([*path[path.index(name):], name])
        raise InvalidInput(f"dependency cycle: {cycle}", field=f"services.{name}.depends_on",
                           hint="remove one of the depends_on (or network_mode: service:) links")
    if name not in services:
        raise NotFound(f"service {name} is not defined", field="services", hint="name a service of the project")
    for dep in dependencies(services[name]):
        if dep.service in services:
            _visit(services, dep.service, done, [*path, name])
        elif dep.required:
            raise InvalidInput(f"services.{name} depends on {dep.service}, which is not defined",
                               field=f"services.{name}.depends_on.{dep.service}",
                               hint="define it, or mark the dependency required: false")
    done.append(name)


def enabled_services(project: Any, named: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The project's services, plus those a profile disabled that the caller
    names (and what they depend on): Compose runs a named service whatever its profiles."""
    services = dict(project.services)
    disabled = dict(getattr(project, "disabled", None) or {})
    wanted = [n for n in named if n not in services and n in disabled]
    while wanted:
        name = wanted.pop()
        if name in services:
            continue
        services[name] = disabled[name]
        wanted += [d.service for d in dependencies(disabled[name]) if d.service in disabled]
    return services


def replica_count(options: UpOptions, service: str, config: dict[str, Any]) -> int:
    if service in options.scale:
        return options.scale[service]
    replicas = (config.get("deploy") or {}).get("replicas")
    if replicas is None:
        replicas = config.get("scale")
    return 1 if replicas is None else int(replicas)


def scale_down_choice(records: list[tuple[ContainerRecord, bool]], keep: int) -> list[ContainerRecord]:
    """Which replicas a scale down removes: changed ones first, then the highest numbers."""
    ranked = sorted(records, key=lambda item: (not item[1], -names.number_of(item[0].spec.labels)))
    return [record for record, _changed in ranked[:max(0, len(records) - keep)]]


# -- up ---------------------------------------------------------------------------------------------------
class _Planner:
    def __init__(self, engine: Engine, project: Any, options: UpOptions, actual: Actual, plan: ComposePlan) -> None:
        self.engine, self.project, self.options, self.actual, self.plan = engine, project, options, actual, plan
        self.services = enabled_services(project, options.services)
        self.images = ImageStore(engine)
        self.network_names = _network_names(project)
        self.volume_names = {k: names.volume_name(project.name, k, v) for k, v in (project.volumes or {}).items()}
        self.files_root = project_files.files_root(engine.layout.state_root, project.name)
        self.ctx = specs.Context(project, self.network_names, self.volume_names, self._first_container,
                                 plan.warnings, self.files_root)
        self.after: dict[str, dict[str, Any]] = {}
        self.image_ids: dict[str, str | None] = {}
        self.recreated: set[str] = set()

    def run(self) -> None:
        order = service_order(self.services, list(self.options.services) or None)
        self.plan.order = order
        for service in order:
            self.plan.depends[service] = [d for d in dependencies(self.services[service]) if d.service in order]
            self.plan.healthchecked[service] = bool((self.services[service].get("healthcheck") or {}).get("test")) \
                and not (self.services[service].get("healthcheck") or {}).get("disable")
        if self.options.state != "stopped":
            self._networks(order)
            self._volumes(order)
            self._files(order)
        if self.options.state == "stopped":
            for service in reversed(order):   # dependents first, as Compose stops them
                self._stop(service)
        else:
            image_ids = {s: self._image(s) for s in order}
            for service in order:
                self._service(service, image_ids[service])
        self._orphans()
        self.plan.after = {**{n: v for n, v in self.plan.before.items() if n not in self._touched()}, **self.after}

    def _touched(self) -> set[str]:
        return {getattr(s, "name", "") for s in self.plan.steps} | set(self.after)

    def _first_container(self, service: str) -> str:
        if service not in self.services:
            raise InvalidInput(f"network_mode service:{service} names no service", field="network_mode",
                               hint="name a service of the project")
        return names.container_name(self.project.name, service, 1, self.services[service])

    # networks and volumes -----------------------------------------------------------------------------
    def _networks(self, order: list[str]) -> None:
        from ..network.store import NetworkStore

        store = NetworkStore(self.engine)
        used = sorted({key for s in order for key, _v in specs.service_networks(self.services[s])})
        for key in used:
            config = (self.project.networks or {}).get(key) or {}
            name = self.network_names.get(key) or names.network_name(self.project.name, key, config)
            if store.by_name(name) is not None:
                continue
            if names.is_external(config):
                raise NotFound(f"external network {name} does not exist", field=f"networks.{key}",
                               hint=f"create it first (berth network create {name}), or drop external: true")
            driver = network_drivers.driver_of(key, config)
            ipam = [{k: v for k, v in entry.items() if v is not None}
                    for entry in ((config.get("ipam") or {}).get("config") or [])]
            overlay = network_drivers.overlay_options(key, config, ipam) if driver == "overlay" else None
            self.plan.add(st.CreateNetwork(name, names.network_labels(self.project.name, key, config),
                                           internal=bool(config.get("internal")), ipam_config=tuple(ipam),
                                           driver_options=dict(config.get("driver_opts") or {}), driver=driver,
                                           overlay=overlay))

    def _volumes(self, order: list[str]) -> None:
        from ..volumes.service import VolumeService

        volumes = VolumeService(self.engine)
        used = sorted({v["source"] for s in order for v in self.services[s].get("volumes") or []
                       if v.get("type") == "volume" and v.get("source")})
        for key in used:
            config = (self.project.volumes or {}).get(key) or {}
            name = self.volume_names.get(key) or names.volume_name(self.project.name, key, config)
            if volumes.find(name) is not None:
                continue
            if names.is_external(config):
                raise NotFound(f"external volume {name} does not exist", field=f"volumes.{key}",
                               hint=f"create it first (berth volume create {name}), or drop external: true")
            self.plan.add(st.CreateVolume(name, names.volume_labels(self.project.name, key, config),
                                          config.get("driver") or "local", dict(config.get("driver_opts") or {})))

    def _files(self, order: list[str]) -> None:
        """The configs and secrets berth writes (environment, content): written where they differ; with
        the whole project converged, those no service uses any more go (after the containers)."""
        wanted = project_files.wanted_files(self.project, {s: self.services[s] for s in order}, self.files_root)
        for path, written in sorted(wanted.items()):
            if not project_files.up_to_date(written):
                self.plan.add(st.WriteProjectFile(path.parent.name, path.name.partition("@")[0], written))
        if not self.options.services:
            for path in project_files.stale_files(self.files_root, wanted):
                self.plan.add(st.RemoveProjectFile(str(path)))

    # images ---------------------------------------------------------------------------------------------------
    def _image(self, service: str) -> str | None:
        """The image ID the service's containers should run; None when a
        pull or build still decides it (they are then made anew). Services
        sharing an image share its pull or build."""
        config = self.services[service]
        image = names.image_name(self.project.name, service, config)
        if image not in self.image_ids:
            self.image_ids[image] = self._resolve_image(service, config, image)
        return self.image_ids[image]

    def _resolve_image(self, service: str, config: dict[str, Any], image: str) -> str | None:
        record = self.images.find(image)
        policy = str(config.get("pull_policy") or "missing") if self.options.pull == "policy" else self.options.pull
        if config.get("build") and self.options.build != "never" and (
                self.options.build == "always" or record is None or policy == "build"):
            return self._build(service, config, image, record)
        if record is not None and policy not in ("always",):
            return record.id
        if policy == "never" or (record is None and config.get("build")):
            raise NotFound(f"image {image} of service {service} is not present and pull is never",
                           field=f"services.{service}.image", hint="pull or build it first, or allow pulling")
        self.plan.add(st.PullImage(image, service))
        return record.id if record is not None else None

    def _build(self, service: str, config: dict[str, Any], image: str, current: Any) -> str | None:
        from ..build.executor import build
        from ..build.model import BuildOptions

        given = config["build"]
        given = {"context": given} if isinstance(given, str) else dict(given)
        context = Path(given.get("context") or ".")
        context = context if context.is_absolute() else Path(self.project.working_dir) / context
        options = BuildOptions(context=context, dockerfile=given.get("dockerfile") or "Dockerfile",
                               args={str(k): str(v) for k, v in (given.get("args") or {}).items() if v is not None},
                               target=given.get("target"), labels=dict(given.get("labels") or {}),
                               network=given.get("network") or "none", registry=self.options.registry)
        predicted = build(self.engine if self.engine.read_only else self.engine.view(), options)
        self.plan.warnings.extend(predicted.warnings)
        if predicted.image is not None and current is not None and predicted.image.id == current.id:
            return current.id
        miss = predicted.first_miss
        self.plan.add(st.BuildImage(image, service, options,
                                    f"{options.dockerfile}:{miss.line}" if miss is not None else None))
        return predicted.image.id if predicted.image is not None else None

    # containers ----------------------------------------------------------------------------------------------
    def _service(self, service: str, image_id: str | None) -> None:
        config = self.services[service]
        count = replica_count(self.options, service, config)
        if config.get("container_name") and count > 1:
            raise InvalidInput(f"services.{service} sets container_name and {count} replicas",
                               field=f"services.{service}.container_name",
                               hint="a container name is unique: drop container_name to scale")
        digest = specs.config_hash(self.project, service, config)
        current = [(r, self._changed(r, digest, image_id)) for r in self.actual.of(service)]
        doomed = scale_down_choice(current, count)
        for record in doomed:
            self.plan.add(st.RemoveContainer(service, record.name, why="scaled down"))
        kept = [(r, why) for r, why in current if r not in doomed]
        taken = {names.number_of(r.spec.labels) for r, _why in kept}
        numbers = sorted(taken)
        free = (n for n in range(1, count + len(kept) + 2) if n not in taken)
        numbers += [next(free) for _more in range(count - len(kept))]
        by_number = {names.number_of(r.spec.labels): (r, why) for r, why in kept}
        for number in numbers:
            name = names.container_name(self.project.name, service, number, config)
            labels = names.container_labels(self.project, service, number, digest, None,
                                            config.get("depends_on") or {})
            spec, stated = specs.service_spec(self.ctx if number == numbers[0] else self._quiet(), service, config,
                                              labels)
            record, why = by_number.get(number, (None, ""))
            self._replica(service, name, spec, stated, record, why)
            self.after[name] = {"name": name, "service": service, "number": number, "config_hash": digest,
                                "image_id": image_id, "state": "running"}

    def _quiet(self) -> specs.Context:
        """A context whose warnings are dropped: each service warns once, not once per replica."""
        return specs.Context(self.project, self.network_names, self.volume_names, self._first_container,
                             files_root=self.files_root)

    def _changed(self, record: ContainerRecord, digest: str, image_id: str | None) -> str:
        """Why the replica must be recreated ("" when it need not)."""
        if self.options.recreate == "never":
            return ""
        if self.options.recreate == "always":
            return "forced"
        if record.spec.labels.get(names.CONFIG_HASH) != digest:
            return "config changed"
        if image_id is None or record.image_id != image_id:
            return "image changed"
        return ""

    def _replica(self, service: str, name: str, spec: Any, stated: tuple[str, ...], record: ContainerRecord | None,
                 why: str) -> None:
        if record is None:
            self.plan.add(st.CreateContainer(service, name, spec, stated))
            self.plan.add(st.StartContainer(service, name))
        elif why or record.name != name:
            self.plan.add(st.RecreateContainer(service, name, record.id, spec, stated, why or "renamed"))
            self.plan.add(st.StartContainer(service, name))
            self.recreated.add(service)
        elif (self.options.state == "restarted" or self._dependency_recreated(service)) and \
                status(record) in ("running", "paused", "restarting"):
            self.plan.add(st.RestartContainer(service, name))
        elif status(record) not in ("running", "paused", "restarting") and not completed(record):
            self.plan.add(st.StartContainer(service, name))

    def _dependency_recreated(self, service: str) -> bool:
        """depends_on ... restart: true: a recreated dependency restarts its running dependents (as Compose)."""
        return any((dep or {}).get("restart") and name in self.recreated
                   for name, dep in (self.services[service].get("depends_on") or {}).items())

    def _stop(self, service: str) -> None:
        for record in reversed(self.actual.of(service)):
            if status(record) in ("running", "paused", "restarting"):
                self.plan.add(st.StopDownContainer(record.name))

    def _orphans(self) -> None:
        known = set(self.services) | set(getattr(self.project, "disabled", None) or {})   # a profile's are no orphans
        orphans = [r for r in self.actual.all if r.spec.labels.get(names.SERVICE) not in known]
        self.plan.facts["orphans"] = [r.name for r in orphans]
        if not orphans:
            return
        if self.options.remove_orphans:
            for record in orphans:
                self.plan.add(st.RemoveOrphan(record.spec.labels.get(names.SERVICE, ""), record.name, why="orphan"))
        else:
            self.plan.warnings.append(f"found orphan containers ({', '.join(r.name for r in orphans)}) for this "
                                      "project; set remove_orphans (--remove-orphans) to remove them")


def _network_names(project: Any) -> dict[str, str]:
    found = {key: names.network_name(project.name, key, config) for key, config in (project.networks or {}).items()}
    found.setdefault(names.DEFAULT_NETWORK, names.network_name(project.name, names.DEFAULT_NETWORK, None))
    return found


# -- a project known by its labels only (state.project_from_labels) ---------------------------------------------
def _plan_labelled(project: Any, options: UpOptions, actual: Actual, plan: ComposePlan) -> None:
    """Without its files a project cannot be converged, only restarted: its running containers, dependencies
    first (as `docker compose -p NAME restart`)."""
    if options.state == "present":
        raise InvalidInput(f"project {project.name} has no compose file here: it cannot be converged",
                           field="project_src", hint="give project_src (-f) or definition; with only the name, "
                                                     "use state absent, stopped or restarted")
    order = service_order(project.services, [s for s in options.services if s in project.services] or None)
    plan.order = order
    for service in order:
        for record in actual.of(service):
            if status(record) in ("running", "paused", "restarting"):
                plan.add(st.RestartContainer(service, record.name))
    plan.after = dict(plan.before)


# -- down ------------------------------------------------------------------------------------------------------
def _plan_down(engine: Engine, project: Any, options: UpOptions, actual: Actual, plan: ComposePlan) -> None:
    from .state import network_facts, volume_facts

    services = {**(getattr(project, "disabled", None) or {}), **project.services}   # a profile's too
    try:
        order = service_order(services)
    except (InvalidInput, NotFound):
        order = sorted(services)
    rank = {s: i for i, s in enumerate(order)}
    doomed = [r for r in actual.all if r.spec.labels.get(names.SERVICE) in services or options.remove_orphans]
    doomed.sort(key=lambda r: (-rank.get(r.spec.labels.get(names.SERVICE, ""), len(rank)),
                               -names.number_of(r.spec.labels)))
    for record in doomed:
        plan.add(st.RemoveDownContainer(record.name))
    left = [r for r in actual.all if r not in doomed]
    if left:
        plan.warnings.append(f"found orphan containers ({', '.join(r.name for r in left)}) for this project; "
                             "set remove_orphans (--remove-orphans) to remove them")
    still_used = {n["name"] for r in left for n in r.spec.networks}
    declared = {names.network_name(project.name, k, v) for k, v in (project.networks or {}).items()
                if not names.is_external(v)} | {names.network_name(project.name, names.DEFAULT_NETWORK, None)}
    for network in network_facts(engine, project.name):
        if network["Name"] in declared and network["Name"] not in still_used:
            plan.add(st.RemoveNetwork(network["Name"]))
    if options.remove_volumes:
        kept = {m.get("source") for r in left for m in r.spec.mounts}
        for volume in volume_facts(engine, project.name):
            if volume["Name"] not in kept:
                plan.add(st.RemoveVolume(volume["Name"]))
    if options.remove_images:
        images = ImageStore(engine)
        seen: set[str] = set()
        for service, config in sorted(services.items()):
            image = names.image_name(project.name, service, config)
            local = not config.get("image")
            if (options.remove_images == "all" or local) and image not in seen and images.find(image) is not None:
                seen.add(image)
                plan.add(st.RemoveImage(image))
    files = project_files.files_root(engine.layout.state_root, project.name)
    if files.exists() and not left:   # a container left behind may still bind one of them
        plan.add(st.RemoveProjectFiles(str(files)))
    plan.after = {}


def _view(record: ContainerRecord) -> dict[str, Any]:
    labels = record.spec.labels
    return {"name": record.name, "service": labels.get(names.SERVICE), "number": names.number_of(labels),
            "config_hash": labels.get(names.CONFIG_HASH), "image_id": record.image_id, "state": status(record)}


def _facts(engine: Engine, project: Any, plan: ComposePlan) -> None:
    """What the task reports before it runs (check mode's result): today's
    project, with the planned containers' names listed."""
    current = project_facts(engine, project.name)
    plan.facts.update(current)
    plan.facts.setdefault("orphans", [])
    plan.replicas = {}
    for name, view in plan.after.items():
        plan.replicas.setdefault(view.get("service") or "", []).append(name)
    for service in plan.order:
        plan.replicas.setdefault(service, [])
    plan.facts["planned_containers"] = sorted(plan.after)
