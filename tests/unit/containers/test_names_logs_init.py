"""init, etc_hosts, dns_* and log_driver: each option's normalisation and
errors, the hosts and resolv.conf lines they write, the bundle's init, the
log writers, the CLI flags and the Compose keys that become them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cli import runargs
from ansible_collections.berth.engine.plugins.module_utils.cli.main import _parser
from ansible_collections.berth.engine.plugins.module_utils.compose import names, specs
from ansible_collections.berth.engine.plugins.module_utils.compose.model import Project
from ansible_collections.berth.engine.plugins.module_utils.containers import bundle_host, logs, nameopts, options
from ansible_collections.berth.engine.plugins.module_utils.containers.networking import resolv_conf, with_dns
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, InvalidState

IMAGE = "busybox:latest"


def refused(stated: dict[str, Any], field: str, words: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        options.build_spec(IMAGE, stated)
    assert caught.value.field == field, caught.value
    assert words in str(caught.value) and caught.value.hint
    return caught.value


# -- normalisation ---------------------------------------------------------------------------------------------
def test_names_normalise_to_one_form() -> None:
    spec = options.build_spec(IMAGE, {
        "etc_hosts": {"db.local": "192.0.2.10", "v6": "[2001:DB8::1]", "gw": "host-gateway", "two": "10.0.0.1, ::1"},
        "dns_servers": ["192.0.2.53", "2001:0db8::0053"], "dns_search_domains": ["corp.example.com"],
        "dns_opts": ["ndots:2", "use-vc"], "init": True, "log_driver": "local"})
    assert spec.etc_hosts == {"db.local": "192.0.2.10", "v6": "2001:db8::1", "gw": "host-gateway",
                              "two": "10.0.0.1,::1"}
    assert spec.dns_servers == ("192.0.2.53", "2001:db8::53")
    assert spec.dns_search_domains == ("corp.example.com",) and spec.dns_opts == ("ndots:2", "use-vc")
    assert spec.init is True and spec.log_driver == "local"


@pytest.mark.parametrize("stated, field, words", [
    ({"dns_servers": ["192.0.2.300"]}, "dns_servers", "dns_servers[0]: '192.0.2.300' is not an IP address"),
    ({"dns_servers": ["8.8.8.8", "dns.example"]}, "dns_servers", "dns_servers[1]"),
    ({"etc_hosts": {"db": "10.0.0.256"}}, "etc_hosts.db", "is not an IP address"),
    ({"etc_hosts": {"db": "host-gw"}}, "etc_hosts.db", "is not an IP address"),
    ({"etc_hosts": {"bad host": "10.0.0.1"}}, "etc_hosts", "is not a host name"),
    ({"etc_hosts": {"db": 1}}, "etc_hosts.db", "is not an address"),
    ({"dns_search_domains": ["-bad.example"]}, "dns_search_domains", "is not a domain"),
    ({"dns_search_domains": [".", "a.example"]}, "dns_search_domains", "cannot be combined"),
    ({"dns_opts": ["ndots 2"]}, "dns_opts", "is not a resolver option"),
    ({"log_driver": "syslog"}, "log_driver", "log driver 'syslog' is not available"),
    ({"log_driver": "none", "log_options": {"max_size": "1m"}}, "log_options", "do not apply to the none"),
    ({"network_mode": "container:db", "dns_servers": ["192.0.2.53"]}, "dns_servers", "conflicts with network_mode"),
    ({"network_mode": "none", "etc_hosts": {"gw": "host-gateway"}}, "etc_hosts", "needs a network"),
])
def test_bad_values_name_the_option(stated: dict[str, Any], field: str, words: str) -> None:
    refused(stated, field, words)


def test_init_without_tini_names_init_and_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(bundle_host, "INIT_BINARIES", (str(tmp_path / "tini-static"),))
    error = refused({"init": True}, "init", "init needs tini")
    assert "tini" in (error.hint or "") and "berth.engine.host" in (error.hint or "")
    options.build_spec(IMAGE, {"init": False})   # no init: no tini needed


def test_same_values_compare_equal_and_a_change_recreates() -> None:
    stated = {"etc_hosts": {"db": "192.0.2.10"}, "dns_servers": ["192.0.2.53"], "dns_opts": ["ndots:2"],
              "dns_search_domains": ["a.example"], "init": True, "log_driver": "none"}
    actual = options.build_spec(IMAGE, stated)
    how = options.comparisons(None)
    again = options.build_spec(IMAGE, {**stated, "etc_hosts": {"db": " 192.0.2.10"}})
    assert options.differences(actual, again, list(stated), how, {}) == []
    changed = options.build_spec(IMAGE, {**stated, "dns_servers": ["192.0.2.54"], "log_driver": "json-file",
                                         "init": False, "etc_hosts": {"db": "192.0.2.11"}})
    found = {d["option"]: d for d in options.differences(actual, changed, list(stated), how, {})}
    assert set(found) == {"dns_servers", "log_driver", "init", "etc_hosts"}
    assert all(d["update"] == "recreate" for d in found.values())
    assert found["dns_servers"]["before"] == ("192.0.2.53",) and found["dns_servers"]["after"] == ("192.0.2.54",)


def test_log_rotation_defaults_follow_the_driver() -> None:
    local = options.build_spec(IMAGE, {"log_driver": "local", "log_options": {"max_size": "1m"}})
    assert local.effective("log_options", {}) == {"max_size": 1 << 20, "max_file": 5}
    assert options.build_spec(IMAGE, {"log_driver": "local"}).effective("log_options", {}) == {
        "max_size": 20 << 20, "max_file": 5}
    plain = options.build_spec(IMAGE, {})
    assert plain.effective("log_options", {}) == {"max_size": 0, "max_file": 1}
    assert plain.effective("log_driver", {}) == "json-file"
    # stated as the default: no drift against a container made without it
    how = options.comparisons(None)
    assert options.differences(plain, options.build_spec(IMAGE, {"log_driver": "json-file"}), ["log_driver"],
                               how, {}) == []


# -- what the files get ---------------------------------------------------------------------------------------
def test_host_lines_resolve_host_gateway() -> None:
    hosts = {"db": "192.0.2.10,::1", "gw": "host-gateway"}
    assert nameopts.host_lines(hosts, "10.89.0.1") == "192.0.2.10\tdb\n::1\tdb\n10.89.0.1\tgw\n"
    assert nameopts.host_lines(hosts, None) == "192.0.2.10\tdb\n::1\tdb\n"


@pytest.mark.parametrize("entry, expected", [
    ("db:192.0.2.10", ("db", "192.0.2.10")), ("db=192.0.2.10", ("db", "192.0.2.10")),
    ("v6:[::1]", ("v6", "[::1]")), ("v6:::1", ("v6", "::1")), ("v6=::1", ("v6", "::1")),
])
def test_host_entries(entry: str, expected: tuple[str, str]) -> None:
    assert nameopts.split_host_entry(entry) == expected


def test_a_host_given_twice_keeps_both_addresses() -> None:
    assert nameopts.host_entries(["a:10.0.0.1", "a=10.0.0.2", "b:host-gateway"]) == {
        "a": "10.0.0.1,10.0.0.2", "b": "host-gateway"}
    with pytest.raises(InvalidInput) as caught:
        nameopts.host_entries(["nocolon"], "services.web.extra_hosts")
    assert caught.value.field == "services.web.extra_hosts"


def test_resolv_conf_takes_the_containers_dns() -> None:
    host = "domain corp\nsearch corp.example\nnameserver 10.0.0.2\noptions edns0\n"
    got = resolv_conf(host, servers=["192.0.2.53"], search=["a.example", "b.example"], options=["ndots:2"])
    assert got == "search a.example b.example\noptions ndots:2\nnameserver 192.0.2.53\n"
    # an overlay network's resolver stays first
    assert resolv_conf(host, first=["10.90.0.1"], servers=["192.0.2.53"]).endswith(
        "nameserver 10.90.0.1\nnameserver 192.0.2.53\n")
    # only what is given is replaced; '.' means no search domain
    assert with_dns(host, search=["."]) == "nameserver 10.0.0.2\noptions edns0\n"
    assert resolv_conf(host) == host.replace("nameserver 10.0.0.2\n", "") + "nameserver 10.0.0.2\n"


def test_init_wraps_the_command_and_mounts_tini(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tini = tmp_path / "tini-static"
    tini.write_text("")
    tini.chmod(0o755)
    monkeypatch.setattr(bundle_host, "INIT_BINARIES", (str(tini),))
    config: dict[str, Any] = {"process": {"args": ["sh", "-c", "sleep 1"]}, "mounts": []}
    bundle_host.with_init(config)
    assert config["process"]["args"] == ["/sbin/docker-init", "--", "sh", "-c", "sleep 1"]
    assert config["mounts"] == [{"destination": "/sbin/docker-init", "type": "bind", "source": str(tini),
                                 "options": ["rbind", "ro", "nosuid", "nodev"]}]


# -- logs -------------------------------------------------------------------------------------------------------
def test_the_none_driver_keeps_nothing_and_refuses_reading(tmp_path: Path) -> None:
    writer = logs.writer(tmp_path / "c.log", "none")
    writer.write("stdout", b"hello\n")
    writer.close()
    assert not (tmp_path / "c.log").exists()
    with pytest.raises(InvalidState) as caught:
        logs.require_readable("quiet", {"log_driver": "none"})
    assert "configured logging driver does not support reading" in str(caught.value)
    assert caught.value.field == "log_driver"
    logs.require_readable("chatty", {"log_driver": "local"})
    local = logs.writer(tmp_path / "l.log", "local", 1 << 20, 5)
    local.write("stdout", b"kept\n")
    local.close()
    assert [e["log"] for e in logs.read(tmp_path / "l.log")] == ["kept\n"]


# -- berth run's flags -------------------------------------------------------------------------------------------
def test_run_flags_become_the_options() -> None:
    args = _parser().parse_args(["run", "--init", "--add-host", "db:192.0.2.10", "--add-host", "v6:[::1]",
                                 "--dns", "192.0.2.53", "--dns-search", "corp.example", "--dns-option", "ndots:2",
                                 "--log-driver", "none", IMAGE, "true"])
    stated = runargs.stated_options(args)
    assert stated["init"] is True and stated["etc_hosts"] == {"db": "192.0.2.10", "v6": "[::1]"}
    assert stated["dns_servers"] == ["192.0.2.53"] and stated["dns_search_domains"] == ["corp.example"]
    assert stated["dns_opts"] == ["ndots:2"] and stated["log_driver"] == "none"
    spec = runargs.request(args).spec
    assert spec.etc_hosts["v6"] == "::1" and spec.log_driver == "none"


def test_the_fast_lane_reads_the_new_flags_alike() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.cli import fastlane

    argv = ["run", "-d", "--init", "--add-host=db:192.0.2.10", "--dns", "192.0.2.53", "--log-driver=local", IMAGE]
    fast = fastlane.arguments(argv)
    assert fast is not None and vars(fast) == vars(_parser().parse_args(argv))


# -- Compose keys ---------------------------------------------------------------------------------------------
def _service_spec(tmp_path: Path, service: dict[str, Any]) -> tuple[Any, specs.Context]:
    project = Project(name="shop", working_dir=str(tmp_path), config_files=[str(tmp_path / "compose.yaml")],
                      services={"web": service})  # type: ignore[arg-type]
    ctx = specs.Context(project, {"default": "shop_default"}, {}, lambda s: names.container_name("shop", s, 1))
    return specs.service_spec(ctx, "web", service, {})[0], ctx


def test_compose_keys_map_onto_the_options(tmp_path: Path) -> None:
    spec, ctx = _service_spec(tmp_path, {
        "image": IMAGE, "init": True, "extra_hosts": ["db=192.0.2.10", "v6=[::1]", "gw=host-gateway"],
        "dns": ["192.0.2.53"], "dns_search": ["corp.example"], "dns_opt": ["ndots:2"],
        "logging": {"driver": "local", "options": {"max-file": "2"}}})
    assert spec.init and spec.etc_hosts == {"db": "192.0.2.10", "v6": "::1", "gw": "host-gateway"}
    assert spec.dns_servers == ("192.0.2.53",) and spec.dns_search_domains == ("corp.example",)
    assert spec.dns_opts == ("ndots:2",) and spec.log_driver == "local"
    assert spec.effective("log_options", {}) == {"max_size": 20 << 20, "max_file": 2}
    assert not ctx.warnings


@pytest.mark.parametrize("service, field", [
    ({"logging": {"driver": "syslog"}}, "services.web.logging.driver"),
    ({"dns": ["not-an-ip"]}, "services.web.dns"),
    ({"extra_hosts": ["db=300.1.1.1"]}, "services.web.extra_hosts.db"),
    ({"extra_hosts": ["nosep"]}, "services.web.extra_hosts"),
    ({"logging": {"driver": "none", "options": {"max-size": "1m"}}}, "services.web.logging.options"),
])
def test_compose_errors_name_the_key(tmp_path: Path, service: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _service_spec(tmp_path, {"image": IMAGE, **service})
    assert caught.value.field == field
