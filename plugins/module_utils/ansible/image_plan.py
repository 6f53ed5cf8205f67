"""Plan one ``image`` task (plans as data: plan.py).

``plan_image`` only reads — the store's records, an archive's or a rootfs's
digests, a registry's ``HEAD`` for a push — and returns the steps: get the
image (pull, load or import), tag it as ``repository``, push it, save it to
an archive; or untag/delete it. Check mode plans over a read-only view and
never contacts a registry for a pull, so with ``pull: always`` and the image
present it cannot know whether the registry has a newer one: it says so in a
warning and plans the pull only when ``pull_check_mode_behavior: always``.
An apply plans over the writable engine and may ask the registry (a
``HEAD``: read-only) whether the tag still names the image it has, so a pull
is a step only when it changes something.

Steps execute against a writable ``Engine``. There is no task-wide lock: a
pull can take minutes and must not hold the ``images`` lock that every
other image and container task needs; each write takes it for itself
(``ImageStore.save/untag/remove``), and the steps re-check what they depend
on there (a tag that names another image, containers made from an image
about to be deleted). A step the plan lists whose work another run did
meanwhile finds it done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..errors import Conflict, InvalidInput, NotFound
from ..image.manifest import ACCEPT, Platform
from ..image.records import ImageRecord
from ..image.reference import Reference, parse_reference
from ..image.service import make_client
from ..image.store import ImageStore, image_summary
from ..plan import Plan, Step

if TYPE_CHECKING:
    from .image_models import ImageRequest, ImportConfig, RegistryOptions


# -- steps -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pull(Step):
    ref: str
    familiar: str
    platform: str | None
    registry: RegistryOptions

    def describe(self) -> str:
        return f"pulled: {self.familiar}"

    def execute(self, context: Engine) -> str:
        from ..image.pull import Puller

        context.require_writable(f"pull {self.familiar}")
        ref = parse_reference(self.ref)
        platform = Platform.parse(self.platform) if self.platform else None
        record, _changed = Puller(ImageStore(context), make_client(ref.registry, self.registry), platform).pull(ref)
        return record.id


@dataclass(frozen=True)
class Load(Step):
    ref: str
    familiar: str
    path: Path

    def describe(self) -> str:
        return f"loaded: {self.familiar}"

    def execute(self, context: Engine) -> str:
        from ..image.archive import load_archive

        context.require_writable(f"load {self.familiar}")
        return load_archive(ImageStore(context), self.path, parse_reference(self.ref)).id


@dataclass(frozen=True)
class Import(Step):
    ref: str
    familiar: str
    path: Path
    config: ImportConfig

    def describe(self) -> str:
        return f"imported: {self.familiar}"

    def execute(self, context: Engine) -> str:
        from ..image.archive import import_rootfs

        context.require_writable(f"import {self.familiar}")
        return import_rootfs(ImageStore(context), self.path, self.config, parse_reference(self.ref)).id


@dataclass(frozen=True)
class Tag(Step):
    """Point ``target`` at the image ``source`` names (after the steps before it)."""

    source: str
    target: str
    familiar: str
    force: bool

    def describe(self) -> str:
        return f"tagged: {self.familiar}"

    def execute(self, context: Engine) -> bool:
        store = ImageStore(context)
        record = store.resolve(self.source)
        _refuse_moving(store.find(self.target), record, self.familiar, self.force)
        return store.save(record, parse_reference(self.target))


@dataclass(frozen=True)
class Push(Step):
    source: str
    target: str
    familiar: str
    registry: RegistryOptions

    def describe(self) -> str:
        return f"pushed: {self.familiar}"

    def execute(self, context: Engine) -> str:
        from ..image.push import push_image

        context.require_writable(f"push {self.familiar}")
        store = ImageStore(context)
        record, target = store.resolve(self.source), parse_reference(self.target)
        digest, _stats = push_image(store, record, target, make_client(target.registry, self.registry))
        store.save(record, None, digest_name=f"{target.name}@{digest}")
        return digest


@dataclass(frozen=True)
class Archive(Step):
    source: str
    path: Path
    archive_format: str

    def describe(self) -> str:
        return f"archived: {self.path}"

    def execute(self, context: Engine) -> None:
        from ..image.archive import save_archive

        context.require_writable(f"save {self.source} to {self.path}")
        store = ImageStore(context)
        save_archive(store, store.resolve(self.source), self.path, self.archive_format, parse_reference(self.source))


@dataclass(frozen=True)
class Untag(Step):
    tagged: str

    def describe(self) -> str:
        return f"untagged: {self.tagged}"

    def execute(self, context: Engine) -> Any:
        return ImageStore(context).untag(self.tagged)


@dataclass(frozen=True)
class Delete(Step):
    """Remove the image with all its tags (its layers go with the next sweep
    unless another image or a container needs them)."""

    image_id: str
    force: bool

    def describe(self) -> str:
        return f"deleted: {self.image_id}"

    def execute(self, context: Engine) -> list[str]:
        store = ImageStore(context)
        if not self.force:
            store.refuse_in_use(self.image_id, hint="remove the containers first, or set force_absent: true")
        return store.remove(self.image_id, force=True)


# -- planning ----------------------------------------------------------------------------------------------------
def reference_of(request: ImageRequest) -> Reference:
    """``name``, with ``tag`` when the name has neither tag nor digest."""
    ref = parse_reference(request.name, default_tag=False)
    if ref.tag is None and ref.digest is None:
        ref = ref.with_tag(request.tag)
    return ref


def plan_image(engine: Engine, request: ImageRequest) -> Plan:
    store = ImageStore(engine)
    ref = reference_of(request)
    current = store.find(str(ref))
    plan = Plan(before=_view(current))
    if request.state == "absent":
        _plan_absent(plan, store, ref, current, request.force_absent)
        return plan
    record = _plan_present(plan, engine, store, ref, current, request)
    tags = set(record.repo_tags) if record is not None else {ref.tagged}
    target = _plan_tag(plan, store, ref, record, request)
    if target is not None:
        tags.add(target.tagged)
    _plan_push(plan, ref, record, request)
    _plan_archive(plan, ref, record, request)
    plan.after = {"exists": True, "repo_tags": sorted(tags)}
    if record is not None and not _acquires(plan):
        plan.after = {"exists": True, "id": record.id, "repo_tags": sorted(tags)}
    return plan


def image_report(engine: Engine, request: ImageRequest, plan: Plan, applied: bool) -> dict[str, Any]:
    """The module's ``image``: the image after the task (None when it is
    removed, or in check mode when the plan gets it first)."""
    if request.state == "absent" or (not applied and _acquires(plan)):
        return {"image": None}
    store = ImageStore(engine)
    record = store.find(str(reference_of(request)))
    return {"image": image_summary(record, store) if record is not None else None}


def _plan_absent(plan: Plan, store: ImageStore, ref: Reference, current: ImageRecord | None, force: bool) -> None:
    if current is None:
        return
    remaining = sorted(t for t in current.repo_tags if t != ref.tagged)
    if remaining and ref.tagged in current.repo_tags:   # one of several tags: only untagged, like docker rmi
        plan.add(Untag(ref.tagged))
        plan.after = {"exists": True, "id": current.id, "repo_tags": remaining}
        return
    if not force:
        store.refuse_in_use(current.id, hint="remove the containers first, or set force_absent: true")
    plan.add(Delete(current.id, force))
    plan.after = {"exists": False}


def _plan_present(plan: Plan, engine: Engine, store: ImageStore, ref: Reference, current: ImageRecord | None,
                  request: ImageRequest) -> ImageRecord | None:
    """Plan getting the image; the record the later steps work on (None when a step gets it first)."""
    complete = current is not None and store.complete(current)
    if request.source == "local":
        if current is None:
            raise NotFound(f"image {ref.familiar} is not present", field="name",
                           hint="use source: pull, load or import to get it")
        return current
    if request.source == "pull":
        if not _pull_needed(plan, engine, ref, current if complete else None, request):
            return current
        plan.add(Pull(str(ref), ref.familiar, request.platform, request.registry))
        return None
    if request.source in ("build", "commit"):
        from .build_plan import plan_build, plan_commit

        return (plan_build if request.source == "build" else plan_commit)(plan, engine, ref, current, request)
    if request.source == "load":
        if request.load_path is None:
            raise InvalidInput("source: load needs load_path", field="load_path",
                               hint="give the path of a docker-archive or OCI archive/layout")
        from ..image.archive import archive_image_id

        if complete and current is not None and current.id == archive_image_id(request.load_path, ref):
            return current
        plan.add(Load(str(ref), ref.familiar, request.load_path))
        return None
    if request.import_path is None:
        raise InvalidInput("source: import needs import_path", field="import_path",
                           hint="give a rootfs tarball or directory")
    from ..image.archive import import_matches

    if complete and current is not None and current.source == "import" \
            and import_matches(store, current, request.import_path, request.import_config):
        return current
    plan.add(Import(str(ref), ref.familiar, request.import_path, request.import_config))
    return None


def _pull_needed(plan: Plan, engine: Engine, ref: Reference, present: ImageRecord | None,
                 request: ImageRequest) -> bool:
    """Whether to pull: always when the image is missing or incomplete; with
    ``pull: always``, when the registry's tag names another image — which
    only an apply asks (check mode never contacts the registry for a pull)."""
    if present is None:
        return True
    if request.pull != "always" or ref.digest:
        return False
    if engine.read_only:
        plan.warnings.append(f"check mode does not contact the registry, so it cannot know whether "
                             f"{ref.familiar} has a newer image; assuming it does not")
        return request.pull_check_mode_behavior == "always"
    client = make_client(ref.registry, request.registry)
    remote = client.head_manifest(ref.repository, ref.reference_for_pull, ACCEPT)
    return remote is None or f"{ref.name}@{remote}" not in present.repo_digests


def _plan_tag(plan: Plan, store: ImageStore, ref: Reference, record: ImageRecord | None,
              request: ImageRequest) -> Reference | None:
    if not request.repository:
        return None
    target = parse_reference(request.repository, field="repository", default_tag=False)
    if target.digest:
        raise InvalidInput(f"repository {request.repository!r} has a digest", field="repository",
                           hint="give name[:tag]")
    target = target if target.tag else target.with_tag(ref.tag or "latest")
    existing = store.find(str(target))
    if record is not None:
        if existing is not None and existing.id == record.id:
            return target
        _refuse_moving(existing, record, target.familiar, request.force_tag)
    plan.add(Tag(str(ref), str(target), target.familiar, request.force_tag))
    return target


def _refuse_moving(existing: ImageRecord | None, record: ImageRecord, familiar: str, force: bool) -> None:
    if existing is not None and existing.id != record.id and not force:
        raise Conflict(f"{familiar} already names another image ({existing.short_id})",
                       field="repository", hint="set force_tag: true to move the tag")


def _plan_push(plan: Plan, ref: Reference, record: ImageRecord | None, request: ImageRequest) -> None:
    """A push is skipped when the registry has this exact manifest already: a
    ``HEAD`` only reads, so check mode asks too. An image a step gets first is
    not known yet, so its push is planned."""
    if not request.push:
        return
    target = parse_reference(request.repository or str(ref), field="repository", default_tag=False)
    target = target if target.tag else target.with_tag(ref.tag or "latest")
    if record is not None:
        client = make_client(target.registry, request.registry)
        if client.head_manifest(target.repository, target.tag or "latest", ACCEPT) == record.manifest_digest:
            return
    plan.add(Push(str(ref), str(target), target.familiar, request.registry))


def _plan_archive(plan: Plan, ref: Reference, record: ImageRecord | None, request: ImageRequest) -> None:
    if request.archive_path is None:
        return
    from ..image.archive import archive_matches

    if record is not None and archive_matches(request.archive_path, record, request.archive_format, ref):
        return
    plan.add(Archive(str(ref), request.archive_path, request.archive_format))


def _acquires(plan: Plan) -> bool:
    from .build_plan import Build, Commit

    return any(isinstance(step, (Pull, Load, Import, Build, Commit)) for step in plan.steps)


def _view(record: ImageRecord | None) -> dict[str, Any]:
    if record is None:
        return {"exists": False}
    return {"exists": True, "id": record.id, "repo_tags": sorted(record.repo_tags)}
