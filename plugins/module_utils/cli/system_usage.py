"""What ``berth system df`` reports, gathered once: the images' layers
(shared and unique sizes), the containers' writable layers, the volumes, the
build cache; and its rows in Docker's ``--format`` field names.

Image sizes are the stored layer sizes (what ``berth images`` shows); a
layer several images share is counted once in the total and as *shared* in
each of them (``-v``), the rest is the image's *unique* size — Docker's
split. Nothing here unpacks or re-hashes: only the containers' writable
layers and the volumes are measured on disk. Imported by the verb only
(its dataclasses cost start-up time every other berth command would pay).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from .output import human_size, short_id, since

if TYPE_CHECKING:
    from ..image.records import ImageRecord


@dataclass
class ImageUsage:
    """The images' layers: each chain id's size, and how many images use it."""

    records: list[ImageRecord]
    sizes: dict[str, int] = field(default_factory=dict)
    users: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, records: list[ImageRecord]) -> ImageUsage:
        usage = cls(records)
        for record in records:
            chains = dict(zip(record.chain_ids, (layer.size for layer in record.layers), strict=False))
            usage.sizes.update(chains)
            usage.users.update(chains.keys())
        return usage

    def total(self, records: Iterable[ImageRecord] | None = None) -> int:
        """Bytes of the layers of these images (all by default), each layer once."""
        chains = {c for r in (self.records if records is None else records) for c in r.chain_ids}
        return sum(self.sizes[c] for c in chains)

    def shared(self, record: ImageRecord) -> int:
        return sum(self.sizes[c] for c in set(record.chain_ids) if self.users[c] > 1)

    def unique(self, record: ImageRecord) -> int:
        return sum(self.sizes[c] for c in set(record.chain_ids) if self.users[c] == 1)


@dataclass
class Usage:
    """What ``system df`` reports, gathered once for its summary and for ``-v``."""

    images: list[ImageRecord]
    cache: list[ImageRecord]               # untagged build-step images: the build cache
    layers: ImageUsage
    containers: list[DfContainer]
    container_sizes: dict[str, int]
    volumes: list[dict[str, Any]]
    volume_sizes: dict[str, int]
    volume_users: Counter[str]

    @property
    def active_images(self) -> set[str]:
        return {c.image_id for c in self.containers if c.image_id}


@dataclass(frozen=True)
class DfContainer:
    """What ``df`` needs of a container: its record document and its state now."""

    id: str
    name: str
    image: str
    image_id: str | None
    state: str
    document: dict[str, Any]

    @property
    def running(self) -> bool:
        return self.state in ("running", "paused", "restarting")


def containers_now(engine: Engine) -> list[DfContainer]:
    """Every container but half-made ones, by name. Only the records that say a process runs are typed and
    checked (their process may have died unwatched, as containers/listing.py corrects it); the others'
    state is their record's, read without building the typed record."""
    from .. import lifecycle as lc
    from ..containers.store import ContainerStore

    monitor_alive: bool | None = None
    found = []
    for document in ContainerStore(engine).list():
        if "creating" in document:
            continue
        state = lc.of_record(document)
        if state in (lc.RUNNING, lc.PAUSED):
            from ..containers.listing import listed_container
            from ..containers.monitor_client import MonitorClient
            from ..containers.record import ContainerRecord

            if monitor_alive is None:
                monitor_alive = MonitorClient(engine.layout.state_root, engine.layout.run_root).alive()
            state = listed_container(ContainerRecord.load(document), monitor_alive=monitor_alive).state
        found.append(DfContainer(document["id"], document.get("name", ""), document.get("image", ""),
                                 document.get("image_id"), state, document))
    return sorted(found, key=lambda c: c.name)


def gather(engine: Engine) -> Usage:
    from ..containers.store import ContainerStore
    from ..fsutil import disk_usage
    from ..image.store import ImageStore
    from ..volumes.service import VolumeService

    records = ImageStore(engine).list()
    cache = [r for r in records if not r.repo_tags and r.source == "build"]
    containers = containers_now(engine)
    store = ContainerStore(engine)
    sizes = {c.id: disk_usage(store.directory(c.id) / "bundle" / "upper") for c in containers}
    volumes = VolumeService(engine)
    users: Counter[str] = Counter(m.get("source") for c in containers for m in _mounts(c) if m.get("type") == "volume")
    listed = volumes.list()
    return Usage([r for r in records if r not in cache], cache, ImageUsage.of(records), containers, sizes, listed,
                 {v["name"]: disk_usage(volumes.mountpoint(v["name"])) for v in listed}, users)


def _mounts(container: DfContainer) -> list[dict[str, Any]]:
    return list((container.document.get("config") or {}).get("mounts") or [])


def summary_rows(usage: Usage) -> list[dict[str, Any]]:
    """The four rows of ``docker system df`` (its ``--format json`` keys)."""
    active = usage.active_images
    used = [r for r in usage.images if r.id in active]
    images_size = usage.layers.total(usage.images)
    stopped = [c for c in usage.containers if not c.running]
    volume_size = sum(usage.volume_sizes.values())
    idle_volumes = sum(s for n, s in usage.volume_sizes.items() if not usage.volume_users[n])
    cache_size = usage.layers.total(usage.cache)
    return [
        _row("Images", len(usage.images), len(used), images_size, images_size - usage.layers.total(used)),
        _row("Containers", len(usage.containers), len(usage.containers) - len(stopped),
             sum(usage.container_sizes.values()), sum(usage.container_sizes[c.id] for c in stopped)),
        _row("Local Volumes", len(usage.volumes), len([v for v in usage.volumes if usage.volume_users[v["name"]]]),
             volume_size, idle_volumes),
        _row("Build Cache", len(usage.cache), 0, cache_size, cache_size),
    ]


def _row(kind: str, total: int, active: int, size: int, reclaimable: int) -> dict[str, Any]:
    share = f" ({int(reclaimable * 100 / size)}%)" if size else ""
    return {"Type": kind, "TotalCount": str(total), "Active": str(active), "Size": human_size(size),
            "Reclaimable": human_size(reclaimable) + share}


def image_rows(usage: Usage) -> list[dict[str, Any]]:
    using = Counter(c.image_id for c in usage.containers if c.image_id)
    rows = []
    for record in usage.images:
        for repository, tag in _names(record):
            rows.append({"Repository": repository, "Tag": tag, "ID": short_id(record.id),
                         "CreatedSince": since(_timestamp(record.created)) or "N/A",
                         "Size": human_size(usage.layers.total([record])),
                         "SharedSize": human_size(usage.layers.shared(record)),
                         "UniqueSize": human_size(usage.layers.unique(record)), "Containers": str(using[record.id])})
    return rows


def _names(record: ImageRecord) -> list[tuple[str, str]]:
    if not record.repo_tags:
        return [("<none>", "<none>")]
    from ..image.reference import parse_reference

    refs = [parse_reference(tag) for tag in sorted(record.repo_tags)]
    return [(ref.familiar.rsplit(":", 1)[0], ref.tag or "<none>") for ref in refs]   # as `berth images` shows


def _timestamp(text: str | None) -> float | None:
    """An RFC 3339 time (nanoseconds and ``Z`` allowed) as seconds since the epoch; None if unreadable."""
    import calendar
    import time

    if not text:
        return None
    try:
        whole, _dot, fraction = text.rstrip("Z").partition(".")
        seconds = calendar.timegm(time.strptime(whole[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    digits = "".join(ch for ch in fraction if ch.isdigit())
    return seconds + (float("0." + digits) if digits else 0.0)


def container_rows(usage: Usage) -> list[dict[str, Any]]:
    rows = []
    for container in usage.containers:
        spec = container.document.get("spec") or {}
        command = " ".join([*(spec.get("entrypoint") or []), *(spec.get("command") or [])])
        volumes = len([m for m in _mounts(container) if m.get("type") == "volume"])
        rows.append({"ID": short_id(container.id), "Image": container.image, "Command": f'"{command[:20]}"',
                     "LocalVolumes": str(volumes), "Size": human_size(usage.container_sizes[container.id]),
                     "RunningFor": since(_timestamp(container.document.get("created"))) or "N/A",
                     "Status": container.state, "Names": container.name})
    return rows


def volume_rows(usage: Usage) -> list[dict[str, Any]]:
    return [{"Name": v["name"], "Links": str(usage.volume_users[v["name"]]),
             "Size": human_size(usage.volume_sizes[v["name"]])} for v in usage.volumes]
