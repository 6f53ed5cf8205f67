"""Build the berth engine artifact on the controller (the host role runs this with the controller's python).

``id ROOT CACHE REQ...`` prints ``{"version", "digest", "build"}``: ``digest`` is ``engine_digest`` of ROOT's
plugins/module_utils (what modules compare), ``build`` names every byte the artifact holds besides the
vendored wheels (the engine, bin/berth, the role's two scripts, the requirements), so a change to any of
them ships a new release. The sources are kept as read under ``<cache>/sources/<build>.tar``.

``pack SPEC`` (JSON: cache, version, digest, build, requirements, targets [{target, python_version, machine,
glibc}])
prints ``{"artifacts": {target: path}}``: per target a deterministic ``.tar.gz`` (sorted names, mtime 0,
owner 0) of the engine, the deps unpacked for that python and platform, ``libexec/berth`` and a build
manifest, cached under ``<cache>/artifacts`` by build and target, so a converged fleet never rebuilds.
Wheels come from the package index pip is configured with (``pip download``, cached per target under
``<cache>/wheels``); without it, from this interpreter's own installed distributions when its tag matches.
Only the standard library: the controller's python need not have the engine's deps.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ENGINE = "ansible_collections/berth/engine"
# Regular packages above module_utils: imports need no namespace scan; ``ansible_collections`` itself stays
# a namespace package so another collection tree on the host's sys.path still merges with it.
PACKAGE_INITS = (f"{ENGINE.rsplit('/', 1)[0]}/__init__.py", f"{ENGINE}/__init__.py", f"{ENGINE}/plugins/__init__.py")
BUILD_INPUTS = ("roles/host/files/berth_host.py", "roles/host/files/berth_pack.py")


class PackError(Exception):
    """A failure the role reports as it is (one line naming the cause and the fix)."""


def _version_module(root: str):
    path = os.path.join(root, "plugins/module_utils/version.py")
    spec = importlib.util.spec_from_file_location("_berth_version", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read_sources(root: str) -> list[tuple[str, bytes, int]]:
    """The artifact's files from the collection (engine, package inits, libexec/berth), read once."""
    members = [(name, b"", 0o644) for name in PACKAGE_INITS]
    module_utils = os.path.join(root, "plugins/module_utils")
    for top, dirs, files in os.walk(module_utils):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if not name.endswith((".pyc", ".pyo")):
                path = os.path.join(top, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                with open(path, "rb") as handle:
                    members.append((f"{ENGINE}/{rel}", handle.read(), 0o644))
    with open(os.path.join(root, "bin/berth"), "rb") as handle:
        members.append(("libexec/berth", handle.read(), 0o755))
    return members


def _digest_of(members: list[tuple[str, bytes, int]]) -> str:
    """``engine_digest`` over bytes already read (same rule: .py files, sorted relative path, NUL-separated)."""
    base = f"{ENGINE}/plugins/module_utils/"
    digest = hashlib.sha256()
    for name, data, _mode in sorted(m for m in members if m[0].startswith(base) and m[0].endswith(".py")):
        digest.update(name[len(base):].encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def snapshot(root: str, cache: str, requirements: list[str]) -> dict[str, str]:
    """Name this controller's build and keep its sources under ``<cache>/sources/<build>.tar``.

    The engine is read once for both its digest and the artifact, so a tree edited while a play runs (a
    developer's checkout) never ships code under another code's digest; ``engine_digest`` read again
    confirms no file changed mid-read."""
    version = _version_module(root)
    for _attempt in range(5):
        members = _read_sources(root)
        digest = _digest_of(members)
        if digest == version.engine_digest(os.path.join(root, "plugins/module_utils")):
            break
    else:
        raise PackError(f"the engine under {root} keeps changing while it is read; run the play again")
    build = hashlib.sha256(digest.encode() + b"\0" + "\n".join(requirements).encode() + b"\0")
    for name, data, _mode in sorted(members):
        if not name.startswith(f"{ENGINE}/plugins/module_utils/"):
            build.update(name.encode() + b"\0" + data + b"\0")
    for rel in BUILD_INPUTS:
        with open(os.path.join(root, rel), "rb") as source:
            build.update(rel.encode() + b"\0" + source.read() + b"\0")
    ident = {"version": version.BERTH_VERSION, "digest": digest, "build": build.hexdigest()[:16]}
    sources = os.path.join(os.path.expanduser(cache), "sources", f"{ident['build']}.tar")
    if not os.path.exists(sources):
        write_tar(sources, members, compress=False)
    return ident


# --- wheels ---------------------------------------------------------------------------------------------

def _platforms(target: dict) -> list[str]:
    """Every manylinux tag the host's glibc accepts (newest wheels first), for pip's --platform."""
    machine = target["machine"]
    major, minor = (int(part) for part in target["glibc"].split(".")[:2])
    tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 16, -1)]
    return [*tags, f"manylinux2014_{machine}"]


def _download(target: dict, requirements: list[str], wheels: str) -> list[str]:
    """The wheel files for ``target``, from the cache or ``pip download``; recorded per requirements."""
    record = os.path.join(wheels, "resolved.json")
    key = "\n".join(requirements)
    try:
        with open(record, encoding="utf-8") as handle:
            resolved = json.load(handle)
        if resolved["requirements"] == key and all(os.path.exists(os.path.join(wheels, w)) for w in resolved["wheels"]):
            return [os.path.join(wheels, w) for w in resolved["wheels"]]
    except (OSError, ValueError, KeyError):
        pass
    os.makedirs(wheels, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".download-", dir=wheels)
    try:
        tag = target["python_version"].replace(".", "")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--python-version", target["python_version"], "--implementation", "cp",
               "--abi", f"cp{tag}", "--abi", "abi3", "--abi", "none", "-d", staging]
        for name in _platforms(target):
            cmd += ["--platform", name]
        proc = subprocess.run([*cmd, *requirements], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise PackError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "pip download failed")
        names = sorted(n for n in os.listdir(staging) if n.endswith(".whl"))
        for name in names:
            os.replace(os.path.join(staging, name), os.path.join(wheels, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _write_atomic(record, json.dumps({"requirements": key, "wheels": names}).encode())
    return [os.path.join(wheels, n) for n in names]


def _wheel_members(path: str) -> list[tuple[str, bytes, int]]:
    """A wheel's files as installed into site-packages (``.data/purelib|platlib`` moved to the top)."""
    members = []
    with zipfile.ZipFile(path) as wheel:
        for info in wheel.infolist():
            name = info.filename
            if info.is_dir():
                continue
            parts = name.split("/")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue   # scripts and headers: nothing an import needs
                name = "/".join(parts[2:])
            members.append((f"vendor/{name}", wheel.read(info), 0o755 if (info.external_attr >> 16) & 0o111 else 0o644))
    return members


def _controller_matches(target: dict) -> bool:
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    libc, version = platform.libc_ver()
    return (sys.implementation.name == "cpython" and host == target["python_version"]
            and platform.machine() == target["machine"] and libc == "glibc"
            and tuple(map(int, version.split(".")[:2])) <= tuple(map(int, target["glibc"].split(".")[:2])))


def _installed_members(requirements: list[str]) -> list[tuple[str, bytes, int]]:
    """The requirements' installed distributions (and what they require), as vendor members."""
    from importlib import metadata

    todo = [re.match(r"[A-Za-z0-9._-]+", r).group(0) for r in requirements]
    seen: set[str] = set()
    members = []
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            if len(seen) <= len(requirements):
                raise PackError(f"{name} is not installed in {sys.executable}") from exc
            continue   # a dependency behind a marker this python does not need
        todo += [re.match(r"[A-Za-z0-9._-]+", r).group(0) for r in dist.requires or () if "extra ==" not in r]
        for file in dist.files or ():
            rel = str(file)
            if rel.startswith("..") or "__pycache__" in rel or rel.endswith(".pyc"):
                continue
            with open(dist.locate_file(file), "rb") as handle:
                members.append((f"vendor/{rel}", handle.read(), 0o644))
    return members


def vendor_members(target: dict, requirements: list[str], cache: str) -> list[tuple[str, bytes, int]]:
    wheels = os.path.join(cache, "wheels", target["target"])
    try:
        return [m for wheel in _download(target, requirements, wheels) for m in _wheel_members(wheel)]
    except (PackError, OSError) as exc:
        if _controller_matches(target):
            return _installed_members(requirements)
        raise PackError(
            f"cannot get wheels of {', '.join(requirements)} for {target['target']} (python "
            f"{target['python_version']}, {target['machine']}, glibc {target['glibc']}): {exc}. Give the controller's "
            f"pip a package index or find-links with them, or put them in {wheels} "
            f"(pip download --only-binary=:all: --python-version {target['python_version']} ...)") from exc


# --- the artifact ---------------------------------------------------------------------------------------

def engine_members(cache: str, build: str) -> list[tuple[str, bytes, int]]:
    """The sources ``snapshot`` kept for ``build``."""
    path = os.path.join(cache, "sources", f"{build}.tar")
    try:
        with tarfile.open(path) as tar:
            return [(m.name, tar.extractfile(m).read(), m.mode) for m in tar.getmembers() if m.isfile()]
    except OSError as exc:
        raise PackError(f"{path} is missing ({exc}); run the play again") from exc


def write_tar(path: str, members: list[tuple[str, bytes, int]], compress: bool = True) -> None:
    """Deterministic: the same members give the same bytes (sorted, mtime 0, owner 0, no gzip name/time)."""
    dirs = {"/".join(m[0].split("/")[:i]) for m in members for i in range(1, m[0].count("/") + 1)}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        entries: list[tuple[str, bytes | None, int]] = [(d, None, 0o755) for d in dirs]
        for name, data, mode in sorted(entries + list(members), key=lambda e: e[0]):
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = mode, 0, 0, 0, "", ""
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    if compress:
        data = gzip.compress(data, compresslevel=6, mtime=0)
    _write_atomic(path, data)


def _write_atomic(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)   # concurrent plays build the same bytes: the last rename wins harmlessly


def pack(spec: dict) -> dict[str, dict[str, str]]:
    cache = os.path.expanduser(spec["cache"])
    artifacts = {}
    for target in spec["targets"]:
        path = os.path.join(cache, "artifacts", f"berth-{spec['build']}-{target['target']}.tar.gz")
        if not os.path.exists(path):
            manifest = {"version": spec["version"], "digest": spec["digest"], "build": spec["build"],
                        "target": target["target"], "requirements": spec["requirements"]}
            members = engine_members(cache, spec["build"]) + vendor_members(target, spec["requirements"], cache)
            members.append(("engine.json", json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n", 0o644))
            write_tar(path, members)
        artifacts[target["target"]] = path
    return {"artifacts": artifacts}


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["id"]:
            result: dict = snapshot(argv[1], argv[2], argv[3:])
        elif argv[:1] == ["pack"]:
            result = pack(json.loads(argv[1]))
        else:
            raise PackError("usage: berth_pack.py id ROOT CACHE REQUIREMENT... | pack SPEC_JSON")
    except PackError as exc:
        print(f"berth.engine.host: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
