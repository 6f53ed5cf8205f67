"""What the container verbs print, as Docker's CLI prints it: ``docker ps``'s
rows (keyed by Docker's template fields: ID, Image, Command, CreatedAt,
RunningFor, Status, State, Ports, Names, Labels, Mounts, Networks, Size...),
its Status sentences ("Up 2 minutes (healthy)", "Exited (0) 3 seconds ago"),
``docker port``'s lines and ``docker inspect``'s document shape.

Pure functions over record documents (no engine, no I/O but the clock), so
the listing stays cheap and the shapes are unit-tested on their own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from .output import human_duration, short_id, truncated

COMMAND_WIDTH = 20   # docker ps truncates COMMAND to 20 characters (quotes included) unless --no-trunc


def epoch(stamp: str | None) -> float | None:
    """A record's RFC 3339 UTC timestamp (``2026-12-02T23:16:25.783655266Z``) as seconds since the epoch."""
    if not stamp or len(stamp) < 19:
        return None
    try:
        days = _days_since_epoch(int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10]))
        whole = days * 86400 + int(stamp[11:13]) * 3600 + int(stamp[14:16]) * 60 + int(stamp[17:19])
    except ValueError:
        return None
    fraction = stamp[19:].rstrip("Z").split("+")[0]
    return whole + (float(fraction) if fraction.startswith(".") and fraction[1:].isdigit() else 0.0)


def _days_since_epoch(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to this proleptic Gregorian date (calendar.timegm without importing calendar,
    whose datetime and locale imports cost every `ps` a few milliseconds)."""
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise ValueError(f"{year}-{month}-{day}")
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def created_at(stamp: str | None) -> str:
    """Docker's ``CreatedAt``: ``2026-12-02 23:16:25 +0000 UTC``."""
    seconds = epoch(stamp)
    if seconds is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(seconds))


def status_text(state: Mapping[str, Any], lifecycle: str, now: float) -> str:
    """Docker's ``Status`` column for a container in ``lifecycle`` (the corrected state)."""
    if lifecycle in ("running", "paused"):
        started = epoch(state.get("started_at"))
        text = "Up " + human_duration(max(0.0, now - started)) if started is not None else "Up"
        if lifecycle == "paused":
            return text + " (Paused)"
        health = (state.get("health") or {}).get("status")
        if health == "starting":
            return text + " (health: starting)"
        return f"{text} ({health})" if health in ("healthy", "unhealthy") else text
    if lifecycle == "restarting":
        return f"Restarting ({_code(state)}) {_ago(state.get('finished_at'), now)}".rstrip()
    if lifecycle == "exited":
        return f"Exited ({_code(state)}) {_ago(state.get('finished_at'), now)}".rstrip()
    if lifecycle == "creating":
        return "Creating"
    return "Created"


def _code(state: Mapping[str, Any]) -> int:
    code = state.get("exit_code")
    return int(code) if code is not None else 0


def _ago(stamp: str | None, now: float) -> str:
    finished = epoch(stamp)
    return "" if finished is None else human_duration(max(0.0, now - finished)) + " ago"


def ports_text(ports: Sequence[Mapping[str, Any]]) -> str:
    """Docker's ``Ports`` column: ``0.0.0.0:8080->80/tcp, 0.0.0.0:8443->443/tcp``."""
    return ", ".join(f"{p['host_ip']}:{p['host_port']}->{p['container_port']}/{p['proto']}"
                     for p in sorted(ports, key=lambda p: (p["container_port"], p["proto"], p["host_port"])))


def port_lines(ports: Sequence[Mapping[str, Any]], wanted: str | None = None) -> list[str]:
    """``docker port``: ``80/tcp -> 0.0.0.0:8080`` each, or only the host ends of ``wanted`` (``80``, ``80/udp``)."""
    ordered = sorted(ports, key=lambda p: (p["container_port"], p["proto"], p["host_port"]))
    if wanted is None:
        return [f"{p['container_port']}/{p['proto']} -> {p['host_ip']}:{p['host_port']}" for p in ordered]
    number, _sep, proto = wanted.partition("/")
    return [f"{p['host_ip']}:{p['host_port']}" for p in ordered
            if str(p["container_port"]) == number and p["proto"] == (proto or "tcp")]


def command_text(argv: Sequence[str], no_trunc: bool = False) -> str:
    """Docker's ``Command``: the argv joined, in double quotes, truncated to 20 characters."""
    quoted = '"' + " ".join(argv) + '"'
    return quoted if no_trunc else truncated(quoted, COMMAND_WIDTH)


def effective_argv(config: Mapping[str, Any], image_config: Mapping[str, Any]) -> list[str]:
    """Entrypoint + command as the container runs them: the record's, else the image's (a stated
    entrypoint drops the image's CMD, as Docker does)."""
    entrypoint = config.get("entrypoint")
    command = config.get("command")
    if entrypoint is None:
        entrypoint = image_config.get("Entrypoint") or []
        if command is None:
            command = image_config.get("Cmd") or []
    return [*entrypoint, *(command or [])]


def mounts_text(config: Mapping[str, Any], no_trunc: bool = False) -> str:
    """Docker's ``Mounts``: each mount's volume name (or host path), comma-separated."""
    names = [str(m.get("name") or m.get("source") or m.get("target") or "") for m in config.get("mounts") or []]
    return ",".join(n if no_trunc else truncated(n, 15) for n in names if n)


def ps_row(document: Mapping[str, Any], lifecycle: str, argv: Sequence[str], *, now: float,
           no_trunc: bool = False) -> dict[str, Any]:
    """One ``docker ps`` row from a record document (its state already corrected to ``lifecycle``)."""
    state = document.get("state") or {}
    config = document.get("config") or {}
    labels = {str(k): str(v) for k, v in (config.get("labels") or {}).items()}
    created = epoch(document.get("created"))
    running = lifecycle in ("running", "paused", "restarting")
    networks = (state.get("networks") or {}) if running else {}
    names = sorted(networks) or [n["name"] for n in config.get("networks") or [] if n.get("name")]
    return {
        "ID": short_id(document["id"], no_trunc), "Image": document.get("image", ""),
        "Command": command_text(argv, no_trunc), "CreatedAt": created_at(document.get("created")),
        "RunningFor": "" if created is None else human_duration(max(0.0, now - created)) + " ago",
        "Status": status_text(state, lifecycle, now), "State": lifecycle,
        "Ports": ports_text(state.get("ports") or []) if running else "",
        "Names": document["name"], "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Mounts": mounts_text(config, no_trunc),
        "LocalVolumes": str(sum(1 for m in config.get("mounts") or [] if m.get("type") == "volume")),
        "Networks": ",".join(names or [str(config.get("network_mode") or "")]), "Size": "",
    }


# -- docker inspect's shape --------------------------------------------------------------

def inspect_document(document: Mapping[str, Any], lifecycle: str, argv: Sequence[str],
                     image_config: Mapping[str, Any]) -> dict[str, Any]:
    """The record in ``docker inspect``'s shape, for the fields users' ``--format`` strings read."""
    state = document.get("state") or {}
    config = document.get("config") or {}
    running = lifecycle in ("running", "paused", "restarting")
    resources = config.get("resources") or {}
    policy, _sep, retries = str(config.get("restart_policy") or "no").partition(":")
    return {
        "Id": document["id"], "Name": "/" + document["name"], "Created": document.get("created"),
        "Path": argv[0] if argv else "", "Args": list(argv[1:]),
        "Image": document.get("image_id"), "RestartCount": state.get("restart_count") or 0,
        "State": _inspect_state(state, lifecycle),
        "Config": _inspect_config(document, image_config),
        "NetworkSettings": _network_settings(state, running),
        "Mounts": [_mount(m) for m in config.get("mounts") or []],
        "HostConfig": {"RestartPolicy": {"Name": policy, "MaximumRetryCount": int(retries) if retries.isdigit() else 0},
                       "Memory": _int(resources.get("memory")), "MemorySwap": _int(resources.get("memory_swap")),
                       "NanoCpus": int(float(resources.get("cpus") or 0) * 1e9),
                       "CpuShares": _int(resources.get("cpu_shares")), "PidsLimit": resources.get("pids_limit"),
                       "BlkioWeight": _int(resources.get("blkio_weight")),
                       "NetworkMode": config.get("network_mode") or "bridge",
                       "AutoRemove": bool(config.get("auto_remove")), "Privileged": bool(config.get("privileged")),
                       "ReadonlyRootfs": bool(config.get("read_only"))},
    }


def _inspect_config(document: Mapping[str, Any], image_config: Mapping[str, Any]) -> dict[str, Any]:
    config = document.get("config") or {}
    env = [*(image_config.get("Env") or []), *(f"{k}={v}" for k, v in (config.get("env") or {}).items())]
    return {"Image": document.get("image"), "Cmd": config.get("command") or image_config.get("Cmd"),
            "Entrypoint": config.get("entrypoint") or image_config.get("Entrypoint"), "Env": env,
            "Labels": dict(config.get("labels") or {}), "Hostname": config.get("hostname") or document["id"][:12],
            "User": config.get("user") or "", "WorkingDir": config.get("working_dir") or "",
            "StopSignal": config.get("stop_signal")}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def _inspect_state(state: Mapping[str, Any], lifecycle: str) -> dict[str, Any]:
    health = state.get("health")
    shown = {"Status": lifecycle, "Running": lifecycle in ("running", "paused"), "Paused": lifecycle == "paused",
             "Restarting": lifecycle == "restarting", "OOMKilled": bool(state.get("oom_killed")),
             "Dead": False, "Pid": state.get("pid") or 0 if lifecycle in ("running", "paused") else 0,
             "ExitCode": state.get("exit_code") or 0, "Error": state.get("error") or "",
             "StartedAt": state.get("started_at") or "0001-01-01T00:00:00Z",
             "FinishedAt": state.get("finished_at") or "0001-01-01T00:00:00Z"}
    if health:
        shown["Health"] = {"Status": health.get("status"), "FailingStreak": health.get("failing_streak", 0),
                           "Log": [{"ExitCode": e.get("exit_code"), "Output": e.get("output", ""),
                                    "Start": e.get("start"), "End": e.get("end")} for e in health.get("log") or []]}
    return shown


def _network_settings(state: Mapping[str, Any], running: bool) -> dict[str, Any]:
    networks = (state.get("networks") or {}) if running else {}
    ports: dict[str, list[dict[str, str]]] = {}
    for port in (state.get("ports") or []) if running else []:
        ports.setdefault(f"{port['container_port']}/{port['proto']}", []).append(
            {"HostIp": port["host_ip"], "HostPort": str(port["host_port"])})
    first = next(iter(networks.values()), {})
    return {"IPAddress": first.get("ip", ""), "Gateway": first.get("gateway", ""), "Ports": ports,
            "Networks": {name: {"IPAddress": n.get("ip", ""), "IPPrefixLen": n.get("prefix", 0),
                                "Gateway": n.get("gateway", ""), "MacAddress": n.get("mac", ""),
                                "NetworkID": n.get("network_id", ""), "Aliases": list(n.get("aliases") or [])}
                         for name, n in networks.items()}}


def _mount(mount: Mapping[str, Any]) -> dict[str, Any]:
    kind = mount.get("type") or "bind"
    source = str(mount.get("source") or "")
    return {"Type": kind, "Name": source if kind == "volume" else "", "Source": source,
            "Destination": mount.get("target") or mount.get("destination") or "",
            "RW": not mount.get("read_only", False)}
