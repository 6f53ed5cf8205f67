"""Plan and apply one ``image`` task: the module's whole behaviour.

Every step first decides from local state alone whether it would change
anything, so check mode is the same code with the writes skipped; a pull is
never attempted in check mode (with ``pull: always`` that is said plainly as
a warning, since only the registry knows whether a newer image exists).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine import Engine
from ..errors import Conflict, InvalidInput, NotFound
from ..registry import credentials as creds
from ..registry.auth import Credentials
from ..registry.client import RegistryClient
from ..registry.tls import TlsPolicy
from .manifest import ACCEPT, Platform
from .models import ImageRequest, RegistryOptions
from .records import ImageRecord
from .reference import Reference, parse_reference
from .store import ImageStore, image_summary


@dataclass
class ImageOutcome:
    changed: bool = False
    actions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    image: dict[str, Any] | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    def result(self) -> dict[str, Any]:
        return {"changed": self.changed, "actions": self.actions, "image": self.image,
                "diff": {"before": self.before or {}, "after": self.after or {}}}


def make_client(registry: str, options: RegistryOptions) -> RegistryClient:
    credentials = None
    if options.username is not None:
        credentials = Credentials(options.username, options.password or "")
    else:
        credentials = creds.lookup(registry, options.config_path)
    policy = TlsPolicy(options.validate_certs, str(options.ca_cert) if options.ca_cert else None,
                       frozenset(options.insecure_registries))
    return RegistryClient(registry, credentials=credentials, tls=policy)


def _view(record: ImageRecord | None) -> dict[str, Any]:
    if record is None:
        return {"exists": False}
    return {"exists": True, "id": record.id, "repo_tags": sorted(record.repo_tags)}


class ImageService:
    def __init__(self, engine: Engine, request: ImageRequest, *, check_mode: bool) -> None:
        self.engine = engine
        self.request = request
        self.check = check_mode
        self.store = ImageStore(engine)
        self.ref = self._reference()
        self.out = ImageOutcome()

    def _reference(self) -> Reference:
        ref = parse_reference(self.request.name, default_tag=False)
        if ref.tag is None and ref.digest is None:
            ref = ref.with_tag(self.request.tag or "latest")
        return ref

    def run(self) -> ImageOutcome:
        current = self._find()
        self.out.before = _view(current)
        if self.request.state == "absent":
            self._absent(current)
        else:
            record = self._present(current)
            if record is not None:
                record = self._retag(record)
                self._push(record)
                self._archive(record)
                self.out.image = image_summary(record, self.store) if not self.check or self._find() else None
        if self.out.after is None:
            self.out.after = _view(self._find()) if not self.check else self.out.before
        return self.out

    def _find(self) -> ImageRecord | None:
        return self.store.find(str(self.ref))

    def _act(self, action: str) -> None:
        self.out.changed = True
        self.out.actions.append(action)

    # -- state: absent --------------------------------------------------------
    def _absent(self, current: ImageRecord | None) -> None:
        if current is None:
            return
        if not self.request.force_absent and self.store.users(current.id):
            raise Conflict(f"image {self.ref.familiar} is used by container(s) "
                           f"{', '.join(self.store.users(current.id))}", field="name",
                           hint="remove the containers first, or set force_absent: true")
        if self.check:
            remaining = [t for t in current.repo_tags if t != self.ref.tagged]
            self._act(f"untagged: {self.ref.tagged}" if remaining else f"deleted: {current.id}")
            self.out.after = {"exists": bool(remaining), "id": current.id, "repo_tags": remaining} \
                if remaining else {"exists": False}
            return
        for action in self.store.remove(str(self.ref), force=self.request.force_absent):
            self._act(action)

    # -- state: present -------------------------------------------------------
    def _present(self, current: ImageRecord | None) -> ImageRecord | None:
        source = self.request.source
        complete = current is not None and self.store.complete(current)
        if source == "local":
            if current is None:
                raise NotFound(f"image {self.ref.familiar} is not present", field="name",
                               hint="use source: pull, load or import to get it")
            return current
        if source == "pull":
            return self._pull(current, complete)
        return self._load_or_import(current, complete)

    def _pull(self, current: ImageRecord | None, complete: bool) -> ImageRecord | None:
        always = self.request.pull == "always"
        if complete and not always:
            return current
        if self.check:
            if complete and always:
                self.out.warnings.append(
                    f"check mode does not contact the registry, so it cannot know whether "
                    f"{self.ref.familiar} has a newer image; assuming it does not")
                if self.request.pull_check_mode_behavior == "always":
                    self._act(f"pulled: {self.ref.familiar}")
                return current
            self._act(f"pulled: {self.ref.familiar}")
            return None
        from .pull import Puller

        platform = Platform.parse(self.request.platform) if self.request.platform else None
        puller = Puller(self.store, make_client(self.ref.registry, self.request.registry), platform)
        record, changed = puller.pull(self.ref)
        if changed or current is None or current.id != record.id:
            self._act(f"pulled: {self.ref.familiar} ({record.short_id}, {puller.stats.fetched} "
                      f"layer(s) fetched, {puller.stats.reused} reused)")
        return record

    def _load_or_import(self, current: ImageRecord | None, complete: bool) -> ImageRecord | None:
        from . import archive

        request = self.request
        if request.source == "load":
            if request.load_path is None:
                raise InvalidInput("source: load needs load_path", field="load_path",
                                   hint="give the path of a docker-archive or OCI archive/layout")
            wanted = archive.archive_image_id(request.load_path, self.ref)
        else:
            if request.import_path is None:
                raise InvalidInput("source: import needs import_path", field="import_path",
                                   hint="give a rootfs tarball or directory")
            wanted = None  # an import's ID depends on its content; compare after a dry build
        if complete and current is not None and (wanted is None or current.id == wanted) \
                and request.source == "load":
            return current
        if request.source == "import" and complete and current is not None and current.source == "import" \
                and archive.import_matches(self.store, current, request.import_path, request.import_config):
            return current
        if self.check:
            self._act(f"{'loaded' if request.source == 'load' else 'imported'}: {self.ref.familiar}")
            return None
        if request.source == "load":
            record = archive.load_archive(self.store, request.load_path, self.ref)
            self._act(f"loaded: {self.ref.familiar} ({record.short_id})")
        else:
            record = archive.import_rootfs(self.store, request.import_path, request.import_config, self.ref)
            self._act(f"imported: {self.ref.familiar} ({record.short_id})")
        return record

    # -- follow-ups -------------------------------------------------------------
    def _retag(self, record: ImageRecord) -> ImageRecord:
        target_text = self.request.repository
        if not target_text:
            return record
        target = parse_reference(target_text, field="repository", default_tag=False)
        if target.digest:
            raise InvalidInput(f"repository {target_text!r} has a digest", field="repository",
                               hint="give name[:tag]")
        target = target if target.tag else target.with_tag(self.ref.tag or "latest")
        existing = self.store.find(str(target))
        if existing is not None and existing.id == record.id:
            return record
        if existing is not None and not self.request.force_tag:
            raise Conflict(f"{target.familiar} already names another image ({existing.short_id})",
                           field="repository", hint="set force_tag: true to move the tag")
        self._act(f"tagged: {target.familiar}")
        if not self.check:
            self.store.save(record, target)
            record = self.store.get(record.id)
        return record

    def _push(self, record: ImageRecord) -> None:
        if not self.request.push:
            return
        target = parse_reference(self.request.repository or str(self.ref), field="repository", default_tag=False)
        target = target if target.tag else target.with_tag(self.ref.tag or "latest")
        client = make_client(target.registry, self.request.registry)
        # A HEAD is read-only, so check mode may ask it: is the exact manifest there already?
        remote = client.head_manifest(target.repository, target.tag or "latest", ACCEPT)
        if remote == record.manifest_digest:
            return
        self._act(f"pushed: {target.familiar}")
        if self.check:
            return
        from .push import push_image

        digest, _stats = push_image(self.store, record, target, client)
        self.store.save(record, None, digest_name=f"{target.name}@{digest}")

    def _archive(self, record: ImageRecord) -> None:
        path = self.request.archive_path
        if path is None:
            return
        from . import archive

        if archive.archive_matches(path, record, self.request.archive_format, self.ref):
            return
        self._act(f"archived: {path}")
        if not self.check:
            archive.save_archive(self.store, record, path, self.request.archive_format, self.ref)
