"""The same bundle under runc (Debian's) and berth-runtime: a probe inside
reports isolation facts and both runtimes must produce the same report."""

from __future__ import annotations

import json
import os
import resource
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.peers import needs_peer
from tests.support.runtime import (
    BERTH_RUNTIME,
    PROBE,
    berth,
    make_rootfs,
    normalized_mounts,
    run_both,
    runc_spec,
    sections,
    write_config,
)

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root"), needs_peer("runc")]

RUNC_DEFAULT_CAPS = "0000000020000420"   # runc spec: AUDIT_WRITE, KILL, NET_BIND_SERVICE
DOCKER_DEFAULT_CAPS = "00000000a80425fb"


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rootfs(tmp_path_factory.mktemp("runtime-rootfs"))


def _assert_same(runc_out: str, berth_out: str, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    expected, actual = sections(runc_out), sections(berth_out)
    for key in set(expected) - set(skip):
        assert actual.get(key) == expected[key], f"section {key!r}: runc {expected[key]!r} vs berth {actual.get(key)!r}"
    return actual


def test_probe_matches_runc_on_a_runc_spec_bundle(tmp_path: Path, rootfs: Path) -> None:
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, ["sh", "-c", PROBE])
    facts = _assert_same(*run_both(tmp_path, bundle, "probe"))
    assert facts["pid"] == "1"
    assert facts["hostname"] == "runc"
    assert facts["others"] == "0" and facts["pids"] == "small", "host processes are visible"
    assert f"CapBnd:\t{RUNC_DEFAULT_CAPS}" in facts["caps"]
    assert all(line.endswith(":0") for line in facts["masked"].splitlines()), facts["masked"]
    assert "writable" not in facts["readonly"]
    assert facts["sys"] == "refused"
    assert facts["root"] == "refused"            # runc spec: root.readonly true
    assert facts["netns"].split() == ["lo", "unknown", "0x9"]   # a new netns: loopback only, up (as runc)
    assert facts["rlimits"].split() == ["1024", "1024"]
    for device in ("null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue"):
        assert device in facts["dev"].split()
    assert facts["cgroupns"].splitlines()[0].endswith(":/") or facts["cgroupns"].endswith("/")


def test_mount_table_matches_runc(tmp_path: Path, rootfs: Path) -> None:
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, ["cat", "/proc/self/mountinfo"])
    runc_out, berth_out = run_both(tmp_path, bundle, "mounts")
    assert _relaxed(normalized_mounts(berth_out)) == _relaxed(normalized_mounts(runc_out))
    # berth keeps the source's nosuid,nodev,noexec when it remounts a path
    # read-only (the /proc paths; a root on a nosuid tmpfs), as crun does;
    # runc 1.1.5's remount drops them
    assert "/proc/sys proc ro,nosuid,nodev,noexec,relatime rw" in normalized_mounts(berth_out)
    assert any(row.startswith("/sys sysfs ro,") for row in normalized_mounts(berth_out))


def _relaxed(rows: list[str]) -> list[str]:
    out = []
    for row in rows:
        point, kind, options, rest = row.split(" ", 3)
        if point in ("/", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"):
            options = ",".join(o for o in options.split(",") if o not in ("nosuid", "nodev", "noexec"))
        out.append(f"{point} {kind} {options} {rest}")
    return out


def test_docker_defaults_from_berth_spec_match_runc(tmp_path: Path, rootfs: Path) -> None:
    """`berth-runtime spec` writes Docker's defaults; runc must agree on what they mean."""
    import subprocess

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    subprocess.run([*BERTH_RUNTIME, "spec", "--bundle", str(bundle)], check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["root"]["path"] = str(rootfs)
    config["process"]["args"] = ["sh", "-c", PROBE]
    write_config(bundle, config)
    facts = _assert_same(*run_both(tmp_path, bundle, "docker"))
    assert f"CapBnd:\t{DOCKER_DEFAULT_CAPS}" in facts["caps"]
    assert f"CapEff:\t{DOCKER_DEFAULT_CAPS}" in facts["caps"]
    assert facts["root"] == "writable"


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A world-traversable directory: a user namespace's root (host uid
    100000) cannot walk into pytest's 0700 tmp dirs."""
    directory = Path(tempfile.mkdtemp(prefix="berth-userns-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_user_namespace_bundle_matches_runc(tmp_path: Path, open_dir: Path) -> None:
    rootfs = make_rootfs(open_dir)
    bundle = open_dir / "bundle"
    mapping = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    config = runc_spec(bundle, rootfs, ["sh", "-c", "echo '== map'; cat /proc/self/uid_map /proc/self/gid_map;"
                                                    "echo '== id'; id; echo '== owner'; stat -c %u:%g /bin/busybox"])
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = mapping
    config["linux"]["gidMappings"] = mapping
    write_config(bundle, config)
    facts = _assert_same(*run_both(tmp_path, bundle, "userns"))
    assert facts["map"].split()[:3] == ["0", "100000", "65536"]
    assert facts["owner"] == "65534:65534"      # host root is unmapped inside: nobody


def test_user_cwd_env_limits_and_sysctls(tmp_path: Path, rootfs: Path) -> None:
    host_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    bundle = tmp_path / "bundle"
    script = ("echo '== id'; id -u; id -g; id -G; echo '== cwd'; pwd; echo '== env'; echo $GREETING;"
              "echo '== nofile'; ulimit -Sn; ulimit -Hn; echo '== nnp'; grep NoNewPrivs /proc/self/status;"
              "echo '== sysctl'; cat /proc/sys/kernel/shm_rmid_forced /proc/sys/net/ipv4/ip_forward;"
              "echo '== oom'; cat /proc/self/oom_score_adj; echo '== host'; hostname; cat /proc/sys/kernel/domainname")
    config = runc_spec(bundle, rootfs, ["sh", "-c", script])
    process = config["process"]
    process.update({"user": {"uid": 65534, "gid": 65534, "additionalGids": [5, 100]}, "cwd": "/tmp",
                    "env": [*process["env"], "GREETING=hello"], "noNewPrivileges": True, "oomScoreAdj": 123,
                    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": min(4096, host_hard)}]})
    config["hostname"], config["domainname"] = "probe", "example.org"
    config["linux"]["sysctl"] = {"kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1"}
    write_config(bundle, config)
    # runc 1.1.5 predates the spec's domainname: compared against the spec, not runc
    facts = _assert_same(*run_both(tmp_path, bundle, "user"), skip=("host",))
    assert facts["id"].split() == ["65534", "65534", "65534", "5", "100"]
    assert facts["cwd"] == "/tmp" and facts["env"] == "hello"
    assert facts["nofile"].split() == ["512", str(min(4096, host_hard))]
    assert facts["nnp"].split()[-1] == "1"
    assert facts["sysctl"].split() == ["1", "1"]
    assert facts["oom"] == "123"
    assert facts["host"].split() == ["probe", "example.org"]


def test_rlimit_above_host_hard_limit_is_lowered(tmp_path: Path, rootfs: Path) -> None:
    """Docker/podman ask for nofile=1048576; on a host whose hard limit is lower,
    berth lowers it (with a warning) instead of failing like runc."""
    host_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    bundle = tmp_path / "bundle"
    config = runc_spec(bundle, rootfs, ["sh", "-c", "ulimit -Hn"])
    config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}]
    write_config(bundle, config)
    result = berth(tmp_path / "root", "run", "--bundle", str(bundle), "berth-rt-rlimit")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) == min(1048576, host_hard)
