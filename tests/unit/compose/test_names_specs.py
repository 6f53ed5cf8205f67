"""Compose names and labels, a service as container options and a spec, and the config hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose import names, specs
from ansible_collections.berth.engine.plugins.module_utils.compose.model import Project
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput


def _project(tmp_path: Path, services: dict, **extra: object) -> Project:
    return Project(name="shop", working_dir=str(tmp_path), config_files=[str(tmp_path / "compose.yaml")],
                   services=services, **extra)  # type: ignore[arg-type]


def _ctx(project: Project) -> specs.Context:
    nets = {k: names.network_name(project.name, k, v) for k, v in project.networks.items()}
    nets.setdefault("default", "shop_default")
    vols = {k: names.volume_name(project.name, k, v) for k, v in project.volumes.items()}
    return specs.Context(project, nets, vols, lambda s: names.container_name(project.name, s, 1))


def test_names_are_docker_composes() -> None:
    assert names.container_name("shop", "web", 2) == "shop-web-2"
    assert names.container_name("shop", "web", 1, {"container_name": "front"}) == "front"
    assert names.network_name("shop", "default", None) == "shop_default"
    assert names.network_name("shop", "edge", {"external": True}) == "edge"
    assert names.network_name("shop", "edge", {"external": True, "name": "corp-edge"}) == "corp-edge"
    assert names.volume_name("shop", "data", {"name": "given"}) == "given"
    assert names.volume_name("shop", "data", {}) == "shop_data"
    assert names.image_name("shop", "api", {"build": {"context": "."}}) == "shop-api"
    assert names.image_name("shop", "api", {"image": "x/api:1", "build": {}}) == "x/api:1"


def test_container_labels(tmp_path: Path) -> None:
    project = _project(tmp_path, {})
    labels = names.container_labels(project, "web", 3, "abc", "sha256:1",
                                    {"db": {"condition": "service_healthy", "required": True}, "cache": None})
    assert labels[names.PROJECT] == "shop" and labels[names.SERVICE] == "web" and labels[names.NUMBER] == "3"
    assert labels[names.CONFIG_HASH] == "abc" and labels[names.IMAGE] == "sha256:1"
    assert labels[names.ONEOFF] == "False"
    assert labels[names.WORKING_DIR] == str(tmp_path)
    assert labels[names.CONFIG_FILES] == str(tmp_path / "compose.yaml")
    assert labels[names.DEPENDS_ON] == "cache:service_started:false,db:service_healthy:false"
    assert names.number_of(labels) == 3
    assert names.network_labels("shop", "default", None)[names.NETWORK] == "default"
    assert names.volume_labels("shop", "data", {"labels": {"a": "b"}}) == {
        "a": "b", names.PROJECT: "shop", names.VOLUME: "data", names.VERSION: names.COMPOSE_VERSION}


def test_service_maps_onto_the_option_table(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "token.txt").write_text("s3cret")
    service = {
        "image": "busybox:latest", "command": ["sh", "-c", "sleep 1"], "entrypoint": ["/bin/env"],
        "environment": {"A": "1", "UNSET": None}, "user": "1000", "working_dir": "/srv", "hostname": "web",
        "read_only": True, "cap_add": ["NET_ADMIN"], "cap_drop": ["MKNOD"], "labels": {"team": "shop"},
        "restart": "on-failure:3", "stop_signal": "SIGINT", "stop_grace_period": "1m30s",
        "healthcheck": {"test": ["CMD-SHELL", "true"], "interval": "2s", "retries": 5, "start_interval": "1s"},
        "tmpfs": ["/run"], "ulimits": {"nofile": {"soft": 1024, "hard": 2048}, "nproc": 512},
        "sysctls": {"net.core.somaxconn": "1024"}, "mem_limit": "67108864", "cpus": 0.5, "pids_limit": 64,
        "logging": {"driver": "json-file", "options": {"max-size": "1m", "max-file": "3", "compress": "true"}},
        "ports": [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp", "host_ip": "127.0.0.1"},
                  {"mode": "ingress", "target": 53, "protocol": "udp"}],
        "networks": {"front": {"aliases": ["www"]}, "back": None},
        "volumes": [{"type": "bind", "source": str(tmp_path / "site"), "target": "/site", "read_only": True,
                     "bind": {"create_host_path": True}},
                    {"type": "volume", "source": "data", "target": "/data", "volume": {"nocopy": True}},
                    {"type": "tmpfs", "target": "/scratch", "tmpfs": {"size": 1048576}}],
        "secrets": [{"source": "token"}], "configs": [{"source": "token", "target": "/etc/token"}],
        "init": True,
    }
    project = _project(tmp_path, {"web": service}, networks={"front": {}, "back": {}}, volumes={"data": {}},
                       secrets={"token": {"file": str(tmp_path / "token.txt")}},
                       configs={"token": {"file": str(tmp_path / "token.txt")}})
    ctx = _ctx(project)
    spec, stated = specs.service_spec(ctx, "web", service, {"x": "y"})
    assert spec.image == "busybox:latest" and spec.command == ("sh", "-c", "sleep 1")
    assert spec.entrypoint == ("/bin/env",) and spec.env == {"A": "1"}
    assert (spec.user, spec.working_dir, spec.hostname, spec.read_only) == ("1000", "/srv", "web", True)
    assert spec.capabilities == ("NET_ADMIN",) and spec.cap_drop == ("MKNOD",)
    assert spec.labels == {"team": "shop", "x": "y"}
    assert (spec.restart_policy, spec.restart_retries, spec.stop_signal, spec.stop_timeout) == (
        "on-failure", 3, "SIGINT", 90)
    assert spec.healthcheck["test"] == ["CMD-SHELL", "true"] and spec.healthcheck["interval"] == 2.0
    assert spec.healthcheck["retries"] == 5
    assert spec.tmpfs == ("/run",) and set(spec.ulimits) == {"nofile:1024:2048", "nproc:512:512"}
    assert spec.resources == {"memory": 67108864, "cpus": 0.5, "pids_limit": 64}
    assert spec.log_options == {"max_size": 1 << 20, "max_file": 3}
    assert spec.published_ports == ("0.0.0.0::53/udp", "127.0.0.1:8080:80/tcp")
    assert [n["name"] for n in spec.networks] == ["shop_back", "shop_front"]
    assert {n["name"]: n["aliases"] for n in spec.networks} == {"shop_back": ["web"], "shop_front": ["web", "www"]}
    assert spec.volumes == (f"{tmp_path / 'site'}:/site:ro",)
    mounts = {m["target"]: m for m in spec.mounts}
    assert mounts["/data"]["source"] == "shop_data" and mounts["/data"]["no_copy"] is True
    assert mounts["/scratch"]["type"] == "tmpfs"
    assert mounts["/run/secrets/token"]["source"] == str(tmp_path / "token.txt")
    assert mounts["/run/secrets/token"]["read_only"] and mounts["/etc/token"]["read_only"]
    assert "labels" in stated and "env" in stated
    assert any("logging.options compress" in w for w in ctx.warnings)
    assert spec.init is True and not any("services.web.init" in w for w in ctx.warnings)


def test_network_mode_service_names_its_first_container(tmp_path: Path) -> None:
    project = _project(tmp_path, {"app": {"image": "busybox", "network_mode": "service:vpn"}, "vpn": {}})
    spec, _stated = specs.service_spec(_ctx(project), "app", project.services["app"], {})
    assert spec.network_mode == "container:shop-vpn-1" and spec.networks == ()


def test_mapping_errors_name_the_service(tmp_path: Path) -> None:
    project = _project(tmp_path, {"web": {"image": "busybox", "networks": {"nope": None}}})
    with pytest.raises(InvalidInput) as caught:
        specs.service_spec(_ctx(project), "web", project.services["web"], {})
    assert caught.value.field == "services.web.networks.nope"
    bad = {"image": "busybox", "secrets": [{"source": "missing"}]}
    with pytest.raises(InvalidInput, match=r"secrets\.missing"):
        specs.service_spec(_ctx(_project(tmp_path, {"web": bad})), "web", bad, {})


def test_config_hash_follows_config_and_bound_file_content(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text("a")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("x")
    service = {"image": "busybox", "volumes": [
        {"type": "bind", "source": str(conf), "target": "/etc/nginx.conf"},
        {"type": "bind", "source": str(outside), "target": "/o"}]}
    project = _project(tmp_path, {"web": service})
    first = specs.config_hash(project, "web", service)
    assert first == specs.config_hash(project, "web", dict(service))
    assert specs.config_hash(project, "web", {**service, "scale": 3, "depends_on": {"db": {}},
                                              "build": {"context": "."}, "deploy": {"replicas": 2}}) == first
    assert specs.config_hash(project, "web", {**service, "environment": {"A": "1"}}) != first
    outside.write_text("y")   # outside the project directory: not hashed
    assert specs.config_hash(project, "web", service) == first
    conf.write_text("b")
    assert specs.config_hash(project, "web", service) != first
    outside.unlink()


def test_config_hash_covers_a_bound_directory_and_secret_files(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "sub" / "index.html").write_text("1")
    secret = tmp_path / "s.txt"
    secret.write_text("one")
    service = {"image": "busybox", "volumes": [{"type": "bind", "source": str(site), "target": "/site"}],
               "secrets": [{"source": "s"}]}
    project = _project(tmp_path, {"web": service}, secrets={"s": {"file": str(secret)}})
    first = specs.config_hash(project, "web", service)
    (site / "sub" / "index.html").write_text("2")
    second = specs.config_hash(project, "web", service)
    secret.write_text("two")
    assert len({first, second, specs.config_hash(project, "web", service)}) == 3
