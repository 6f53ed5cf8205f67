"""More of the runtime-spec under both runtimes: seccomp, devices, mount
propagation, and a bundle written by umoci (not by runc or berth)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import umoci_unpack
from tests.support.peers import needs_peer
from tests.support.runtime import (
    BERTH_RUNTIME,
    berth,
    container_leaks,
    make_rootfs,
    mounts_under,
    run_both,
    runc_spec,
    sections,
    wait_for,
    write_config,
)

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root"), needs_peer("runc")]


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rootfs(tmp_path_factory.mktemp("features-rootfs"))


def _both(tmp_path: Path, bundle: Path, name: str) -> dict[str, str]:
    """Both runtimes must print exactly the same; berth's report by section."""
    runc_out, berth_out = run_both(tmp_path, bundle, name)
    assert berth_out == runc_out
    return sections(berth_out)


def test_seccomp_profile_is_enforced_like_runc(tmp_path: Path, rootfs: Path) -> None:
    bundle = tmp_path / "bundle"
    script = ("echo '== status'; grep -E '^Seccomp:' /proc/self/status;"
              "echo '== mkdir'; mkdir /tmp/blocked 2>&1 | sed 's/.*: //';"
              "echo '== chmod'; touch /tmp/f && chmod 600 /tmp/f 2>&1 | sed 's/.*: //'; echo done")
    config = runc_spec(bundle, rootfs, ["sh", "-c", script], **{"root.readonly": False})
    config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]})
    config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            # a rule with an argument: chmod/fchmodat only with mode 0600 is refused
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "args": [{"index": 2, "value": 0o600, "op": "SCMP_CMP_EQ"}]},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "args": [{"index": 1, "value": 0o600, "op": "SCMP_CMP_EQ"}]},
        ],
    }
    write_config(bundle, config)
    facts = _both(tmp_path, bundle, "seccomp")
    assert facts["status"].split() == ["Seccomp:", "2"]
    assert facts["mkdir"] == "Operation not permitted"
    assert facts["chmod"].splitlines()[0] == "Permission denied"


def test_spec_devices_are_created_and_allowed(tmp_path: Path, rootfs: Path) -> None:
    bundle = tmp_path / "bundle"
    script = "echo '== dev'; stat -c '%t:%T %a' /dev/mynull; echo hello > /dev/mynull && echo written"
    config = runc_spec(bundle, rootfs, ["sh", "-c", script])
    config["linux"]["devices"] = [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640,
                                   "uid": 0, "gid": 0}]
    config["linux"]["resources"]["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 3,
                                                    "access": "rwm"})
    write_config(bundle, config)
    facts = _both(tmp_path, bundle, "devices")
    assert facts["dev"].splitlines() == ["1:3 640", "written"]


def test_denied_device_cannot_be_opened(tmp_path: Path, rootfs: Path) -> None:
    """The device cgroup denies what the spec does not allow (v1 devices, or an eBPF program on v2)."""
    bundle = tmp_path / "bundle"
    config = runc_spec(bundle, rootfs, ["sh", "-c", "(echo x > /dev/kmsg-copy) 2>&1 | sed 's/.*: //'"])
    config["linux"]["devices"] = [{"path": "/dev/kmsg-copy", "type": "c", "major": 1, "minor": 11}]
    write_config(bundle, config)
    facts = _both(tmp_path, bundle, "denied")
    assert facts["preamble"] == "Operation not permitted"


def test_bind_propagation_shows_host_mounts_made_after_start(tmp_path: Path, rootfs: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    subprocess.run(["mount", "--bind", str(shared), str(shared)], check=True)
    subprocess.run(["mount", "--make-shared", str(shared)], check=True)
    root, cid = tmp_path / "root", "berth-rt-propagation"
    try:
        bundle = tmp_path / "bundle"
        config = runc_spec(bundle, rootfs, ["sleep", "300"])
        config["mounts"].append({"destination": "/mnt", "type": "bind", "source": str(shared),
                                 "options": ["rbind", "rslave"]})
        write_config(bundle, config)
        with open(tmp_path / "out", "w") as out:
            started = subprocess.run([*BERTH_RUNTIME, "--root", str(root), "run", "-d", "--bundle", str(bundle), cid],
                                     stdout=out, stderr=out, check=False, timeout=60)
        assert started.returncode == 0, (tmp_path / "out").read_text()
        (shared / "later").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "later", str(shared / "later")], check=True)
        (shared / "later" / "file").write_text("made on the host after start\n")
        assert wait_for(lambda: berth(root, "exec", cid, "cat", "/mnt/later/file").stdout
                        == "made on the host after start\n")
    finally:
        berth(root, "delete", "--force", cid)
        subprocess.run(["umount", "-R", str(shared)], check=False)
    assert not container_leaks(cid, root) and not mounts_under(tmp_path)


def test_bundle_unpacked_by_umoci_runs_like_runc(tmp_path: Path, busybox_image: Any) -> None:
    bundle = tmp_path / "bundle"
    umoci_unpack(busybox_image, bundle)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    # the fixture image has a small set of busybox applets: a probe within them
    config["process"]["args"] = [
        "sh", "-c", "echo '== pid'; echo $$; echo '== id'; id; echo '== caps'; grep -E '^Cap' /proc/self/status;"
        "echo '== dev'; ls /dev; echo '== net'; ls /sys/class/net; echo '== init'; cat /proc/1/comm;"
        "echo '== kcore'; head -c 8 /proc/kcore | wc -c; echo '== hostname'; hostname"]
    write_config(bundle, config)
    facts = _both(tmp_path, bundle, "umoci")
    assert facts["pid"] == "1" and facts["net"] == "lo"
