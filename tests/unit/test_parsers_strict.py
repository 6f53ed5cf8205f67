"""The user-facing parsers are strict: the inputs issue 14 found accepted or
crashing are refused with an InvalidInput naming the option, and the forms
users rely on keep working. (test_parsers_fuzz.py checks the same parsers
never raise anything else.)"""

# The look-alike digits ('²', '١', '𝟙') are the point of these tests.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils import digest, units
from ansible_collections.berth.engine.plugins.module_utils.cgroups.resources import Resources
from ansible_collections.berth.engine.plugins.module_utils.containers import (
    bundle_host,
    envfile,
    health,
    options,
    policy,
)
from ansible_collections.berth.engine.plugins.module_utils.containers.options import _log_options
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.network.ports import parse_exposed_ports, parse_port_spec
from ansible_collections.berth.engine.plugins.module_utils.runtime.cli import parse_signal
from ansible_collections.berth.engine.plugins.module_utils.strict import parse_uint


def desired(params: dict) -> options.ContainerSpec:
    """The spec a task with these options asks for (the module's path)."""
    return options.build_spec("local/img:1", options.stated(params))


def refused(call: Any, *args: Any, field: str | None = None, match: str | None = None, **kwargs: Any) -> InvalidInput:
    with pytest.raises(InvalidInput, match=match) as err:
        call(*args, **kwargs)
    if field is not None:
        assert err.value.field == field, err.value
    assert err.value.hint, f"{err.value} has no hint"
    return err.value


# -- numbers ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["²", "١٢", "𝟙", " 1", "+1", "-1", "1_000", "0x10", "1e3", "", "9" * 5000, True])
def test_whole_numbers_are_ascii_digits_only(text: object) -> None:
    refused(lambda: parse_uint(text, field="x", what="x"), field="x")


def test_whole_numbers_in_range() -> None:
    assert parse_uint("00042", field="x", what="x") == 42 and parse_uint(7, field="x", what="x") == 7
    refused(lambda: parse_uint("65536", field="port", what="port", maximum=65535), field="port", match="range")


# -- ports -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ["²:80", "80:²", "١:80", "80:٨٠", "𝟠𝟘", "80\n", "80:80\x00", "9" * 5000,
                                   "99999999999999999999:80", "0-5:80", "8000-8001:80-82", "10-5:80", "80/tcp\n",
                                   pytest.param(10**5000, id="huge-int"), -1, 0, 70000, True])
def test_bad_ports(entry: object) -> None:
    refused(parse_port_spec, entry, field="published_ports")


@pytest.mark.parametrize(("entry", "count"), [("8080:80", 1), ("0:80", 1), ("080:0080", 1), (" 80 ", 1),
                                              ("8000-8002:80-82/udp", 3), ("8000-8010:80", 1), (443, 1)])
def test_good_ports(entry: object, count: int) -> None:
    assert len(parse_port_spec(entry)) == count  # type: ignore[arg-type]


def test_exposed_ports_refuse_unicode_digits() -> None:
    assert parse_exposed_ports(["80/tcp", "53/udp", "9/sctp"]) == [(53, "udp"), (80, "tcp")]
    refused(parse_exposed_ports, ["٨٠/tcp"])


# -- sizes, cpus, cpusets --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1ib", "1 k b", "1kbb", "1  k", "1\n", "k", "", "-5", "-1", "1e3", "0x10", "²",
                                   "١m", "1.m", ".5g", "1,5g", "9" * 30, "8e", "16777216p", True, False, -5, None,
                                   float("nan"), float("inf"), 2**63, [1]])
def test_bad_sizes(value: object) -> None:
    refused(units.parse_bytes, value, "memory", field="memory")


@pytest.mark.parametrize(("value", "size"), [("512m", 512 << 20), ("1g", 1 << 30), ("1.5GB", 3 << 29),
                                             ("100k", 102400), ("1 k", 1024), ("1KiB", 1024), ("2ki", 2048),
                                             ("10b", 10), ("42", 42), (" 7m ", 7 << 20), (42, 42), (3.0, 3),
                                             ("8191p", 8191 << 50), ("0", 0)])
def test_good_sizes(value: object, size: int) -> None:
    assert units.parse_bytes(value, "memory") == size


def test_minus_one_is_unlimited_swap_only() -> None:
    assert units.parse_bytes("-1", "memory_swap") == -1 and units.parse_bytes(-1, "memory_swap") == -1
    refused(units.parse_bytes, "-1", "memory", field="memory")
    assert Resources(memory="1g", memory_swap="-1").memory_swap == -1


@pytest.mark.parametrize("value", [True, "nan", "inf", "1e1", "١", "1/2", "-1", 0, 10**400, float("nan")])
def test_bad_cpus(value: object) -> None:
    refused(units.parse_cpus, value, field="cpus")


@pytest.mark.parametrize("value", ["5-2", "0-4294967295", "8192", "0-" + "9" * 5000, "0,,1", "", "0-", "-1",
                                   "٠-1", "0-3\n", "0x1"])
def test_bad_cpusets(value: str) -> None:
    refused(units.check_cpuset, value, "cpuset_cpus", field="cpuset_cpus")


def test_good_cpusets() -> None:
    assert units.check_cpuset("0-3, 5", "cpuset_cpus") == "0-3,5"
    assert units.expand_cpuset("0-1\n") == {0, 1} == units.expand_cpuset("0,1") and units.expand_cpuset("") == set()
    assert units.check_cpuset("8191", "cpuset_mems") == "8191"


@pytest.mark.parametrize(("options_", "field"), [
    ({"pids_limit": True}, "pids_limit"), ({"cpu_shares": "²"}, "cpu_shares"), ({"pids_limit": 2**64}, "pids_limit"),
    ({"cpu_quota": "1_000"}, "cpu_quota"), ({"memory": True}, "memory"), ({"memory": -1}, "memory"),
    ({"cpuset_cpus": "5-2"}, "cpuset_cpus"), ({"device_read_bps": [{"path": "/dev/sda", "rate": "1ib"}]}, "rate"),
])
def test_bad_resources(options_: dict[str, Any], field: str) -> None:
    refused(Resources, **options_, field=field)


def test_good_resources() -> None:
    res = Resources(pids_limit=-1, cpu_quota="-1", cpu_shares=" 512 ", memory="64m", cpuset_cpus="0-1")
    assert (res.pids_limit, res.cpu_quota, res.cpu_shares, res.memory) == (-1, -1, 512, 64 << 20)


def test_device_paths_are_checked_before_stat() -> None:
    refused(units.device_number, "/dev/sd\x00a", "device_read_bps", field="device_read_bps")
    refused(units.device_number, "sda", "device_read_bps", field="device_read_bps")


# -- env files (Docker CLI's --env-file rules) -----------------------------------------------------------------------

def env_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "app.env"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("data", "match"), [
    (b"A=1\nB=\xff\xfe\n", r"line 2 of .*app.env is not valid UTF-8"),
    (b"export A=1\n", "starts with 'export'"),
    (b"MY VAR=1\n", "contains whitespace"),
    (b"A =1\n", "contains whitespace"),
    (b"=1\n", "no variable name"),
    (b"1A=1\n", "not a variable name"),
    (b"with.dots=1\n", "not a variable name"),
    ("\u00c4=1\n".encode(), "not a variable name"),
    (b"A=x\x00y\n", "NUL"),
    (b"no equals sign\n", "whitespace"),
])
def test_bad_env_files(tmp_path: Path, data: bytes, match: str) -> None:
    err = refused(envfile.read_env_file, env_file(tmp_path, data), {}, field="env_file", match=match)
    assert "app.env" in err.message


def test_env_file_follows_docker(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf# comment\n  A=1\n\tB=two words  \nC=\"quoted\"\r\nD=\nHOME\nUNSET_ONE\n   \n# x=y\nE=a=b\n"
    env = envfile.read_env_file(env_file(tmp_path, data), {"HOME": "/root"})
    assert env == {"A": "1", "B": "two words  ", "C": '"quoted"', "D": "", "HOME": "/root", "E": "a=b"}


def test_env_file_errors(tmp_path: Path) -> None:
    refused(envfile.read_env_file, tmp_path / "missing", field="env_file", match="cannot read")
    refused(envfile.read_env_file, Path("/x\x00y"), field="env_file")
    big = env_file(tmp_path, b"A=" + b"x" * (envfile.ENV_FILE_LIMIT + 1))
    refused(envfile.read_env_file, big, field="env_file", match="larger than")


def test_container_options_refuse_bad_env_and_command(tmp_path: Path) -> None:
    refused(desired, {"env": {"A=B": "1"}}, field="env")
    refused(desired, {"env": {"A": "x\x00"}}, field="env")
    refused(desired, {"env": {"A": True}}, field="env")
    refused(desired, {"sysctls": {"net.ipv4.ip_forward": True}}, field="sysctls")
    refused(desired, {"command": "sh -c 'unclosed"}, field="command")
    refused(desired, {"tmpfs": ["/run:size=1ib"]}, field="tmpfs.size")
    refused(desired, {"ulimits": ["nofile:²"]}, field="ulimits")
    path = env_file(tmp_path, b"A=1\n")
    assert desired({"env_file": str(path), "env": {"B": 2}}).env == {"A": "1", "B": "2"}


# -- tmpfs, ulimits, sysctls, devices --------------------------------------------------------------------------------

@pytest.mark.parametrize(("entry", "field"), [
    ("run", "tmpfs"), ("/", "tmpfs"), ("/a/..", "tmpfs"), ("/run\x00", "tmpfs"), ("/run:bogus", "tmpfs"),
    ("/run:size=1ib", "tmpfs.size"), ("/run:size=64mb", "tmpfs.size"), ("/run:size=²", "tmpfs.size"),
    ("/run:size=-1", "tmpfs.size"), ("/run:size=99999999999999999999", "tmpfs.size"), ("/run:size=", "tmpfs.size"),
    ("/run:mode=1778", "tmpfs.mode"), ("/run:mode=17777", "tmpfs.mode"), ("/run:mode=rwx", "tmpfs.mode"),
    ("/run:uid=-1", "tmpfs.uid"), ("/run:gid=4294967295", "tmpfs.gid"), ("/run:uid=١", "tmpfs.uid"),
    ("/run:nr_inodes=10%x", "tmpfs.nr_inodes"), ("/run:nr_blocks=50%", "tmpfs.nr_blocks"),
    ("/run:mpol=often", "tmpfs.mpol"), ("/run:mpol=bind:5-2", "tmpfs.mpol"), ("/run:noexec=1", "tmpfs"),
    ("/run:huge=always", "tmpfs"),
])
def test_bad_tmpfs(entry: str, field: str) -> None:
    refused(bundle_host.parse_tmpfs, entry, field=field)


def test_good_tmpfs() -> None:
    assert bundle_host.parse_tmpfs("/run") == ("/run", [])
    entry = "/run/:size=64m,mode=1777,uid=1000,gid=0,nr_inodes=1k,nr_blocks=10,mpol=bind:0-1,exec,ro"
    path, given = bundle_host.parse_tmpfs(entry)
    assert path == "/run" and "mode=1777" in given
    assert bundle_host.parse_tmpfs("/x:size=50%,noatime")[1] == ["size=50%", "noatime"]
    mount = bundle_host._tmpfs("/x:exec")
    assert mount["options"] == ["nosuid", "nodev", "exec"]


@pytest.mark.parametrize("entry", ["nofile:²", "nofile:--5", "nofile:-2", "nofile:1_0", "nofile:2048:1024",
                                   "nofile:-1:1024", "bogus:1", "nofile", "nofile:", "nofile:1:2:3",
                                   "nofile:99999999999999999999", "NOFILE:1"])
def test_bad_ulimits(entry: str) -> None:
    refused(bundle_host._ulimit, entry, field="ulimits")


def test_good_ulimits() -> None:
    assert bundle_host._ulimit("nofile:1024:2048") == {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}
    assert bundle_host._ulimit("core:-1") == {"type": "RLIMIT_CORE", "soft": -1, "hard": -1}
    assert bundle_host._ulimit("stack:1024:-1")["hard"] == -1


@pytest.mark.parametrize(("sysctls", "field"), [
    ({"net/../../etc/passwd": "1"}, "sysctls"), ({"net": "1"}, "sysctls"), ({"net.ipv4.ip_forward\n": "1"}, "sysctls"),
    ({"net..x": "1"}, "sysctls"), ({"net.ipv4.ip_forward": True}, "sysctls.net.ipv4.ip_forward"),
    ({"net.ipv4.ip_forward": "1\n0"}, "sysctls.net.ipv4.ip_forward"),
    ({"kernel.shmmax": "x" * 5000}, "sysctls.kernel.shmmax"), ({"kernel.shmmax": None}, "sysctls.kernel.shmmax"),
])
def test_bad_sysctls(sysctls: dict[str, Any], field: str) -> None:
    refused(bundle_host.check_sysctls, sysctls, field=field)


def test_good_sysctls() -> None:
    assert bundle_host.check_sysctls({"net.ipv4.ip_forward": 1, "net/ipv4/conf/br-x/forwarding": "0"}) == {
        "net.ipv4.ip_forward": "1", "net/ipv4/conf/br-x/forwarding": "0"}


@pytest.mark.parametrize("entry", ["dev/null", "/dev/null:dev/x", "/dev/null:/x:rwx", "/dev/null:/x:rr",
                                   "/dev/null:/x:", "/dev/null:/x:r:w", "/dev/nu\x00ll", "", "/dev/null:q"])
def test_bad_devices(entry: str) -> None:
    refused(bundle_host.parse_device, entry, field="devices")


def test_good_devices() -> None:
    assert bundle_host.parse_device("/dev/null") == ("/dev/null", "/dev/null", "rwm")
    assert bundle_host.parse_device("/dev/null:r") == ("/dev/null", "/dev/null", "r")
    assert bundle_host.parse_device("/dev/null:/dev/x:rw") == ("/dev/null", "/dev/x", "rw")
    device, rule = bundle_host._device("/dev/null:/dev/z:mr")
    assert (device["path"], device["major"], rule["access"]) == ("/dev/z", 1, "mr")


# -- durations and healthchecks --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["١s", "1", "1d", "-1s", "1.s", "s", "", "1m 30s", "nan", True, -1, float("nan"),
                                   float("inf"), 10**400, "9" * 30 + "h", [1]])
def test_bad_durations(value: object) -> None:
    refused(health.parse_duration, value, "healthcheck.interval", field="healthcheck.interval")


@pytest.mark.parametrize(("value", "seconds"), [("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("1.5h", 5400.0),
                                                ("10us", 1e-5), ("10µs", 1e-5), ("0", 0.0), (2, 2.0), (0.25, 0.25)])
def test_good_durations(value: object, seconds: float) -> None:
    assert health.parse_duration(value, "x") == pytest.approx(seconds)


@pytest.mark.parametrize(("option", "field"), [
    ({"test": ["CMD"]}, "healthcheck.test"), ({"test": ["CMD-SHELL", " "]}, "healthcheck.test"),
    ({"test": ["RUN", "x"]}, "healthcheck.test"), ({"test": [1]}, "healthcheck.test"),
    ({"test": "true", "interval": "1us"}, "healthcheck.interval"),
    ({"test": "true", "retries": "²"}, "healthcheck.retries"), ({"test": "true", "retries": -1}, "healthcheck.retries"),
    ({"test": "true", "retries": True}, "healthcheck.retries"), ({"test": "true", "bogus": 1}, "healthcheck"),
])
def test_bad_healthchecks(option: dict[str, Any], field: str) -> None:
    refused(health.from_option, option, field=field)


def test_good_healthchecks() -> None:
    config = health.from_option({"test": "true", "interval": "0", "retries": 0, "start_period": "1ms"})
    assert config == {"test": ["CMD-SHELL", "true"], "interval": 30.0, "timeout": 30.0, "start_period": 0.001,
                      "retries": 3}
    assert health.from_option({"test": ["NONE"]})["test"] == ["NONE"]


def test_image_healthchecks_are_untrusted() -> None:
    refused(health.from_image, {"Healthcheck": {"Test": "CMD true"}}, field="image.config.Healthcheck.Test")
    refused(health.from_image, {"Healthcheck": {"Test": ["CMD", "x"], "Interval": "5s"}},
            field="image.config.Healthcheck.Interval")
    refused(health.from_image, {"Healthcheck": {"Test": ["CMD", "x"], "Retries": True}},
            field="image.config.Healthcheck.Retries")
    assert health.from_image({"Healthcheck": {"Test": ["CMD", "x"], "Interval": 5 * 10**9}})["interval"] == 5.0


# -- restart policies, signals, log options --------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["on-failure:²", "on-failure:١", "on-failure:" + "9" * 5000, "on-failure:-1"])
def test_bad_restart_policies(text: str) -> None:
    refused(policy.parse, text, field="restart_policy")


@pytest.mark.parametrize("text", ["²", "0", "65", "9" * 5000])
def test_bad_signals(text: str) -> None:
    refused(parse_signal, text, field="signal")


def test_good_signals() -> None:
    assert (parse_signal("9"), parse_signal("TERM"), parse_signal("SIGKILL")) == (9, 15, 9)


@pytest.mark.parametrize("files", ["x", "²", 0, True, "9" * 50])
def test_bad_log_max_file(files: object) -> None:
    refused(_log_options, {"max_file": files}, field="log_options.max_file")


def test_good_log_options() -> None:
    assert _log_options({"max_size": "10m", "max_file": "3"}) == {"max_size": 10 << 20, "max_file": 3}


# -- references and digests ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["localhost:" + "9" * 5000 + "/x", "localhost:٥٠٠٠/x", "busybox\n", "busybox:٣",
                                  "a@sha256:" + "0" * 63 + "\n"])
def test_bad_references(text: str) -> None:
    refused(parse_reference, text, field="name")


@pytest.mark.parametrize("value", [None, 5, ["sha256:x"], "sha256:" + "a" * 64 + "\n", "sha256:" + "٣" * 64,
                                   "sha256:" + "a" * 5000])
def test_bad_digests(value: object) -> None:
    refused(digest.parse_digest, value, field="digest")
