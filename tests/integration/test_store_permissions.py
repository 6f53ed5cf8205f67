"""The store as an unprivileged local user sees it (CVE-2021-41091 class):
no record, bundle, env secret or writable layer readable, no setuid file in a
container's writable layer executable through the host path — and a store
made with an earlier berth's modes is fixed on open. Inside the container,
a non-root user still reads its hosts files and traverses its root."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.cli import BerthCli
from tests.support.peers import needs_peer
from tests.support.runtime import make_rootfs, mounts_under, wait_for

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root"), needs_peer("setpriv")]
IMAGE = "local/box:1"
SECRET = "s3cr3t-token-4f1d"
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


class Store(BerthCli):
    def container(self, name: str) -> Path:
        return self.state / "containers" / self.inspect(name)["id"]


def as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run argv as uid/gid 65534. Through ``env``: setpriv keeps root's capabilities
    until its own execve, so the command is exec'd by a process that has none."""
    return subprocess.run([*NOBODY, "/usr/bin/env", *argv], capture_output=True, text=True, timeout=30,
                          check=False, cwd="/")


@pytest.fixture
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    # pytest's tmp dirs are 0700: the store must sit where nobody *could* reach it, so that
    # only its own modes keep them out. A private /tmp dir, opened up, removed afterwards.
    base = Path(tempfile.mkdtemp(prefix="berth-perm-", dir="/tmp"))
    os.chmod(base, 0o755)
    tool = Store(base)
    try:
        engine = Engine.open(tool.state, tool.run)
        rootfs = make_rootfs(tmp_path_factory.mktemp("box"))
        import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sh"]), parse_reference(IMAGE))
        yield tool
    finally:
        listed = tool("ps", "-a", "--json", check=False).stdout or "{}"
        for name in json.loads(listed):
            tool("rm", "-f", name, check=False)
        assert wait_for(lambda: tool.monitor_pid() is None, timeout=10), "the monitor did not exit"
        assert not mounts_under(base)
        shutil.rmtree(base)


def _plant_setuid(upper: Path) -> Path:
    """A setuid-root copy of `id` in the container's writable layer."""
    planted = upper / "suid-id"
    shutil.copy2(shutil.which("id") or "/usr/bin/id", planted)
    os.chown(planted, 0, 0)
    os.chmod(planted, 0o4755)
    return planted


def _assert_private(store: Store, name: str) -> None:
    directory = store.container(name)
    record = next((store.state / "metadata" / "containers").glob("*.json"))
    config = directory / "bundle" / "config.json"
    upper = directory / "bundle" / "upper"
    assert SECRET in config.read_text() and SECRET in record.read_text()   # root sees them: the test is real
    assert as_nobody("ls", str(store.state / "metadata" / "containers")).returncode != 0
    for path in (record, config):
        denied = as_nobody("cat", str(path))
        assert denied.returncode != 0 and SECRET not in denied.stdout
    grep = as_nobody("grep", "-rs", SECRET, str(store.state), str(store.run))
    assert SECRET not in grep.stdout
    assert as_nobody("ls", str(upper)).returncode != 0
    planted = _plant_setuid(upper)
    escalated = as_nobody(str(planted), "-u")
    assert escalated.returncode != 0 and escalated.stdout.strip() != "0", escalated
    rootfs_path = directory / "bundle" / "rootfs" / planted.name
    assert as_nobody(str(rootfs_path), "-u").stdout.strip() != "0"
    planted.unlink()


def test_an_unprivileged_user_reads_nothing(store: Store) -> None:
    store("run", "-d", "--name", "secret", "--network", "none", "-e", f"TOKEN={SECRET}", IMAGE, "sleep", "300")
    _assert_private(store, "secret")
    for path in (store.state, store.run, store.state / "containers", store.state / "metadata"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


def test_a_non_root_container_user_still_works(store: Store) -> None:
    result = store("run", "--rm", "--name", "plain", "--network", "none", "-u", "65534:65534", IMAGE,
                   "sh", "-c", "cat /etc/hosts /etc/resolv.conf /etc/hostname >/dev/null && ls / >/dev/null "
                   "&& echo ok")
    assert result.stdout.strip() == "ok", result.stderr


def test_a_store_with_old_modes_is_fixed_on_open(store: Store) -> None:
    store("create", "--name", "old", "--network", "none", "-e", f"TOKEN={SECRET}", IMAGE, "true")
    directory = store.container("old")
    # what an earlier berth left: world-readable dirs and files (not inside image or volume content)
    skeleton = ("metadata", "containers", "content", "snapshots", "locks", "volumes")
    loosen = [store.state, store.run, *(store.state / name for name in skeleton),
              store.state / "metadata" / "containers", directory, directory / "bundle"]
    for path in loosen:
        os.chmod(path, 0o755)
    for path in [*(store.state / "metadata" / "containers").glob("*.json"), directory / "bundle" / "config.json",
                 store.state / "layout-version"]:
        os.chmod(path, 0o644)
    assert SECRET in as_nobody("cat", str(directory / "bundle" / "config.json")).stdout   # the old exposure
    store("recover")   # any engine call that may write opens (and so tightens) the store
    _assert_private(store, "old")
