"""The steps a container plan is made of (plan.py): data only — names and
specs, never live handles — each executed against a ``ContainerService``
on a writable engine. ``describe()`` is the line shown in ``actions``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..containers.spec import ContainerSpec
from ..plan import Step


@dataclass(frozen=True)
class Pull(Step):
    image: str

    def describe(self) -> str:
        return f"pull {self.image}"

    def execute(self, context: Any) -> Any:
        from ..image.pull import Puller
        from ..image.reference import parse_reference
        from ..image.service import make_client
        from ..image.store import ImageStore
        from .image_models import RegistryOptions

        ref = parse_reference(self.image)
        pulled, _changed = Puller(ImageStore(context.engine), make_client(ref.registry, RegistryOptions())).pull(ref)
        return pulled.id


@dataclass(frozen=True)
class CreateVolume(Step):
    """A named volume the container's create makes (and drops again if the
    create fails), listed so the plan shows it."""

    name: str

    def describe(self) -> str:
        return f"create volume {self.name}"

    def execute(self, context: Any) -> Any:
        return None   # made inside Create, under the same transaction as the record


@dataclass(frozen=True)
class Create(Step):
    name: str
    spec: ContainerSpec
    stated: tuple[str, ...]

    def describe(self) -> str:
        return "create"

    def execute(self, context: Any) -> Any:
        return context.create(self.name, self.spec, stated=self.stated)


@dataclass(frozen=True)
class Recreate(Step):
    name: str
    spec: ContainerSpec
    stated: tuple[str, ...]
    remove_volumes: bool

    def describe(self) -> str:
        return "recreate"

    def execute(self, context: Any) -> Any:
        context.remove(self.name, force=True, volumes=self.remove_volumes)
        return context.create(self.name, self.spec, stated=self.stated)


@dataclass(frozen=True)
class Remove(Step):
    name: str
    remove_volumes: bool

    def describe(self) -> str:
        return "remove"

    def execute(self, context: Any) -> Any:
        return context.remove(self.name, force=True, volumes=self.remove_volumes)


@dataclass(frozen=True)
class Update(Step):
    """Options changed in place: the record's spec, then what each needs now
    (restart policy and stop settings: the record; networks: connect and
    disconnect; resources: the cgroup)."""

    name: str
    fields: tuple[str, ...]
    spec: ContainerSpec
    stated: tuple[str, ...]

    def describe(self) -> str:
        return "update " + ", ".join(self.fields)

    def execute(self, context: Any) -> Any:
        return context.update(self.name, self.spec, self.fields, stated=self.stated)


@dataclass(frozen=True)
class Start(Step):
    name: str

    def describe(self) -> str:
        return "start"

    def execute(self, context: Any) -> Any:
        return context.start(self.name)


@dataclass(frozen=True)
class Restart(Step):
    name: str

    def describe(self) -> str:
        return "restart"

    def execute(self, context: Any) -> Any:
        context.stop(self.name)
        return context.start(self.name)


@dataclass(frozen=True)
class Stop(Step):
    name: str

    def describe(self) -> str:
        return "stop"

    def execute(self, context: Any) -> Any:
        return context.stop(self.name)


@dataclass(frozen=True)
class Pause(Step):
    name: str
    paused: bool

    def describe(self) -> str:
        return "pause" if self.paused else "unpause"

    def execute(self, context: Any) -> Any:
        return context.pause(self.name, self.paused)
