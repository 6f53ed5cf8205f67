"""Hostile image *content*, end to end: crafted layers on the busybox
fixture, pushed with skopeo to the test registry, pulled through the engine
and run as containers with the `berth` CLI. Each test looks from inside the
container (cat, id, ls) and then at the host: the canary beside the test is
unchanged and no host file reached a volume.

* VOLUME /x/etc with /x -> /: the volume holds the image's /etc, never the host's;
* /etc/passwd linked to a host file, or to '../../../etc/shadow': the image's
  files are read (or none), never the host's;
* /etc/passwd a FIFO (or huge): no hang, Docker's numeric-user rule, a clear error;
* VOLUME /proc, and mounts over /proc/... or /dev: refused with the field named.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import RegistryOptions
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.pull import Puller
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.service import make_client
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.integration.test_containers import Berth
from tests.support.hostile import Canary, Entry, hostile_layout, tar_layer
from tests.support.images import OciImage, push
from tests.support.networks import drop_networks
from tests.support.runtime import mounts_under, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
SOMEUSER_HOST = "someuser:x:4242:4242:from the host:/host:/bin/sh\n"
SOMEUSER_IMAGE = "someuser:x:777:778:from the image:/home/someuser:/bin/sh\n"
# the ids from the kernel: `id` would open /etc/passwd, and a FIFO there blocks it (as in Docker)
IDS = "grep -E '^(Uid|Gid):' /proc/self/status"


def ids(stdout: str) -> list[str]:
    """[uid, gid] from IDS' output."""
    return [line.split()[1] for line in stdout.splitlines()]


class Hostile(Berth):
    """The CLI on a fresh store, plus a way to pull a crafted image into it."""

    def __init__(self, base: Path, registry: Any, busybox: OciImage) -> None:
        super().__init__(base)
        self.base, self.registry, self.busybox = base, registry, busybox
        self.engine = Engine.open(self.state, self.run)

    def image(self, repo: str, entries: list[Entry], config: dict[str, Any] | None = None) -> str:
        layout = hostile_layout(self.base / "layouts", [tar_layer(entries)], base=self.busybox, config=config,
                                tag=repo)
        push(layout, self.registry, f"hostile/{repo}", "1")
        ref = parse_reference(f"{self.registry.host}/hostile/{repo}:1")
        Puller(ImageStore(self.engine), make_client(ref.registry, RegistryOptions())).pull(ref)
        return f"{self.registry.host}/hostile/{repo}:1"

    def sh(self, image: str, script: str, *args: str, name: str = "c") -> Any:
        result = self("run", "--name", name, "--network", "none", *args, image, "sh", "-c", script, check=False)
        self("rm", "-f", name, check=False)
        return result

    def volume_dirs(self) -> list[Path]:
        return [Path(v["mountpoint"]) for v in VolumeService(self.engine).list()]


@pytest.fixture
def berth(tmp_path: Path, registry: Any, busybox_image: OciImage) -> Iterator[Hostile]:
    tool = Hostile(tmp_path, registry, busybox_image)
    yield tool
    for name in json.loads(tool("ps", "-a", "--json").stdout or "{}"):
        tool("rm", "-f", name, check=False)
    assert wait_for(lambda: tool.monitor_pid() is None, timeout=10), "the monitor did not exit"
    drop_networks(tool.engine)
    for record in VolumeService(tool.engine).list():
        VolumeService(tool.engine).remove(record["name"])
    assert not mounts_under(tmp_path)


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Canary]:
    planted = Canary.plant(tmp_path / "host")
    yield planted
    assert planted.intact(), "a host file beside the test was read into, changed or planted beside"


def no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stderr, result.stderr


def test_volume_through_a_link_to_root_holds_the_images_etc(berth: Hostile, canary: Canary) -> None:
    image = berth.image("xetc", [Entry("x", "symlink", link="/"),
                                 Entry("etc/berth-marker", data=b"the image's own /etc\n"),
                                 Entry("y", "symlink", link=str(canary.directory))],
                        config={"Volumes": {"/x/etc": {}, "/y": {}}})
    result = berth.sh(image, "cat /etc/berth-marker; test -e /etc/shadow || echo no-shadow; "
                             "cat /etc/passwd; ls -A /y | wc -l")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["the image's own /etc", "no-shadow"]
    assert "nobody:x:65534:65534:nobody:/nonexistent:/bin/false" in lines and lines[-1].strip() == "0"
    dirs = berth.volume_dirs()
    assert len(dirs) == 2
    copied = {d: set(os.listdir(d)) for d in dirs}
    etc = next(d for d, names in copied.items() if "berth-marker" in names)
    assert {"passwd", "group", "motd", "berth-marker"} <= copied[etc]
    assert not copied[etc] & {"shadow", "gshadow", "ssh", "fstab", "os-release"}, copied[etc]   # the host's
    assert (etc / "passwd").read_text().startswith("root:x:0:0:root:/root:/bin/sh\nnobody:")   # the image's
    other = next(d for d in dirs if d != etc)
    assert copied[other] == set(), "the host directory the link named was copied"


@pytest.mark.parametrize("how", ["host-absolute", "dotdot-shadow"])
def test_passwd_linked_out_of_the_image_reads_the_images_files(berth: Hostile, canary: Canary, tmp_path: Path,
                                                               how: str) -> None:
    host_passwd = tmp_path / "host-passwd"
    host_passwd.write_text(SOMEUSER_HOST)
    link = str(host_passwd) if how == "host-absolute" else "../../../etc/shadow"
    image = berth.image(f"pw-{how}", [Entry("etc/passwd", "symlink", link=link),
                                      Entry("etc/shadow", data=SOMEUSER_IMAGE.encode(), mode=0o600)])
    result = berth.sh(image, IDS, "--user", "someuser")
    no_traceback(result)
    if how == "host-absolute":   # the image has no such file: no passwd at all, so no such user
        assert result.returncode != 0 and "unable to find user someuser" in result.stderr
        numeric = berth.sh(image, IDS, "--user", "4242")
        assert numeric.returncode == 0 and ids(numeric.stdout) == ["4242", "0"], numeric.stderr
    else:                        # re-rooted: the image's own /etc/shadow, never the host's
        assert result.returncode == 0 and ids(result.stdout) == ["777", "778"], result.stderr
    assert host_passwd.read_text() == SOMEUSER_HOST


def test_passwd_as_a_fifo_neither_hangs_nor_breaks_numeric_users(berth: Hostile, canary: Canary) -> None:
    image = berth.image("fifo", [Entry("etc/passwd", "fifo"), Entry("etc/group", "fifo")])
    numeric = berth.sh(image, IDS, "--user", "1000:1000")
    assert numeric.returncode == 0 and ids(numeric.stdout) == ["1000", "1000"], numeric.stderr
    named = berth.sh(image, "true", "--user", "someuser")
    no_traceback(named)
    assert named.returncode != 0 and "unable to find user someuser" in named.stderr
    berth("run", "-d", "--name", "live", "--network", "none", image, "sleep", "60")
    inside = berth("exec", "-u", "1000", "live", "sh", "-c", IDS, check=False)
    assert inside.returncode == 0 and ids(inside.stdout) == ["1000", "0"], inside.stderr
    refused = berth("exec", "-u", "someuser", "live", "true", check=False)
    no_traceback(refused)
    assert refused.returncode != 0 and "unable to find user someuser" in refused.stderr


def test_a_huge_passwd_is_refused_naming_the_file_and_the_image(berth: Hostile) -> None:
    image = berth.image("huge", [Entry("etc/passwd", data=b"#" * (2 << 20))])
    result = berth.sh(image, "true")
    no_traceback(result)
    assert result.returncode != 0
    assert "/etc/passwd in image" in result.stderr and "hostile/huge:1" in result.stderr, result.stderr
    assert "larger than 1048576 bytes" in result.stderr


@pytest.mark.parametrize("volume", ["/proc", "/sys", "/dev", "/proc/sys/kernel", "/x/../proc/1"])
def test_an_image_volume_over_what_the_runtime_owns_fails_naming_the_image(berth: Hostile, volume: str) -> None:
    repo = "vol-" + volume.strip("/").replace("/", "-").replace(".", "")
    image = berth.image(repo, [Entry("marker", data=b"x")], config={"Volumes": {volume: {}}})
    result = berth.sh(image, "true")
    no_traceback(result)
    assert result.returncode != 0 and f"image {image}'s VOLUME" in result.stderr, result.stderr
    assert json.loads(berth("ps", "-a", "--json").stdout or "{}") == {}   # nothing half-made
    assert berth.volume_dirs() == []


@pytest.mark.parametrize(("args", "field"), [(["-v", "/srv:/proc/sys"], "volumes"),
                                             (["--mount", "type=tmpfs,target=/dev"], "mounts"),
                                             (["--tmpfs", "/sys:size=1m"], "tmpfs"),
                                             (["-v", "data:/data/../../proc"], "volumes")])
def test_mounts_over_what_the_runtime_owns_are_refused(berth: Hostile, args: list[str], field: str) -> None:
    image = berth.image("plain", [Entry("marker", data=b"x")])
    result = berth.sh(image, "true", *args)
    no_traceback(result)
    assert result.returncode != 0 and f"{field}:" in result.stderr and "cannot mount" in result.stderr, \
        result.stderr
    cpuinfo = berth.sh(image, "head -c0 /proc/cpuinfo && echo ok", "-v", "/proc/cpuinfo:/proc/cpuinfo:ro")
    assert cpuinfo.returncode == 0 and cpuinfo.stdout == "ok\n", cpuinfo.stderr   # runc's lxcfs allowlist
