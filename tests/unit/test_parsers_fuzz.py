"""Every user-facing parser, fed a few hundred generated inputs each: it
returns a value or raises one of the engine's errors (a BerthError) — never
any other exception, so a user never sees a traceback.

Inputs mix arbitrary text (every Unicode category, so non-ASCII digits such
as '²' and '١', newlines, NUL) with near-valid inputs drawn from each
grammar, where the interesting bugs live. Structured options (dicts, lists)
are generated with the types Ansible's argument spec guarantees, their
leaves free. Runs are deterministic (derandomize) and have no deadline.
"""

# The look-alike digits ('²', '١', '𝟙') are the point of these tests.
# ruff: noqa: RUF001, RUF002, RUF003

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.berth.engine.plugins.module_utils import digest, metadata, units
from ansible_collections.berth.engine.plugins.module_utils.cgroups import base as cgroup_base
from ansible_collections.berth.engine.plugins.module_utils.containers import (
    bundle_host,
    envfile,
    health,
    limits,
    options,
    policy,
)
from ansible_collections.berth.engine.plugins.module_utils.containers import store as container_store
from ansible_collections.berth.engine.plugins.module_utils.containers.options import _log_options
from ansible_collections.berth.engine.plugins.module_utils.errors import BerthError
from ansible_collections.berth.engine.plugins.module_utils.image import reference
from ansible_collections.berth.engine.plugins.module_utils.network import ipam, ports
from ansible_collections.berth.engine.plugins.module_utils.network import store as network_store
from ansible_collections.berth.engine.plugins.module_utils.runtime import cli as runtime_cli
from ansible_collections.berth.engine.plugins.module_utils.volumes import specs

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# Characters parsers trip on: ASCII syntax, Unicode digits (int() takes '١', isdigit() takes '²'),
# whitespace of every kind, NUL and control characters.
TRICKY = "0123456789-:/.,=@+_ \t\n\r\x00\x0b\x1c\u00a0\u2028²³¹١٢٣٠𝟘𝟙٫kKmMgGtTpPbBiIeE%xXaAfFrwm"
tricky = st.text(alphabet=TRICKY, max_size=24)
anything = st.text(max_size=40)
texts = st.one_of(anything, tricky)
unicode_digits = st.text(alphabet="0123456789²³¹١٢٣٤٥٠𝟘𝟙߁०", min_size=1, max_size=6)
numbers = st.one_of(st.integers(-10, 70000), st.integers(-(2**70), 2**70).map(str), unicode_digits,
                    st.sampled_from(["", "0", "00080", "65535", "65536", "4294967295", "9" * 5000, "-1", "+1",
                                     "1_0", " 1", "1e3", "0x10"]))
num_text = numbers.map(str)


def desired(params: dict) -> options.ContainerSpec:
    """The spec a task with these options asks for (the module's path)."""
    return options.build_spec("local/img:1", options.stated(params))


def _huge(_value: object) -> int:
    return 10**5000  # str() of it raises; a parser must not call str() on an int it has not bounded


huge = st.just(0).map(_huge)  # not st.just(10**5000): hypothesis would repr() it
# What a structured option's leaves can be once Ansible's argument spec has typed it (no 5,000-digit ints:
# Ansible itself calls str() on those), and what a parser that takes numbers directly must also survive.
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(allow_nan=True), texts)
numeric = st.one_of(scalars, huge)


def total(parse: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``parse(*args)``, with a BerthError taken as an answer; any other exception fails the test."""
    try:
        return parse(*args, **kwargs)
    except BerthError as err:
        assert err.message and str(err)  # a message a person can read
        return err


def joined(*parts: st.SearchStrategy[str], seps: str = ":") -> st.SearchStrategy[str]:
    return st.tuples(*parts, st.sampled_from(list(seps))).map(lambda t: t[-1].join(t[:-1]))


# -- ports -----------------------------------------------------------------------------------------------------------

port_range = st.one_of(num_text, st.tuples(num_text, num_text).map("-".join))
port_specs = st.one_of(
    texts,
    st.tuples(st.sampled_from(["", "127.0.0.1:", "0.0.0.0:", "::1:", "1.2.3.4.5:", "١٢٧.0.0.1:", "[::1]:"]),
              st.one_of(st.just(""), port_range.map(lambda p: p + ":")), port_range,
              st.sampled_from(["", "/tcp", "/udp", "/UDP", "/sctp", "/", "/tcp\n", "/tcp/udp"]))
    .map("".join),
    st.integers(-(2**40), 2**40), huge, st.booleans())


@FUZZ
@given(port_specs)
def test_port_specs(entry: Any) -> None:
    result = total(ports.parse_port_spec, entry)
    if isinstance(result, list):
        for spec in result:
            assert 1 <= spec.container_port <= 65535
            assert spec.host_port is None or 1 <= spec.host_port <= 65535


@FUZZ
@given(st.lists(port_specs, max_size=4))
def test_published_ports(entries: list[Any]) -> None:
    total(ports.parse_published_ports, entries)


@FUZZ
@given(st.lists(st.one_of(texts, st.tuples(port_range, st.sampled_from(["", "/tcp", "/udp", "/sctp", "/x"]))
                          .map("".join)), max_size=4))
def test_exposed_ports(keys: list[str]) -> None:
    total(ports.parse_exposed_ports, keys)


# -- sizes, cpus, cpusets --------------------------------------------------------------------------------------------

size_grammar = st.tuples(
    num_text, st.sampled_from(["", ".5", ".", ".٥", ".00000000000000000001"]), st.sampled_from(["", " ", "  "]),
    st.sampled_from(["", "b", "k", "K", "kb", "KiB", "ki", "ib", "i", "m", "g", "t", "p", "e", "kbb", "k b", "mb ",
                     "\n"])).map("".join)
sizes = st.one_of(numeric, size_grammar)


@FUZZ
@given(sizes, st.sampled_from(["memory", "memory_swap", "log_options.max_size"]))
def test_sizes(value: Any, field: str) -> None:
    result = total(units.parse_bytes, value, field)
    if isinstance(result, int):
        assert (result == -1 and field == "memory_swap") or 0 <= result <= 2**63 - 1


@FUZZ
@given(st.one_of(numeric, st.tuples(num_text, st.sampled_from(["", ".5", ".", "e3"])).map("".join)))
def test_cpus(value: Any) -> None:
    total(units.parse_cpus, value)


cpusets = st.one_of(texts, st.lists(port_range, min_size=1, max_size=4).map(",".join),
                    st.just("0-4294967295"), st.just("5-2"))


@FUZZ
@given(cpusets)
def test_cpusets(value: str) -> None:
    checked = total(units.check_cpuset, value, "cpuset_cpus")
    if isinstance(checked, str):
        assert max(units.expand_cpuset(checked)) <= units.MAX_CPUSET_ID


resource_options = st.fixed_dictionaries({}, optional={
    "memory": sizes, "memory_reservation": sizes, "memory_swap": sizes, "memory_swappiness": numbers,
    "cpus": sizes, "cpu_shares": numbers, "cpu_period": numbers, "cpu_quota": numbers, "cpuset_cpus": cpusets,
    "cpuset_mems": cpusets, "pids_limit": numbers, "blkio_weight": numbers,
    "device_read_bps": st.lists(st.fixed_dictionaries({"path": texts, "rate": sizes}), max_size=2)})


@FUZZ
@given(resource_options)
def test_resource_limits(raw: dict[str, Any]) -> None:
    total(limits.validate, raw)


# -- env files, container options ------------------------------------------------------------------------------------

env_lines = st.one_of(
    anything,
    st.tuples(st.sampled_from(["", " ", "\t", "export ", "#", "\ufeff"]),
              st.sampled_from(["A", "_x", "with.dots", "1A", "A B", "", "Ä", "HOME", "UNSET_BERTH_FUZZ"]),
              st.sampled_from(["=", "", " =", "= "]), texts).map("".join))
env_bytes = st.one_of(
    st.binary(max_size=200),
    st.lists(env_lines, max_size=6).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")),
    st.tuples(st.lists(env_lines, max_size=3), st.binary(max_size=8))
    .map(lambda t: "\r\n".join(t[0]).encode("utf-8", "surrogatepass") + b"\n" + t[1]))


@FUZZ
@given(env_bytes)
def test_env_files(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "env"
        path.write_bytes(data)
        env = total(envfile.read_env_file, path, {"HOME": "/root"})
    if isinstance(env, dict):
        assert all(envfile.ENV_KEY.fullmatch(key) for key in env)
        assert all("\0" not in value for value in env.values())


container_params = st.fixed_dictionaries({}, optional={
    "command": texts, "env": st.dictionaries(texts, scalars, max_size=3),
    "labels": st.dictionaries(texts, texts, max_size=2), "sysctls": st.dictionaries(texts, scalars, max_size=2),
    "tmpfs": st.lists(texts, max_size=2), "ulimits": st.lists(texts, max_size=2),
    "devices": st.lists(texts, max_size=2), "published_ports": st.lists(port_specs, max_size=2),
    "volumes": st.lists(texts, max_size=2)})


@FUZZ
@given(container_params)
def test_container_options(params: dict[str, Any]) -> None:
    total(desired, params)


# -- host options: tmpfs, ulimits, sysctls, devices -----------------------------------------------------------------

tmpfs_options = st.one_of(
    texts,
    st.tuples(st.sampled_from(["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol", "huge", "ro",
                               "noexec", "exec", "bogus", ""]),
              st.sampled_from(["", "="]),
              st.one_of(st.sampled_from(["", "%", "k", "0", "1777", "-1"]), num_text,
                        st.tuples(num_text, st.sampled_from(["", "k", "m", "%", "mb", "E", "x"]))
                        .map("".join), st.sampled_from(["bind:0-1", "interleave", "prefer:٣", "local:5-2"]))))
tmpfs_entries = st.one_of(texts, st.tuples(st.sampled_from(["/run", "/", "run", "/a/../", "//x", "/x\x00"]),
                                           st.lists(tmpfs_options.map(lambda o: o if isinstance(o, str) else
                                                                      "".join(o)), max_size=3).map(",".join))
                          .map(lambda t: f"{t[0]}:{t[1]}" if t[1] else t[0]))


@FUZZ
@given(tmpfs_entries)
def test_tmpfs(entry: str) -> None:
    result = total(bundle_host.parse_tmpfs, entry)
    if isinstance(result, tuple):
        assert result[0].startswith("/") and result[0] != "/"


ulimit_entries = st.one_of(texts, joined(st.sampled_from(["nofile", "nproc", "core", "bogus", "", "NOFILE"]),
                                         num_text, num_text),
                           joined(st.sampled_from(["nofile", "stack"]), num_text))


@FUZZ
@given(ulimit_entries)
def test_ulimits(entry: str) -> None:
    total(bundle_host.check_host_options, ulimits=[entry])


@FUZZ
@given(st.dictionaries(st.one_of(texts, st.sampled_from(["net.ipv4.ip_forward", "net/../../etc", "kernel.shmmax",
                                                         "net.ipv4.conf.br-1.forwarding", "a..b", "."])),
                       scalars, max_size=3))
def test_sysctls(sysctls: dict[str, Any]) -> None:
    result = total(bundle_host.check_sysctls, sysctls)
    if isinstance(result, dict):
        assert all(".." not in key.replace(".", "/").split("/") for key in result)


device_entries = st.one_of(texts, joined(st.sampled_from(["/dev/null", "dev/null", "/dev/\x00", ""]),
                                         st.sampled_from(["/dev/x", "", "rw", "rwm", "rr", "x"]),
                                         st.sampled_from(["rwm", "", "r", "q", "mm"])))


@FUZZ
@given(device_entries)
def test_devices(entry: str) -> None:
    total(bundle_host.parse_device, entry)
    config: dict[str, Any] = {"mounts": [], "process": {}}
    total(bundle_host.apply_host_config, config, tmpfs=[], ulimits=[], sysctls={}, devices=[entry],
          privileged=False)


# -- healthchecks, restart policies, signals -------------------------------------------------------------------------

durations = st.one_of(numeric, st.lists(st.tuples(num_text, st.sampled_from(["", ".5", ".٥"]),
                                                  st.sampled_from(["ns", "us", "µs", "ms", "s", "m", "h", "d", "",
                                                                   "S"])).map("".join), max_size=3).map("".join))


@FUZZ
@given(durations)
def test_durations(value: Any) -> None:
    seconds = total(health.parse_duration, value, "healthcheck.interval")
    if isinstance(seconds, float):
        assert 0 <= seconds <= health.MAX_DURATION


@FUZZ
@given(st.one_of(st.none(), texts, st.dictionaries(
    st.sampled_from(["test", "interval", "timeout", "start_period", "retries", "bogus"]),
    st.one_of(durations, st.lists(st.one_of(st.sampled_from(["CMD", "CMD-SHELL", "NONE"]), texts), max_size=3)),
    max_size=5)))
def test_healthcheck_options(option: Any) -> None:
    total(health.from_option, option)


@FUZZ
@given(st.dictionaries(st.sampled_from(["Healthcheck"]), st.dictionaries(
    st.sampled_from(["Test", "Interval", "Timeout", "StartPeriod", "Retries"]),
    st.one_of(scalars, st.lists(texts, max_size=3)), max_size=5)))
def test_image_healthcheck(config: dict[str, Any]) -> None:
    total(health.from_image, config)


@FUZZ
@given(st.one_of(texts, st.none(), joined(st.sampled_from(["no", "on-failure", "always", "unless-stopped"]),
                                          num_text)))
def test_restart_policies(text: str | None) -> None:
    total(policy.parse, text)


@FUZZ
@given(st.one_of(texts, num_text, st.sampled_from(["TERM", "SIGKILL", "sigint", "SIG", "SIGRTMIN+1"])))
def test_signals(text: str) -> None:
    total(runtime_cli.parse_signal, text)


@FUZZ
@given(st.dictionaries(st.sampled_from(["max_size", "max_file", "max-size", "bogus"]),
                       st.one_of(scalars, num_text, size_grammar), max_size=3))
def test_log_options(log_options: dict[str, Any]) -> None:
    total(_log_options, log_options)


# -- image references and digests ------------------------------------------------------------------------------------

components = st.text(alphabet="abc019._-__AZ", min_size=0, max_size=8)
references = st.one_of(
    texts, st.sampled_from(["", "busybox", "busybox\n", "localhost:" + "9" * 5000 + "/x", "a@sha256:" + "0" * 64]),
    st.tuples(st.sampled_from(["", "localhost/", "localhost:5000/", "reg.io:٥٠٠٠/", "[::1]:5000/", "a.b:0/",
                               "reg.io:99999/"]),
              st.lists(components, min_size=1, max_size=3).map("/".join),
              st.sampled_from(["", ":latest", ":", ":-x", ":" + "t" * 129, ":٣"]),
              st.sampled_from(["", "@sha256:" + "a" * 64, "@sha256:" + "A" * 64, "@md5:00", "@", "@sha256:\n"]))
    .map("".join))


@FUZZ
@given(references)
def test_references(text: str) -> None:
    total(reference.parse_reference, text)


@FUZZ
@given(st.one_of(numeric, st.tuples(st.sampled_from(["sha256:", "sha512:", "SHA256:", ":", "sha256+x:"]),
                                    st.text(alphabet="0123456789abcdefABCDEF=\n٣", max_size=70)).map("".join)))
def test_digests(value: Any) -> None:
    total(digest.parse_digest, value)


# -- names -----------------------------------------------------------------------------------------------------------

names = st.one_of(scalars, components, st.sampled_from(["web\n", ".", "..", "a/b", "x" * 129, "١"]))


@FUZZ
@given(names)
def test_names(name: Any) -> None:
    for check in (container_store.validate_name, network_store.validate_name, specs.validate_volume_name,
                  metadata.validate_id):
        result = total(check, name)
        if isinstance(result, str):
            assert "\n" not in result and "/" not in result and result not in (".", "..")


@FUZZ
@given(st.one_of(texts, st.lists(components, min_size=1, max_size=3).map("/".join)))
def test_cgroup_paths(path: str) -> None:
    total(cgroup_base.check_path, path, "cgroup_parent")


# -- subnets and addresses -------------------------------------------------------------------------------------------

octets = st.one_of(st.integers(0, 300).map(str), unicode_digits, st.sampled_from(["", "010", "0x1"]))
addresses = st.one_of(texts, st.lists(octets, min_size=1, max_size=5).map(".".join))
subnets = st.one_of(texts, st.tuples(addresses, st.sampled_from(["/", "", "/ "]), numbers.map(str)).map("".join))


@FUZZ
@given(subnets, addresses)
def test_subnets_and_addresses(subnet: str, address: str) -> None:
    total(ipam.parse_subnet, subnet)
    total(ipam.parse_address, address, "ipam_config[0].gateway")


@FUZZ
@given(st.lists(st.fixed_dictionaries({}, optional={"subnet": subnets, "gateway": addresses, "iprange": subnets,
                                                    "aux_addresses": st.dictionaries(texts, addresses, max_size=2)}),
                max_size=2), addresses)
def test_ipam_config(entries: list[dict[str, Any]], static: str) -> None:
    found = total(ipam.parse_ipam_config, entries)
    if isinstance(found, ipam.Ipam):
        total(ipam.check_static, found, static)


# -- volumes and mounts ----------------------------------------------------------------------------------------------

short_volumes = st.one_of(texts, joined(st.sampled_from(["data", "/host", "./rel", "", "d", "/", "x\x00"]),
                                        st.sampled_from(["/data", "data", "/", "/a/../", ""]),
                                        st.lists(st.sampled_from(["ro", "rw", "z", "nocopy", "rshared", "bogus", ""]),
                                                 max_size=3).map(",".join)))


@FUZZ
@given(short_volumes)
def test_volume_short_syntax(entry: str) -> None:
    total(specs.parse_short, entry)


long_mounts = st.fixed_dictionaries({}, optional={
    "type": st.one_of(st.sampled_from(["volume", "bind", "tmpfs", "nfs"]), texts), "target": texts,
    "source": st.one_of(st.none(), texts, st.sampled_from(["/host", "data"])), "read_only": st.booleans(),
    "propagation": st.one_of(st.none(), st.sampled_from(["rshared", "shared", "bogus"])),
    "no_copy": st.booleans(), "tmpfs_size": st.one_of(st.none(), texts, size_grammar),
    "tmpfs_mode": st.one_of(st.none(), texts, num_text, st.sampled_from(["1777", "0755", "17777"])),
    "labels": st.one_of(st.none(), st.dictionaries(texts, texts, max_size=2)),
    "volume_driver": st.one_of(st.none(), st.sampled_from(["local", "nfs"])), "bogus": texts})


@FUZZ
@given(long_mounts.map(lambda m: {**m, "target": m.get("target", "/data")}))
def test_volume_long_syntax(entry: dict[str, Any]) -> None:
    total(specs.parse_long, entry)
    total(specs.comparable, [entry])


@FUZZ
@given(st.lists(short_volumes, max_size=3), st.lists(long_mounts, max_size=2), st.lists(tmpfs_entries, max_size=2))
def test_all_mounts(volumes: list[str], mounts: list[dict[str, Any]], tmpfs: list[str]) -> None:
    total(specs.parse_all, volumes, mounts, tmpfs)


def test_the_fuzz_environment_is_clean() -> None:
    """The env-file fuzzer's bare names read this variable: it must be unset."""
    assert "UNSET_BERTH_FUZZ" not in os.environ
