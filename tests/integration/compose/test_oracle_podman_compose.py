"""podman-compose 1.6 (on Debian's podman 4.3, runc) as an independent oracle:
the valid corpus files it supports go through `berth compose up -d` and
through `podman-compose up -d`, and per service what a user sees must agree —
container names, the Compose labels (project, service, container-number),
the environment inside (`env`), command, user, working dir, the mount points
of the service's volumes and tmpfs (read-only or not), hostname, published
ports, and start order where depends_on is set.

The corpus images do not exist here: an override file (given to both tools
as the last ``-f``) runs every service on busybox with an entrypoint that
sleeps and ignores its arguments, so the command stays what the file says
(compared as configured) and every container keeps running to be looked at."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.compose.conftest import Roots
from tests.support import podman_compose
from tests.support.peers import needs_peer
from tests.support.podman_compose import PodmanCompose

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
              needs_peer("podman", "skopeo", "runc", "nsenter", podman_compose.PODMAN_COMPOSE)]
REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO / "tests" / "unit" / "compose" / "corpus" / "valid"
ORACLE_FILE = "oracle.override.yml"
SLEEPER = ["sh", "-c", "exec sleep 1000", "oracle"]   # "$@" (the command) is not run: it stays as configured
ONE_SHOT = ["sh", "-c", "exit 0", "oracle"]   # what a service_completed_successfully dependency runs
# podman adds container=podman; HOSTNAME and HOME are each engine's default, not the file's
ENGINE_ENV = {"container", "HOSTNAME", "HOME", "TERM"}

CASES = {
    "anchors": None,
    "basic": "podman refuses a published host port range for one container port (9000-9002:9000)",
    "env_file": None,
    "extends": "podman-compose fails on a bind from an extended file elsewhere ('volume [common/./conf] not "
               "defined')",
    "include": "podman-compose merges included files after every -f file, so the oracle's override cannot reach them",
    "interpolation": None,
    "long_syntax": None,
    "multi_file": "podman-compose fails on `labels: !reset {}` ('dictionary or iterable is expected')",
    "override": "podman-compose cannot merge a list healthcheck test with a string one across files",
    "profiles": None,
    "build": "the services build from contexts the corpus does not hold (its images would differ anyway)",
    "resources": "needs an external network, an external volume and a container outside the project",
    "secrets_configs": "podman-compose refuses an environment-sourced secret ('not supported for runtime secrets')",
}
# Where podman-compose is known to part from Compose: containers only berth makes (and must make)
FEWER_IN_PODMAN_COMPOSE = {
    "long_syntax": {"longs-app-2", "longs-app-3"},   # it ignores deploy.replicas (app: 3)
}


@pytest.fixture(scope="module")
def podman(busybox_image: Any) -> Iterator[PodmanCompose]:
    tool = PodmanCompose("oracle")
    try:
        tool.load(busybox_image.ref)
        yield tool
    finally:
        left = tool.close()
        assert not left, f"podman-compose left: {left}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_berth_and_podman_compose_agree(case: str, roots: Roots, podman: PodmanCompose) -> None:
    if CASES[case]:
        pytest.skip(CASES[case])
    args, expected = _stage(case, roots.project_dir)
    files = _files(roots.project_dir, args)
    name = expected["name"]
    flags = [f for path in files for f in ("-f", path)] + ["-p", name]
    flags += [f for env_file in args.get("env_files", []) for f in ("--env-file", env_file)]
    environ = args.get("environ", {})
    with _shared_if_asked(roots.project_dir, expected):
        _compare(case, roots, podman, expected, flags, environ)


@contextlib.contextmanager
def _shared_if_asked(project_dir: Path, expected: dict[str, Any]) -> Iterator[None]:
    """A bind with shared propagation needs its source on a shared mount (berth and Docker refuse it
    otherwise; podman does not): the project dir made a shared mount of its own for the case."""
    wanted = any((v.get("bind") or {}).get("propagation", "").endswith("shared")
                 for service in expected["services"].values() for v in service.get("volumes") or [])
    if not wanted:
        yield
        return
    subprocess.run(["mount", "--bind", str(project_dir), str(project_dir)], check=True)
    try:
        subprocess.run(["mount", "--make-rshared", str(project_dir)], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(project_dir)], check=True)


def _compare(case: str, roots: Roots, podman: PodmanCompose, expected: dict[str, Any], flags: list[str],
             environ: dict[str, str]) -> None:
    try:
        made = podman.compose(*flags, "up", "-d", cwd=roots.project_dir, env=environ)
        assert made.returncode == 0, (made.stdout[-3000:], made.stderr[-3000:])
        theirs = {c["Name"].lstrip("/"): _podman_view(podman, c, expected) for c in podman.inspect(*podman.names())}
    finally:
        podman.reset()
    up = _berth(roots, *flags, "up", "-d", env=environ)
    assert up.returncode == 0, (up.stdout, up.stderr)
    listed = _berth(roots, *flags, "ps", "-a", "--format", "json", env=environ)
    ours = {row["Name"]: _berth_view(roots, row, expected) for row in json.loads(listed.stdout)}
    assert sorted(set(ours) - FEWER_IN_PODMAN_COMPOSE.get(case, set())) == sorted(theirs)
    _assert_same_order(expected, ours, theirs)
    assert any("env" in seen for seen in theirs.values()), "no running container was looked into"
    for container, seen in ours.items():
        if container not in theirs:
            continue
        theirs_seen = theirs[container]
        if not expected["services"][seen["labels"]["com.docker.compose.service"]].get("hostname"):
            seen.pop("hostname", None), theirs_seen.pop("hostname", None)   # each engine's default otherwise
        seen.pop("started"), theirs_seen.pop("started")
        assert seen == theirs_seen, container


def _stage(case: str, project_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The corpus case copied into the project dir, plus the oracle's override naming every service."""
    shutil.copytree(CORPUS / case, project_dir, dirs_exist_ok=True)
    args_file = project_dir / "args.json"
    args = json.loads(args_file.read_text()) if args_file.exists() else {}
    expected = json.loads((project_dir / "config.json").read_text())
    lines = ["services:"]
    one_shots = {dependency for config in expected["services"].values()
                 for dependency, how in (config.get("depends_on") or {}).items()
                 if how.get("condition") == "service_completed_successfully"}
    for service, config in expected["services"].items():
        entrypoint = ONE_SHOT if service in one_shots else SLEEPER
        lines += [f"  {service}:", "    image: busybox:latest", f"    entrypoint: {json.dumps(entrypoint)}",
                  "    stop_grace_period: 1s"]
        if config.get("healthcheck"):   # the case's own probe needs its image: one that passes, replacing it
            lines.append('    healthcheck: !override {"test": ["CMD", "true"], "interval": "1s"}')
        if config.get("init"):   # podman's --init needs catatonit, which Debian's podman does not pull in
            lines.append("    init: false")
    (project_dir / ORACLE_FILE).write_text("\n".join(lines) + "\n")
    return args, expected


def _files(project_dir: Path, args: dict[str, Any]) -> list[str]:
    """The case's files as Compose finds them (a -f list switches the override lookup off: name it)."""
    if args.get("files"):
        found = list(args["files"])
    else:
        found = [p.name for p in sorted(project_dir.glob("compose.y*ml"))]
        found += [p.name for p in sorted(project_dir.glob("compose.override.y*ml"))]
    return [*found, ORACLE_FILE]


# one exec: the environment, then uid, cwd and hostname, then the mount table (busybox's sh has pwd built in)
LOOK = 'env; echo @@; id -u; pwd; cat /proc/sys/kernel/hostname; echo @@; cat /proc/self/mountinfo'


def _inside(run: Any, name: str, targets: list[str]) -> dict[str, Any]:
    """What a user sees from inside the container: env, uid, cwd, hostname and the service's mount points."""
    done = run("exec", name, "sh", "-c", LOOK)
    assert done.returncode == 0, (name, done.stdout, done.stderr)
    env_part, ids, mountinfo = done.stdout.split("@@\n")
    env = dict(line.split("=", 1) for line in env_part.splitlines() if "=" in line)
    uid, cwd, hostname = ids.splitlines()
    mounts = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if fields[4] in targets:
            mounts[fields[4]] = "ro" if "ro" in fields[5].split(",") else "rw"
    return {"env": {k: v for k, v in env.items() if k not in ENGINE_ENV}, "uid": uid, "cwd": cwd,
            "hostname": hostname, "mounts": mounts}


def _targets(expected: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """The mount points the service's file asks for (an engine's own extras, podman's read-only tmpfs, aside)."""
    service = expected["services"][labels["com.docker.compose.service"]]
    return [v["target"] for v in service.get("volumes") or []] + [t.split(":")[0] for t in service.get("tmpfs") or []]


def _ports(expected: dict[str, Any], labels: dict[str, str], seen: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """(host ip, host port, container port, protocol); a host port the file leaves to the engine is "any"."""
    service = expected["services"][labels["com.docker.compose.service"]]
    fixed = {(p["target"], p["protocol"]) for p in service.get("ports") or [] if p.get("published")}
    return sorted((ip or "0.0.0.0", str(host) if (int(target), proto) in fixed else "any", int(target), proto)
                  for ip, host, target, proto in seen)


def _when(stamp: str | None) -> datetime | None:
    """An RFC 3339 time with up to nanoseconds (podman's and berth's), as a datetime."""
    if not stamp:
        return None
    head, _dot, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(fraction.split('+')[0] + '000000')[:6]}")


def _podman_view(podman: PodmanCompose, inspected: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    name = inspected["Name"].lstrip("/")
    config = inspected["Config"]
    targets = _targets(expected, config.get("Labels") or {})
    ports = _ports(expected, config.get("Labels") or {}, [
        (b.get("HostIp"), b.get("HostPort"), port.split("/")[0], port.split("/")[1])
        for port, bindings in (inspected["HostConfig"].get("PortBindings") or {}).items() for b in bindings or []])
    return {"labels": _compose_labels(config.get("Labels") or {}), "command": config.get("Cmd") or [],
            "ports": ports,
            "started": _when(inspected["State"]["StartedAt"]), "running": inspected["State"]["Running"],
            **(_inside(podman.podman, name, targets) if inspected["State"]["Running"] else {})}


def _berth_view(roots: Roots, row: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    record = json.loads(_berth_root(roots, "inspect", "--json", row["Name"]).stdout)[row["Name"]]
    config = record["config"]
    targets = _targets(expected, row["Labels"])
    published = [(p["URL"], p["PublishedPort"], p["TargetPort"], p["Protocol"]) for p in row["Publishers"]]
    ports = _ports(expected, row["Labels"], published)
    return {"labels": _compose_labels(row["Labels"]), "command": config["command"] or [],
            "ports": ports, "started": _when(record["state"].get("started_at")),
            "running": row["State"] == "running",
            **(_inside(lambda *a: _berth_root(roots, *a), row["Name"], targets) if row["State"] == "running" else {})}


def _compose_labels(labels: dict[str, str]) -> dict[str, str]:
    wanted = ("com.docker.compose.project", "com.docker.compose.service", "com.docker.compose.container-number")
    return {key: labels.get(key, "") for key in wanted}


def _assert_same_order(expected: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Where depends_on is set, both tools started the dependency before its dependent."""
    for service, config in expected["services"].items():
        for dependency in config.get("depends_on") or {}:
            for seen in (ours, theirs):
                before = [v["started"] for n, v in seen.items() if v["labels"]["com.docker.compose.service"]
                          == dependency]
                after = [v["started"] for n, v in seen.items() if v["labels"]["com.docker.compose.service"]
                         == service]
                if before and after:
                    assert max(before) <= min(after), (service, dependency, before, after)


def _berth_root(roots: Roots, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / "bin" / "berth"), "--state-root", str(roots.state), "--run-root",
                           str(roots.run), *args], capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)


def _berth(roots: Roots, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # the shell environment wins over .env: only the case's own, plus what runs berth
    environ = {**{k: v for k, v in os.environ.items() if k == "PATH" or k.startswith("BERTH_")}, **env}
    return subprocess.run([str(REPO / "bin" / "berth"), "--state-root", str(roots.state), "--run-root",
                           str(roots.run), "compose", *args], capture_output=True, text=True, timeout=180,
                          check=False, cwd=roots.project_dir, env=environ, stdin=subprocess.DEVNULL)
