"""Pull of the 3-layer ~95 MB Debian fixture image (tests/support/debian.py,
cached) from a local docker-registry on 127.0.0.1 into a fresh store, as a user
would: `bin/berth pull` (fresh --state-root each run, on the root disk), podman
(fresh --root), docker (a private dockerd, the image removed between runs) and
`skopeo copy` to an OCI dir (no unpack). Each pull a whole process timed from
outside; bench/bench_pull.py's registry and push are reused.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.bench_pull import du
from bench.harness import REPO, VENV_PYTHON, Bench, Context, PreconditionFailed, attempt, interleave, timed_ms
from bench.peers import private_dockerd
from tests.support.debian import CACHE, build_debian_layout
from tests.support.images import OciImage, build_busybox_layout, push
from tests.support.registry import start_registry

ENGINES = ("berth", "podman", "docker", "skopeo")
Pull = Callable[[int], float]   # run number -> seconds of one pull into a fresh store


def fresh(ctx: Context, label: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=ctx.workdir("pull")))


def drop(path: Path) -> None:
    """A store gone, with any mount a peer left under it (podman's overlay dir)."""
    subprocess.run(["umount", "-R", "-l", str(path)], capture_output=True, check=False)
    shutil.rmtree(path, ignore_errors=True)


def berth_pull(ctx: Context, name: str) -> Pull:
    def pull(_number: int) -> float:
        root = fresh(ctx, "berth")
        try:
            return timed_ms([VENV_PYTHON, str(REPO / "bin" / "berth"), "--state-root", str(root / "state"),
                             "--run-root", str(root / "run"), "pull", "-q", name]) / 1000
        finally:
            drop(root)
    return pull


def podman_pull(ctx: Context, name: str) -> Pull:
    def pull(_number: int) -> float:
        root, run_root = fresh(ctx, "podman"), Path(tempfile.mkdtemp(prefix="bp-"))  # run roots must be short
        try:
            return timed_ms(["podman", "--root", str(root), "--runroot", str(run_root), "--storage-driver",
                             "overlay", "pull", "--tls-verify=false", "-q", name]) / 1000
        finally:
            drop(root)
            drop(run_root)
    return pull


def docker_pull(docker: list[str], name: str) -> Pull:
    def pull(_number: int) -> float:
        try:
            return timed_ms([*docker, "pull", "-q", name]) / 1000
        finally:
            subprocess.run([*docker, "rmi", "-f", name], capture_output=True, check=False)
    return pull


def skopeo_pull(ctx: Context, name: str) -> Pull:
    def pull(_number: int) -> float:
        target = fresh(ctx, "skopeo")
        try:
            return timed_ms(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{name}",
                             f"oci:{target}/layout:x"]) / 1000
        finally:
            drop(target)
    return pull


def step(bench: Bench, engine: str, pull: Pull, runs: int) -> Callable[[int], None]:
    def one(_index: int) -> None:
        if engine not in bench.failures:
            attempt([bench], engine, lambda: [bench.add(engine, pull(n)) for n in range(runs)])
    return one


def image(ctx: Context) -> tuple[OciImage, str]:
    """The Debian fixture; in smoke mode a busybox image when the fixture is
    not cached yet (making it takes minutes)."""
    if ctx.smoke and not (CACHE / "debian-oci" / "index.json").exists():
        return build_busybox_layout(ctx.workdir("pull-busybox")), "busybox (smoke: the Debian fixture is not cached)"
    return build_debian_layout(), "the 3-layer Debian bookworm minbase fixture"


def judge(bench: Bench) -> None:
    berth, docker = bench.median("berth"), bench.median("docker")
    if berth is None or docker is None:
        bench.judge(None, "no figure for berth or docker")
    else:
        bench.judge(berth < docker, f"berth {berth:.2f} s, docker {docker:.2f} s (goal: berth < docker)")


def run(ctx: Context) -> None:
    runs = ctx.scale(2, 1)
    registry = start_registry(ctx.workdir("pull-registry"))
    try:
        layout, what = image(ctx)
        push(layout, registry, "bench/debian", "1")
        name = f"{registry.host}/bench/debian:1"
        size = sum(du(layout.layout / "blobs/sha256" / d.split(":")[1]) for d in layout.layer_digests)
        bench = ctx.bench("pull", "pull into a fresh store", "s",
                          f"{what}: {len(layout.layer_digests)} layers, {size / 1e6:.0f} MB compressed, from a local "
                          f"docker-registry on 127.0.0.1; fresh store on /var/tmp each run; {runs} pulls per round",
                          "< docker")
        bench.extra["compressed_bytes"] = size
        with private_dockerd(ctx.workdir("pull-dockerd")) as docker:
            pulls: dict[str, Pull] = {"berth": berth_pull(ctx, name)}
            for engine, make in (("podman", lambda: podman_pull(ctx, name)), ("skopeo", lambda: skopeo_pull(ctx, name)),
                                 ("docker", lambda: docker_pull(docker, name) if docker else None)):
                pull = make() if shutil.which(engine) else None
                if pull is None:
                    bench.fail(engine, f"{engine}: not installed")
                else:
                    pulls[engine] = pull
            interleave(ctx, {engine: step(bench, engine, pull, runs) for engine, pull in pulls.items()})
        judge(bench)
    except PreconditionFailed as error:
        raise RuntimeError(f"pull: preparing the image failed: {error}") from error
    finally:
        registry.stop()
