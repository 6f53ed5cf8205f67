"""The host side of the berth.engine.host role, run by the host's own python (read on stdin: ``python3 -``).

``probe SPEC`` (read-only, check mode too) prints what the host has and which of the role's steps have work:
the python tag the engine's wheels must match, packages missing, directories and files that differ from
what the role would write, whether this build's release is unpacked and whether the install is current.
A converged host costs this one probe; every other task of the role is skipped on its answer.

``install SPEC`` makes the install current, each step atomic, in an order a crash can interrupt
anywhere: unpack the shipped artifact into ``releases/.<release>.tmp`` and rename it to
``releases/<release>`` (bytecode compiled there once), point ``lib`` at it (a symlink swapped by rename),
write the launchers, then ``engine.json`` last (the commit point modules read). Check runs show the
probe's plan instead (the role never runs install there).
Only the standard library, python 3.8+.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

MANIFEST = "engine.json"
LIBEXEC_LINK = "../lib/libexec/berth"   # {prefix}/libexec/berth follows the lib symlink to the current release


def target() -> dict[str, str]:
    """The tag the vendored wheels must match: this interpreter's version, machine and glibc."""
    try:
        libc, version = os.confstr("CS_GNU_LIBC_VERSION").split()   # "glibc 2.36"; no scan of the binary
    except (ValueError, OSError, AttributeError):
        libc, version = "", ""
    glibc = ".".join(version.split(".")[:2]) if libc == "glibc" else "2.17"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    machine = os.uname().machine
    return {"target": f"cp{python.replace('.', '')}-{machine}-glibc{glibc}", "python_version": python,
            "machine": machine, "glibc": glibc}


def _paths(spec: dict) -> dict[str, str]:
    prefix = spec["prefix"]
    return {"lib": f"{prefix}/lib", "releases": f"{prefix}/releases", "libexec": f"{prefix}/libexec/berth",
            "manifest": f"{prefix}/{MANIFEST}", "cli": f"{spec['bin_dir']}/berth",
            "runtime": f"{spec['bin_dir']}/berth-runtime"}


def engine_path(spec: dict) -> list[str]:
    return [f"{spec['prefix']}/lib/vendor", f"{spec['prefix']}/lib"]


def launchers(spec: dict) -> dict[str, str]:
    """The launchers' text: they name the prefix and python only, so a new release leaves them as they are."""
    path, python, paths = engine_path(spec), spec["python"], _paths(spec)
    cli = (f"#!/bin/sh\n# berth CLI, written by the berth.engine.host role: the engine under {spec['prefix']}\n"
           f"# ({MANIFEST}: python and path).\nBERTH_LIB={shlex.quote(os.pathsep.join(path))}\nexport BERTH_LIB\n"
           f"exec {shlex.quote(python)} {shlex.quote(paths['libexec'])} \"$@\"\n")
    runtime = (f"#!{python} -IS\n"  # -S: no site (its .pth files and sitecustomize cost ~5 ms a start)
               f'"""berth-runtime (runc-compatible OCI runtime), written by the berth.engine.host role: the engine\n'
               f"under {spec['prefix']} ({MANIFEST}: python and path). A Python launcher, not a shell script:\n"
               f'conmon and podman start it once per container, so every millisecond counts."""\n'
               f"import sys\n\nsys.path[:0] = {path!r}\n"
               "from ansible_collections.berth.engine.plugins.module_utils.runtime import prewarm  # noqa: E402\n\n"
               "prewarm.start(sys.argv)  # overlaps the kernel's cgroup lock warm-up with the imports below\n"
               "from ansible_collections.berth.engine.plugins.module_utils.runtime.cli import main  # noqa: E402\n\n"
               "sys.exit(main(sys.argv[1:]))\n")
    return {paths["cli"]: cli, paths["runtime"]: runtime}


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return None


def release_name(spec: dict) -> str:
    return f"{spec['build']}-{target()['target']}"


def plan(spec: dict) -> list[str]:
    """What ``install`` would do, as sentences; empty when the install is current."""
    paths, release = _paths(spec), release_name(spec)
    steps = []
    if not os.path.isdir(f"{paths['releases']}/{release}"):
        steps.append(f"unpack release {release}")
    if os.path.realpath(paths["lib"]) != os.path.realpath(f"{paths['releases']}/{release}") \
            or not os.path.islink(paths["lib"]):
        steps.append(f"point {paths['lib']} at release {release}")
    if not os.path.islink(paths["libexec"]) or os.readlink(paths["libexec"]) != LIBEXEC_LINK:
        steps.append(f"link {paths['libexec']}")
    for path, text in launchers(spec).items():
        if _read(path) != text.encode() or _mode(path) != 0o755:
            steps.append(f"write {path}")
    try:
        with open(paths["manifest"], encoding="utf-8") as handle:
            installed = json.load(handle)
    except (OSError, ValueError):
        installed = {}
    want = {"version": spec["version"], "digest": spec["digest"], "python": spec["python"], "path": engine_path(spec)}
    if any(installed.get(key) != value for key, value in want.items()) or installed.get("release") != release:
        steps.append(f"write {paths['manifest']} (engine {spec['digest'][:16]}, was "
                     f"{str(installed.get('digest', 'none'))[:16]})")
    return steps


def missing_packages(names: list[str]) -> list[str]:
    import shutil

    if not names or shutil.which("dpkg-query") is None:
        return []
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n", *names],
                          capture_output=True, text=True, check=False)
    installed = {line.split()[0] for line in proc.stdout.splitlines() if line.endswith(" installed")}
    return [name for name in names if name not in installed]


def probe(spec: dict) -> dict:
    import hashlib

    stale_dirs = [d for d in spec.get("dirs", []) if _mode(d["path"]) != int(d["mode"], 8)
                  or not os.path.isdir(d["path"])]
    stale_files = [f["path"] for f in spec.get("files", [])
                   if _mode(f["path"]) != int(f["mode"], 8)
                   or hashlib.sha1(_read(f["path"]) or b"").hexdigest() != f["sha1"]]   # a change test, not security
    release = release_name(spec)
    steps = plan(spec)
    present = os.path.isdir(f"{spec['prefix']}/releases/{release}")
    return {"wheels": target(), "release": release, "release_present": present,
            "current": not steps, "plan": steps, "missing_packages": missing_packages(spec.get("packages", [])),
            "systemd": os.path.isdir("/run/systemd/system"), "stale_dirs": stale_dirs, "stale_files": stale_files}


# --- install (its modules imported where used: the probe, run on every converged host, stays light) -------

def _write_atomic(path: str, data: bytes, mode: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.berth-tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _symlink_atomic(target_path: str, link: str) -> None:
    tmp = f"{link}.berth-tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target_path, tmp)
    if os.path.isdir(link) and not os.path.islink(link):
        # the role's layout before releases: the real lib directory goes aside (pruned below), once
        os.rename(link, f"{link}.berth-old")
    os.replace(tmp, link)


def unpack(spec: dict, release: str) -> None:
    import compileall
    import shutil
    import tarfile

    releases = f"{spec['prefix']}/releases"
    artifact, staging = f"{releases}/{release}.tar.gz", f"{releases}/.{release}.tmp"
    if not os.path.exists(artifact):
        raise SystemExit(f"berth.engine.host: {artifact} is missing; the role ships it before this step")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
        if any(n.startswith(("/", "..")) or "/../" in n for n in names):
            raise SystemExit(f"berth.engine.host: {artifact} has a path outside its release; rebuild it")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(staging, filter="data")
        else:
            tar.extractall(staging)  # our own artifact, its names checked above
    # Bytecode once, into the release itself: every CLI and agent start reads it, nothing writes there later.
    compileall.compile_dir(staging, quiet=2, workers=0)
    os.rename(staging, f"{releases}/{release}")
    os.unlink(artifact)


def prune(spec: dict, keep: set[str]) -> None:
    """Releases other than the current and the one before it, and the pre-release layout's leftovers."""
    import shutil

    releases = f"{spec['prefix']}/releases"
    for name in os.listdir(releases):
        if name not in keep and not name.endswith(".tar.gz"):
            shutil.rmtree(f"{releases}/{name}", ignore_errors=True)
    for leftover in ("venv", "pycache", "lib.berth-old"):
        shutil.rmtree(f"{spec['prefix']}/{leftover}", ignore_errors=True)


def install(spec: dict) -> list[str]:
    import time

    steps = plan(spec)
    if not steps:
        return steps
    paths, release = _paths(spec), release_name(spec)
    os.makedirs(paths["releases"], mode=0o755, exist_ok=True)
    previous = os.path.basename(os.path.realpath(paths["lib"])) if os.path.islink(paths["lib"]) else ""
    if not os.path.isdir(f"{paths['releases']}/{release}"):
        unpack(spec, release)
    _symlink_atomic(f"releases/{release}", paths["lib"])
    os.makedirs(os.path.dirname(paths["libexec"]), mode=0o755, exist_ok=True)
    _symlink_atomic(LIBEXEC_LINK, paths["libexec"])
    for path, text in launchers(spec).items():
        _write_atomic(path, text.encode(), 0o755)
    manifest = {"version": spec["version"], "digest": spec["digest"], "python": spec["python"],
                "path": engine_path(spec), "release": release,
                "installed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _write_atomic(paths["manifest"], json.dumps(manifest, indent=1).encode() + b"\n", 0o644)
    prune(spec, {release, previous})
    return steps


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    if argv[0] == "probe":
        result = probe(spec)
    else:
        steps = install(spec)
        result = {"changed": bool(steps), "done": steps}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
