"""What a build step runs on: a RUN's container, and the scratch overlays
COPY/ADD/WORKDIR write through.

A RUN is an ordinary container of this engine (record, bundle, runtime,
cgroup, the shared monitor), made from a ``ContainerSpec`` on the step's
parent image with ``network none`` unless the Dockerfile or the task says
otherwise, the image's VOLUMEs left unmounted (BuildKit keeps what a RUN
writes under them) and no entrypoint. Its writable layer — the overlay
upper dir — becomes the step's layer, then the container is removed,
whatever happened.

Scratch directories are ``<tmp>/build-<pid>-<random>``: a build killed
mid-step leaves one, and the next build's ``sweep_leftovers`` unmounts and
removes those whose process is gone, with the build containers (label
``berth.build.pid``) of dead builds. It is not an engine recovery step: that
would make every task of every kind read every container record.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import BerthError, InvalidInput
from ..syscalls import MNT_DETACH, MS_RDONLY, default_syscalls
from .model import SCRATCH_PREFIX

BUILD_LABEL = "berth.build.pid"
OUTPUT_LINES = 12
RUN_TIMEOUT = 24 * 3600.0


@dataclass
class Scratch:
    """A private directory for one step: upper/work/merged and mount points."""

    path: Path

    @classmethod
    def make(cls, engine: Engine) -> Scratch:
        engine.layout.tmp.mkdir(parents=True, exist_ok=True)
        return cls(Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=engine.layout.tmp)))

    def dir(self, name: str) -> Path:
        path = self.path / name
        path.mkdir(mode=0o755, exist_ok=True)
        return path

    def remove(self) -> None:
        _unmount_below(self.path)
        shutil.rmtree(self.path, ignore_errors=True)


@contextlib.contextmanager
def writable_root(scratch: Scratch, lowerdirs: list[Path]) -> Iterator[tuple[Path, Path]]:
    """An overlay of ``lowerdirs`` with a fresh upper, mounted; yields
    (merged, upper). Unmounted on exit, so the upper is complete when read."""
    upper, work, merged = scratch.dir("upper"), scratch.dir("work"), scratch.dir("merged")
    lowers = [str(p) for p in lowerdirs] or [str(scratch.dir("empty"))]
    calls = default_syscalls()
    # redirect_dir and metacopy off: the upper must hold plain files and dirs a tar can carry
    calls.mount("overlay", merged, "overlay", 0,
                f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work},redirect_dir=off,metacopy=off")
    try:
        yield merged, upper
    finally:
        calls.umount2(merged, MNT_DETACH)


@contextlib.contextmanager
def readonly_root(scratch: Scratch, name: str, lowerdirs: list[Path]) -> Iterator[Path]:
    """An image's merged view, read-only (COPY --from, RUN --mount from=)."""
    target = scratch.dir(name)
    if not lowerdirs:   # scratch: an empty directory is its whole tree
        yield target
        return
    calls = default_syscalls()
    if len(lowerdirs) == 1:
        calls.mount(str(lowerdirs[0]), target, None, 0x1000 | 0x4000)   # MS_BIND | MS_REC
        calls.mount(None, target, None, 0x1000 | 0x20 | MS_RDONLY)       # remount read-only
    else:
        calls.mount("overlay", target, "overlay", MS_RDONLY, f"lowerdir={':'.join(str(p) for p in lowerdirs)}")
    try:
        yield target
    finally:
        calls.umount2(target, MNT_DETACH)


def _unmount_below(path: Path) -> None:
    calls = default_syscalls()
    mounted = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    prefix = str(path) + "/"
    for target in sorted((m for m in mounted if m.startswith(prefix)), key=len, reverse=True):
        with contextlib.suppress(OSError):
            calls.umount2(target, MNT_DETACH)


@dataclass(frozen=True)
class RunRequest:
    image_id: str
    argv: list[str]
    env: dict[str, str]
    user: str | None
    workdir: str | None
    network: str
    mounts: list[dict[str, Any]]
    where: str                   # "<Dockerfile>:<line>" for errors
    output: Any = None           # called with each chunk of the command's output, as it comes


def run_container(engine: Engine, request: RunRequest) -> Path:
    """Run the step's command to completion; a fresh scratch directory (the
    caller removes it) laid out like the bundle: the container's upper dir,
    moved there, and its config.json (which names the mount points)."""
    from ..containers.service import ContainerService
    from ..containers.spec import ContainerSpec

    service = ContainerService(engine)
    name = f"berth-build-{secrets.token_hex(6)}"
    network = {"network_mode": request.network} if request.network in ("none", "host") else \
        {"network_mode": request.network, "networks": ({"name": request.network},)}
    spec = ContainerSpec(request.image_id, command=tuple(request.argv), entrypoint=(), env=request.env,
                         user=request.user or None, working_dir=request.workdir or None,
                         labels={BUILD_LABEL: str(os.getpid())}, mounts=tuple(request.mounts), **network)
    document = service.create(name, spec, image_volumes=False)
    try:
        service.start(document["id"])
        if request.output is not None:
            service.follow(document["id"], lambda entry: request.output(str(entry.get("log", ""))))
        finished = service.wait(document["id"], timeout=RUN_TIMEOUT)
        code = (finished.get("state") or {}).get("exit_code")
        if code != 0:
            raise _run_failed(service, document["id"], request, code)
        scratch = Scratch.make(engine)
        upper = service.store.directory(document["id"]) / "bundle" / "upper"
        kept = scratch.path / "upper"
        os.rename(upper, kept)   # same file system; the container's removal then skips it
        shutil.copyfile(upper.parent / "config.json", scratch.path / "config.json")   # its mounts: the stubs
        return scratch.path
    finally:
        with contextlib.suppress(BerthError, OSError):
            service.remove(document["id"], force=True)


def _run_failed(service: Any, container_id: str, request: RunRequest, code: Any) -> InvalidInput:
    text = "".join(str(entry.get("log", "")) for entry in service.logs(container_id, tail=OUTPUT_LINES * 4))
    shown = "\n".join(text.splitlines()[-OUTPUT_LINES:]) or "(no output)"
    return InvalidInput(f"{request.where}: RUN {' '.join(request.argv)!s} failed with exit code {code}",
                        field="build.dockerfile", hint=f"its last output lines:\n{shown}")


def sweep_leftovers(engine: Any, _sweep: bool | None) -> dict[str, int]:
    """Scratch directories and build containers of builds whose process died."""
    if engine.read_only:
        return {}
    removed = 0
    tmp = engine.layout.tmp
    for entry in tmp.glob(f"{SCRATCH_PREFIX}*") if tmp.is_dir() else ():
        pid = entry.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            Scratch(entry).remove()
            removed += 1
    return {"build_scratch": removed, "build_containers": _sweep_containers(engine)}


def _sweep_containers(engine: Any) -> int:
    dead = [doc["id"] for doc in engine.metadata("containers").list()
            if _dead_builder(((doc.get("spec") or {}).get("labels") or {}).get(BUILD_LABEL))]
    if not dead:   # the common case: no import of the container service at all
        return 0
    from ..containers.service import ContainerService

    service = ContainerService(engine)
    removed = 0
    for container_id in dead:
        with contextlib.suppress(BerthError, OSError):
            service.remove(container_id, force=True)
            removed += 1
    return removed


def _dead_builder(pid: Any) -> bool:
    return isinstance(pid, str) and pid.isdigit() and not _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
