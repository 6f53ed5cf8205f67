"""``berth stats``, ``berth update`` and ``berth container prune``: the
container verbs that read cgroups or change records in bulk (imported only
by them: cli/container_verbs.py hands them on)."""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..errors import InvalidInput
from . import container_procs as procs
from .container_listing import ACTIVE, Listed, each_container, listed, service_of, upper_size
from .container_rows import epoch
from .output import Column, format_rows, human_size, short_id
from .shared import confirm, label_matches

if TYPE_CHECKING:
    from ..containers.record import ContainerRecord
    from ..containers.service import ContainerService

STATS_COLUMNS = (Column("CONTAINER ID", "ID"), Column("NAME", "Name"), Column("CPU %", "CPUPerc"),
                 Column("MEM USAGE / LIMIT", "MemUsage"), Column("MEM %", "MemPerc"), Column("NET I/O", "NetIO"),
                 Column("BLOCK I/O", "BlockIO"), Column("PIDS", "PIDs"))
STATS_SAMPLE = 0.5   # seconds between the two readings a CPU % is taken from
CLEAR_SCREEN = "\033[2J\033[H"
UPDATE_FLAGS = {"cpus": "--cpus", "memory": "--memory", "memory_swap": "--memory-swap",
                "cpu_shares": "--cpu-shares", "pids_limit": "--pids-limit", "blkio_weight": "--blkio-weight"}


# -- stats ---------------------------------------------------------------------------------

def stats(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    """One reading (``--no-stream``), or a reading a second, redrawn on a terminal, until interrupted."""
    service = service_of(engine)
    chosen = _stats_targets(engine, args)
    try:
        while True:
            text = format_rows(_readings(service, chosen, args.no_trunc), STATS_COLUMNS, fmt=_format(args))
            if not args.no_stream and sys.stdout.isatty():
                text = CLEAR_SCREEN + text
            sys.stdout.write(text)
            sys.stdout.flush()
            if args.no_stream:
                return {"_rc": 0}
            time.sleep(max(0.0, 1.0 - STATS_SAMPLE))
    except KeyboardInterrupt:
        return {"_rc": 0}


def _format(args: argparse.Namespace) -> str | None:
    if getattr(args, "json", False) and not args.format:
        return "json-array"
    return args.format


def _stats_targets(engine: Engine, args: argparse.Namespace) -> list[tuple[str, ContainerRecord | Listed]]:
    """(the name shown as ``Container``, the record): those named, else the running ones (all with -a)."""
    if args.containers:
        store = service_of(engine).store
        return [(ref, store.record(ref)) for ref in args.containers]
    return [(record.name, record) for record, state in listed(engine) if args.all or state in ACTIVE]


def _readings(service: ContainerService, chosen: list[tuple[str, ContainerRecord | Listed]], no_trunc: bool
              ) -> list[dict[str, Any]]:
    """Every container's row: two cgroup readings ``STATS_SAMPLE`` apart give its CPU %."""
    records = [(ref, service.current(record.id)) for ref, record in chosen]
    first = {record.id: service.stats(record) for _ref, record in records}
    started = time.monotonic()
    time.sleep(STATS_SAMPLE if any(first.values()) else 0)
    elapsed = time.monotonic() - started
    memory = procs.host_memory()
    rows = []
    for ref, record in records:
        now = service.stats(record)
        rows.append(stats_row(ref, record, first.get(record.id), now, elapsed, memory, no_trunc))
    return rows


def stats_row(ref: str, record: ContainerRecord, before: dict[str, Any] | None, now: dict[str, Any] | None,
              elapsed: float, host_memory: int, no_trunc: bool = False) -> dict[str, Any]:
    """``docker stats``' row: CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs ("--" when it runs not)."""
    row = {"Container": ref, "ID": short_id(record.id, no_trunc), "Name": record.name}
    if now is None or not record.state.pid:
        return {**row, "CPUPerc": "--", "MemUsage": "-- / --", "MemPerc": "--", "NetIO": "--", "BlockIO": "--",
                "PIDs": "--"}
    cpu = 0.0
    if before and before.get("cpu_usage_ns") is not None and now.get("cpu_usage_ns") is not None and elapsed > 0:
        cpu = max(0.0, (now["cpu_usage_ns"] - before["cpu_usage_ns"]) / (elapsed * 1e9) * 100)
    usage = int(now.get("memory_usage") or 0)
    limit = int(now.get("memory_limit") or 0)
    limit = limit if 0 < limit < host_memory or not host_memory else host_memory
    net = procs.net_io(record.state.pid)
    block = procs.block_io(record.cgroup)
    return {**row, "CPUPerc": f"{cpu:.2f}%",
            "MemUsage": f"{procs.binary_size(usage)} / {procs.binary_size(limit)}",
            "MemPerc": f"{usage / limit * 100:.2f}%" if limit else "0.00%",
            "NetIO": f"{human_size(net[0])} / {human_size(net[1])}" if net else "--",
            "BlockIO": f"{human_size(block[0])} / {human_size(block[1])}" if block else "--",
            "PIDs": str(now.get("pids_current") if now.get("pids_current") is not None else "--")}


# -- update --------------------------------------------------------------------------------

def update(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    """``docker update``: limits written to the record (and a running container's cgroup), the restart policy."""
    raw = {name: getattr(args, name) for name in UPDATE_FLAGS if getattr(args, name) is not None}
    if not raw and args.restart is None:
        raise InvalidInput("nothing to update", field="flags",
                           hint="give --cpus, --memory, --memory-swap, --cpu-shares, --pids-limit, "
                                "--blkio-weight or --restart")
    restart = _restart(args.restart)

    def change(service: ContainerService, ref: str) -> str:
        from ..containers.options import build_spec

        record = service.current(ref)
        spec = record.spec
        if restart and spec.auto_remove and restart[0] != "no":
            raise InvalidInput(f"container {ref} removes itself when it exits (--rm): no restart policy",
                               field="--restart", hint="recreate it without --rm to give it a restart policy")
        resources = build_spec(spec.image, {**spec.resources, **raw}).resources if raw else spec.resources
        changes: dict[str, Any] = {"resources": {**spec.resources, **resources}}
        if restart:
            changes.update(restart_policy=restart[0], restart_retries=restart[1] or None)
        fields = (*raw, *(("restart_policy", "restart_retries") if restart else ()))
        service.update(record.id, spec.with_changes(**changes), fields, stated=fields)
        return ref

    return each_container(engine, args.containers, change)


def _restart(text: str | None) -> tuple[str, int] | None:
    if text is None:
        return None
    from ..containers import policy

    try:
        return policy.parse(text)
    except InvalidInput:
        raise InvalidInput(f"--restart {text!r} is not a restart policy", field="--restart",
                           hint="use no, on-failure[:max-retries], always or unless-stopped") from None


# -- container prune ---------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


def until_epoch(value: str, now: float) -> float:
    """Docker's ``until=``: a Go duration (``24h``, ``1h30m``, ``10m``), Unix seconds or an RFC 3339 time."""
    if value and _DURATION.sub("", value) == "" and _DURATION.search(value):
        scale = {"h": 3600, "m": 60, "s": 1}
        return now - sum(float(n) * scale[unit] for n, unit in _DURATION.findall(value))
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    stamp = epoch(value)
    if stamp is None:
        raise InvalidInput(f"until={value!r} is neither a duration nor a time", field="--filter",
                           hint="e.g. --filter until=24h or --filter until=2026-12-01T00:00:00Z")
    return stamp


def _prune_filter(items: list[str], now: float) -> Any:
    until: float | None = None
    labels: list[tuple[bool, str]] = []
    for item in items:
        key, sep, value = item.partition("=")
        if key in ("label", "label!") and sep and value:
            labels.append((key == "label", value))
        elif key == "until" and sep:
            until = until_epoch(value, now)
        else:
            raise InvalidInput(f"invalid filter {item!r}", field="--filter",
                               hint="use until=<duration or time>, label=<key>[=<value>] or label!=<key>")

    def wanted(record: Listed) -> bool:
        created = epoch(record.created)
        if until is not None and (created is None or created >= until):
            return False
        found = record.config.get("labels")
        return all(label_matches(found, label) == present for present, label in labels)

    return wanted


def prune(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    """``docker container prune``: every container not running (created or exited) that the filters keep."""
    wanted = _prune_filter(args.filter, time.time())
    if not confirm(args, "This will remove all stopped containers."):
        return {"_rc": 0}
    service = service_of(engine)
    deleted, reclaimed = [], 0
    for record, state in listed(engine):
        if state in (*ACTIVE, "creating") or not wanted(record):
            continue
        size = upper_size(engine, record)
        service.remove(record.id, volumes=False)
        deleted.append(record.id)
        reclaimed += size
    text = "Deleted Containers:\n" + "".join(f"{d}\n" for d in deleted) + "\n" if deleted else ""
    sys.stdout.write(f"{text}Total reclaimed space: {human_size(reclaimed)}\n")
    return {"_rc": 0}
