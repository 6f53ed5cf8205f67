"""The steps a project's plan is made of (plan.py's ``Step``): data only —
names, specs, labels, never live handles — each executed against a
``Runner`` on a writable engine, each describing itself as Docker Compose
prints its progress ("created: shop-web-1", "recreated: shop-web-1 (config
changed)", "removed orphan: shop-old-1").

``phase`` places a step: ``before`` (networks, volumes, images, in order),
``service`` (a service's container steps, run in its own thread once its
dependencies' conditions hold) or ``after`` (orphans, a down's networks,
volumes and images).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..containers.service import ContainerService
from ..containers.spec import ContainerSpec
from ..engine import Engine
from ..plan import Step
from . import names


@dataclass
class Runner:
    """The context steps execute against."""

    engine: Engine
    registry: Any = None   # image.service.RegistryAccess for pulls and builds (None: defaults)

    @property
    def containers(self) -> ContainerService:
        return ContainerService(self.engine)


@dataclass(frozen=True)
class RegistryDefaults:
    """``image.service.RegistryAccess`` with the defaults (credentials from ~/.docker/config.json)."""

    validate_certs: bool = True
    ca_cert: Any = None
    username: str | None = None
    password: str | None = None
    config_path: Any = None
    insecure_registries: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.config_path is None:
            from ..registry.credentials import config_path

            object.__setattr__(self, "config_path", config_path(None))


@dataclass(frozen=True)
class ProjectStep(Step):
    phase: ClassVar[str] = "before"
    service: ClassVar[str | None] = None


@dataclass(frozen=True)
class CreateNetwork(ProjectStep):
    name: str
    labels: dict[str, str]
    internal: bool = False
    ipam_config: tuple[dict[str, Any], ...] = ()
    driver_options: dict[str, Any] = field(default_factory=dict)
    driver: str = "bridge"                  # or overlay (compose/network_drivers)
    overlay: dict[str, Any] | None = None   # the network module's overlay option

    def describe(self) -> str:
        return f"created network: {self.name}{' (overlay)' if self.driver == 'overlay' else ''}"

    def execute(self, context: Runner) -> Any:
        from ..network.service import Desired, NetworkService

        service = NetworkService(context.engine)
        with service.store.meta.transaction() as txn:
            current = service.store.by_name(self.name)
            if current is not None:
                return current["id"]
            record = service.planned_record(self.name, Desired.of(_Wishes(self)), None)
            service.create_in(txn, record)
            return record["id"]


@dataclass(frozen=True)
class _Wishes:
    """``network.service.NetworkWishes`` from a CreateNetwork step."""

    step: CreateNetwork

    @property
    def name(self) -> str:
        return self.step.name

    @property
    def ipam_config(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.step.ipam_config]

    @property
    def internal(self) -> bool:
        return self.step.internal

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.step.labels)

    @property
    def mtu(self) -> int | None:
        return None

    @property
    def driver_options(self) -> dict[str, Any]:
        return dict(self.step.driver_options)

    @property
    def driver(self) -> str:
        return self.step.driver

    @property
    def overlay(self) -> dict[str, Any] | None:
        return dict(self.step.overlay) if self.step.overlay is not None else None


@dataclass(frozen=True)
class CreateVolume(ProjectStep):
    name: str
    labels: dict[str, str]
    driver: str = "local"
    driver_options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"created volume: {self.name}"

    def execute(self, context: Runner) -> Any:
        from ..volumes.service import VolumeService

        return VolumeService(context.engine).create(self.name, self.driver, dict(self.driver_options),
                                                    dict(self.labels))


@dataclass(frozen=True)
class PullImage(ProjectStep):
    image: str
    for_service: str

    def describe(self) -> str:
        return f"pulled: {self.image} ({self.for_service})"

    def execute(self, context: Runner) -> Any:
        from ..image.pull import Puller
        from ..image.reference import parse_reference
        from ..image.service import make_client
        from ..image.store import ImageStore

        ref = parse_reference(self.image)
        client = make_client(ref.registry, context.registry or RegistryDefaults())
        return Puller(ImageStore(context.engine), client).pull(ref)[0].id


@dataclass(frozen=True)
class BuildImage(ProjectStep):
    image: str
    for_service: str
    options: Any            # build.model.BuildOptions
    from_step: str | None = None

    def describe(self) -> str:
        return f"built: {self.image} ({self.for_service}{', from ' + self.from_step if self.from_step else ''})"

    def execute(self, context: Runner) -> Any:
        from dataclasses import replace

        from ..build.executor import build
        from ..errors import InvalidState
        from ..image.reference import parse_reference
        from ..image.store import ImageStore

        options = replace(self.options, registry=self.options.registry or context.registry or RegistryDefaults())
        result = build(context.engine, options)
        if result.image is None:
            raise InvalidState(f"the build of {self.image} made no image", field=f"services.{self.for_service}.build")
        ImageStore(context.engine).save(result.image, parse_reference(self.image))
        return result.image.id


@dataclass(frozen=True)
class WriteProjectFile(ProjectStep):
    """A config or secret from environment or content, written before the containers that bind it."""

    kind: str
    key: str
    file: Any               # project_files.WrittenFile (its content never shown)

    def describe(self) -> str:
        return f"wrote {self.kind[:-1]}: {self.key}"

    def execute(self, context: Runner) -> Any:
        from .project_files import write

        write(self.file)
        return str(self.file.path)


@dataclass(frozen=True)
class RemoveProjectFile(Step):
    """A written config or secret no service uses any more (after the containers that bound it went)."""

    phase: ClassVar[str] = "after"
    service: ClassVar[str | None] = None
    path: str

    def describe(self) -> str:
        return f"removed {Path(self.path).parent.name[:-1]} file: {Path(self.path).name}"

    def execute(self, context: Runner) -> Any:
        Path(self.path).unlink(missing_ok=True)


# -- a service's containers --------------------------------------------------------------------------
@dataclass(frozen=True)
class ContainerStep(Step):
    phase: ClassVar[str] = "service"
    service: str
    name: str


def _with_image_label(engine: Engine, spec: ContainerSpec) -> ContainerSpec:
    """The image label names the image ID the container is made from, known only once a pull or build ran."""
    from ..image.store import ImageStore

    image_id = ImageStore(engine).resolve(spec.image).id
    return spec.with_changes(labels={**spec.labels, names.IMAGE: image_id})


@dataclass(frozen=True)
class CreateContainer(ContainerStep):
    spec: ContainerSpec
    stated: tuple[str, ...]

    def describe(self) -> str:
        return f"created: {self.name}"

    def execute(self, context: Runner) -> Any:
        return context.containers.create(self.name, _with_image_label(context.engine, self.spec), stated=self.stated)


@dataclass(frozen=True)
class RecreateContainer(ContainerStep):
    old: str                 # the current container's id (its name may differ: container_name changed)
    spec: ContainerSpec
    stated: tuple[str, ...]
    reason: str

    def describe(self) -> str:
        return f"recreated: {self.name} ({self.reason})"

    def execute(self, context: Runner) -> Any:
        containers = context.containers
        spec = _with_image_label(context.engine, self.spec)
        containers.remove(self.old, force=True, volumes=True)   # anonymous volumes go, as with --renew-anon-volumes
        return containers.create(self.name, spec, stated=self.stated)


@dataclass(frozen=True)
class StartContainer(ContainerStep):
    def describe(self) -> str:
        return f"started: {self.name}"

    def execute(self, context: Runner) -> Any:
        return context.containers.start(self.name)


@dataclass(frozen=True)
class RestartContainer(ContainerStep):
    def describe(self) -> str:
        return f"restarted: {self.name}"

    def execute(self, context: Runner) -> Any:
        context.containers.stop(self.name)
        return context.containers.start(self.name)


@dataclass(frozen=True)
class StopContainer(ContainerStep):
    def describe(self) -> str:
        return f"stopped: {self.name}"

    def execute(self, context: Runner) -> Any:
        return context.containers.stop(self.name)


@dataclass(frozen=True)
class RemoveContainer(ContainerStep):
    why: str = ""            # "" | "orphan" | "scaled down"
    anonymous_volumes: bool = True

    def describe(self) -> str:
        if self.why == "orphan":
            return f"removed orphan: {self.name}"
        return f"removed: {self.name}{' (' + self.why + ')' if self.why else ''}"

    def execute(self, context: Runner) -> Any:
        return context.containers.remove(self.name, force=True, volumes=self.anonymous_volumes)


@dataclass(frozen=True)
class RemoveOrphan(RemoveContainer):
    phase: ClassVar[str] = "after"


# -- down's project objects ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AfterStep(Step):
    phase: ClassVar[str] = "after"
    service: ClassVar[str | None] = None


@dataclass(frozen=True)
class RemoveDownContainer(AfterStep):
    """A down removes containers one by one, dependents first."""

    name: str

    def describe(self) -> str:
        return f"removed: {self.name}"

    def execute(self, context: Runner) -> Any:
        return context.containers.remove(self.name, force=True, volumes=True)


@dataclass(frozen=True)
class StopDownContainer(AfterStep):
    name: str

    def describe(self) -> str:
        return f"stopped: {self.name}"

    def execute(self, context: Runner) -> Any:
        return context.containers.stop(self.name)


@dataclass(frozen=True)
class RemoveNetwork(AfterStep):
    name: str

    def describe(self) -> str:
        return f"removed network: {self.name}"

    def execute(self, context: Runner) -> Any:
        from ..network.service import NetworkService

        service = NetworkService(context.engine)
        with service.store.meta.transaction() as txn:
            record = service.store.by_name(self.name)
            if record is not None:
                service.remove_in(txn, record)


@dataclass(frozen=True)
class RemoveVolume(AfterStep):
    name: str

    def describe(self) -> str:
        return f"removed volume: {self.name}"

    def execute(self, context: Runner) -> Any:
        from ..volumes.service import VolumeService

        return VolumeService(context.engine).remove(self.name)


@dataclass(frozen=True)
class RemoveImage(AfterStep):
    image: str

    def describe(self) -> str:
        return f"removed image: {self.image}"

    def execute(self, context: Runner) -> Any:
        from ..image.store import ImageStore

        store = ImageStore(context.engine)
        if store.find(self.image) is None:
            return []
        return store.remove(self.image)


@dataclass(frozen=True)
class RemoveProjectFiles(AfterStep):
    """A down removes the project's directory of written configs and secrets."""

    path: str

    def describe(self) -> str:
        return f"removed configs and secrets: {self.path}"

    def execute(self, context: Runner) -> Any:
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)
