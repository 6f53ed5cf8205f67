"""``berth system df|prune|info``: what the engine's objects take on disk and
removing what nothing uses, as ``docker system`` does.

``df``'s gathering and rows are in system_usage.py (imported by the verb).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..engine import Engine
from .base import Commands, add_group
from .output import Column, emit_rows, format_rows, human_size
from .shared import confirm, say

DF_COLUMNS = (Column("TYPE", "Type"), Column("TOTAL", "TotalCount"), Column("ACTIVE", "Active"),
              Column("SIZE", "Size"), Column("RECLAIMABLE", "Reclaimable"))
IMAGE_COLUMNS = (Column("REPOSITORY", "Repository"), Column("TAG", "Tag"), Column("IMAGE ID", "ID"),
                 Column("CREATED", "CreatedSince"), Column("SIZE", "Size"), Column("SHARED SIZE", "SharedSize"),
                 Column("UNIQUE SIZE", "UniqueSize"), Column("CONTAINERS", "Containers"))
CONTAINER_COLUMNS = (Column("CONTAINER ID", "ID"), Column("IMAGE", "Image"), Column("COMMAND", "Command"),
                     Column("LOCAL VOLUMES", "LocalVolumes"), Column("SIZE", "Size"),
                     Column("CREATED", "RunningFor"), Column("STATUS", "Status"), Column("NAMES", "Names"))
VOLUME_COLUMNS = (Column("VOLUME NAME", "Name"), Column("LINKS", "Links"), Column("SIZE", "Size"))


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    verbs = add_group(sub, common, "system", "the engine as a whole: df, prune, info")
    df = verbs.add_parser("df", parents=[common], help="disk usage of images, containers, volumes, build cache")
    df.add_argument("-v", "--verbose", action="store_true", help="each image, container and volume")
    df.add_argument("--format", help="table (default), json, or a Go template such as '{{.Type}}'")
    prune = verbs.add_parser("prune", parents=[common], help="remove stopped containers, unused networks, "
                                                             "dangling images and build cache")
    prune.add_argument("-a", "--all", action="store_true", help="every image no container uses, not only dangling")
    prune.add_argument("--volumes", action="store_true", help="unused anonymous volumes too")
    prune.add_argument("-f", "--force", action="store_true", help="do not ask")
    info = verbs.add_parser("info", parents=[common], help="host, kernel and store facts (as `berth info`)")
    info.add_argument("--disk-usage", action="store_true", help="measure unpacked layers on disk")


def system_df(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from .system_usage import container_rows, gather, image_rows, summary_rows, volume_rows

    usage = gather(engine)
    if not args.verbose:
        return emit_rows(summary_rows(usage), DF_COLUMNS, args, id_field="Type")
    import sys

    if args.format == "json" or getattr(args, "json", False):
        document = {"Images": image_rows(usage), "Containers": container_rows(usage), "Volumes": volume_rows(usage),
                    "BuildCache": []}
        sys.stdout.write(json.dumps(document, sort_keys=True) + "\n")
        return {"_rc": 0}
    cache = human_size(usage.layers.total(usage.cache))
    sys.stdout.write("Images space usage:\n\n" + format_rows(image_rows(usage), IMAGE_COLUMNS)
                     + "\nContainers space usage:\n\n" + format_rows(container_rows(usage), CONTAINER_COLUMNS)
                     + "\nLocal Volumes space usage:\n\n" + format_rows(volume_rows(usage), VOLUME_COLUMNS)
                     + f"\nBuild cache usage: {cache}\n")
    return {"_rc": 0}


# -- prune ---------------------------------------------------------------------------------------------------
def _warning(args: argparse.Namespace) -> str:
    kinds = ["all stopped containers", "all networks not used by at least one container"]
    if args.volumes:
        kinds.append("all anonymous volumes not used by at least one container")
    kinds += ["all images without at least one container associated to them" if args.all
              else "all dangling images", "unused build cache"]
    return "This will remove:\n" + "".join(f"  - {kind}\n" for kind in kinds)


def system_prune(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    if not confirm(args, _warning(args).rstrip("\n")):
        return {"_rc": 0}
    containers, container_bytes = prune_containers(engine)
    from .network_verbs import prune_networks

    networks = prune_networks(engine, {})
    volumes, volume_bytes = [], 0
    if args.volumes:
        from ..volumes.service import VolumeService

        volumes, volume_bytes = VolumeService(engine).prune(all_volumes=False)
    images, image_bytes = prune_images(engine, dangling_only=not args.all)
    total = container_bytes + volume_bytes + image_bytes
    sections = [("Deleted Containers", containers), ("Deleted Networks", networks), ("Deleted Volumes", volumes),
                ("Deleted Images", images)]
    text = "".join(f"{title}:\n" + "".join(f"{n}\n" for n in names) + "\n" for title, names in sections if names)
    return say(args, f"{text}Total reclaimed space: {human_size(total)}",
               {"containers": containers, "networks": networks, "volumes": volumes, "images": images,
                "space_reclaimed": total})


def prune_containers(engine: Engine) -> tuple[list[str], int]:
    """Remove every container that does not run; their ids and the bytes of their writable layers."""
    from ..containers.service import ContainerService
    from ..containers.store import ContainerStore
    from ..errors import Conflict, InvalidState, NotFound
    from ..fsutil import disk_usage

    service, store = ContainerService(engine), ContainerStore(engine)
    removed, freed = [], 0
    from .system_usage import containers_now

    for container in containers_now(engine):
        if container.running:
            continue
        size = disk_usage(store.directory(container.id) / "bundle" / "upper")
        try:   # it may have been started or removed since it was listed: it is left to who did that
            service.remove(container.id)
        except (Conflict, InvalidState, NotFound):
            continue
        removed.append(container.id)
        freed += size
    return removed, freed


def prune_images(engine: Engine, *, dangling_only: bool) -> tuple[list[str], int]:
    """The prune module's image plan, applied: ``deleted: <id>`` lines and the bytes freed."""
    from ansible_collections.berth.engine.plugins.module_utils.ansible.prune_plan import PruneImage, plan_image_prune

    from ..errors import Conflict

    steps = plan_image_prune(engine, dangling_only=dangling_only)
    deleted, freed = [], 0
    for step in steps:
        try:
            step.execute(engine)
        except Conflict:   # a container was made from it since the plan: it stays
            continue
        if isinstance(step, PruneImage):
            deleted.append(f"deleted: {step.image_id}")
            freed += step.size
    return deleted, freed


def system_info(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ansible_collections.berth.engine.plugins.module_utils.ansible.hostinfo import host_info

    return host_info(engine, measure_disk=args.disk_usage)


COMMANDS: Commands = {
    "system df": (system_df, False),
    "system prune": (system_prune, False),
    "system info": (system_info, False),
}
