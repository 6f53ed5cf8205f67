"""Pull benchmark (issue 4 figures), side by side in one run.

Pushes the 3-layer Debian fixture image (~100 MB, debootstrap; cached) to a
local docker-registry on 127.0.0.1, then times, median of N runs each:
  berth pull (engine API, fresh state root each run, on the root disk),
  berth re-pull of a present image (pull: always → manifest check only),
  podman pull (fresh --root each run), docker pull (a private dockerd, image
removed between runs; when dockerd is installed), skopeo copy to an OCI dir
(no unpack); and reports berth's peak RSS during a pull, and the disk used by
two images sharing a base (du of a store holding both vs each alone).

Run: .build/venv/bin/python bench/bench_pull.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / ".build" / "collections"), str(REPO)]

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import RegistryOptions
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.pull import Puller
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.service import make_client
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from bench.peers import private_dockerd
from tests.support.debian import build_debian_layout
from tests.support.images import push, read_layout, run
from tests.support.registry import start_registry

SCRATCH = Path("/var/tmp/berth-bench")  # the root disk, where a user's /var/lib/berth would be


def berth_pull(name: str, root: Path) -> dict:
    engine = Engine.open(root / "state", root / "run")
    store = ImageStore(engine)
    ref = parse_reference(name)
    puller = Puller(store, make_client(ref.registry, RegistryOptions()))
    start = time.perf_counter()
    puller.pull(ref)
    return {"seconds": time.perf_counter() - start, "fetched": puller.stats.fetched}


def child_pull_rss(name: str, root: Path) -> float:
    """Peak RSS (MB) of a separate process doing one pull."""
    code = (f"import sys; sys.path[:0]={[str(REPO / '.build' / 'collections'), str(REPO)]!r};"
            "import bench.bench_pull as b, resource, pathlib;"
            f"b.berth_pull({name!r}, pathlib.Path({str(root)!r}));"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def fresh(base: Path, label: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=base))


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def derived_image(base, work: Path):  # type: ignore[no-untyped-def]
    """The Debian image plus one small layer: shares all of Debian's layers."""
    import io
    import tarfile

    layout = work / "derived-oci"
    shutil.copytree(base.layout, layout)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"an app on a shared base\n"
        info = tarfile.TarInfo("opt/app.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (work / "app.tar").write_bytes(buffer.getvalue())
    run("umoci", "raw", "add-layer", "--image", f"{layout}:{base.tag}", "--tag", "derived", work / "app.tar")
    return read_layout(layout, "derived")


def peer_pulls(name: str, work: Path, runs: int) -> dict:
    results: dict = {}
    if shutil.which("podman"):
        results["podman_pull_s"] = median([timed(
            ["podman", "--root", str(fresh(work, "podman")), "--runroot", tempfile.mkdtemp(prefix="bp-"),
             "--storage-driver", "overlay", "pull", "--tls-verify=false", "-q", name]) for _run in range(runs)])
    with private_dockerd(fresh(work, "docker")) as docker:
        if docker is not None:
            times = []
            for _run in range(runs):
                times.append(timed([*docker, "pull", "-q", name]))
                subprocess.run([*docker, "rmi", "-f", name], capture_output=True, check=True)
            results["docker_pull_s"] = median(times)
    if shutil.which("skopeo"):
        results["skopeo_copy_oci_s"] = median([timed(
            ["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{name}",
             f"oci:{fresh(work, 'skopeo')}/layout:x"]) for _run in range(runs)])
    return results


def shared_base(registry_host: str, work: Path) -> dict:
    base, derived = f"{registry_host}/bench/debian:1", f"{registry_host}/bench/derived:1"
    sizes = {}
    for label, names in (("base_only", [base]), ("derived_only", [derived]), ("both", [base, derived])):
        root = fresh(work, label)
        for name in names:
            berth_pull(name, root)
        sizes[label] = du(root / "state")
    return {"store_bytes": sizes, "saved_by_sharing_bytes": sizes["base_only"] + sizes["derived_only"] - sizes["both"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=SCRATCH))
    registry = start_registry(work / "registry")
    results: dict = {}
    try:
        debian = build_debian_layout()
        push(debian, registry, "bench/debian", "1")
        push(derived_image(debian, work), registry, "bench/derived", "1")
        name = f"{registry.host}/bench/debian:1"
        results["image"] = {"layers": len(debian.layer_digests), "name": name,
                            "compressed_bytes": sum(du(debian.layout / "blobs/sha256" / d.split(":")[1])
                                                    for d in debian.layer_digests)}
        results["berth_pull_s"] = median([berth_pull(name, fresh(work, "berth"))["seconds"]
                                          for _run in range(args.runs)])
        warm = fresh(work, "warm")
        berth_pull(name, warm)
        results["berth_repull_s"] = median([berth_pull(name, warm)["seconds"] for _run in range(args.runs)])
        results["berth_pull_peak_rss_mb"] = round(child_pull_rss(name, fresh(work, "rss")), 1)
        results.update(peer_pulls(name, work, args.runs))
        results["shared_base"] = shared_base(registry.host, work)
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
