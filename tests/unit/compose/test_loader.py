"""load_project: files, merging, names, profiles, environment, ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose.loader import (
    load_project,
    normalize_project_name,
)
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_several_files_merge_in_order(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.yml", """
services:
  web:
    image: web:1
    entrypoint: [a, b]
    environment: [X=1, Y=1]
    volumes: ["./one:/data", "./logs:/logs"]
    logging: {driver: json-file, options: {max-size: 1m}}
    ulimits: {nofile: {soft: 1, hard: 2}}
""")
    b = _write(tmp_path / "b.yml", """
services:
  web:
    entrypoint: [c]
    environment: {Y: "2"}
    volumes: [{type: bind, source: ./two, target: /data}]
    logging: {options: {max-file: "3"}}
    ulimits: {nofile: 5}
""")
    c = _write(tmp_path / "c.yml", """
services:
  web:
    logging: {driver: syslog, options: {tag: x}}
    volumes: !override ["./three:/three"]
""")
    web = load_project([a, b], environ={}).services["web"]
    assert web["entrypoint"] == ["c"]
    assert web["environment"] == {"X": "1", "Y": "2"}
    assert [(v["source"], v["target"]) for v in web["volumes"]] == [
        (str(tmp_path / "two"), "/data"), (str(tmp_path / "logs"), "/logs")]
    assert web["logging"] == {"driver": "json-file", "options": {"max-size": "1m", "max-file": "3"}}
    assert web["ulimits"] == {"nofile": 5}
    web = load_project([a, b, c], environ={}).services["web"]
    assert web["logging"] == {"driver": "syslog", "options": {"tag": "x"}}  # another driver: options replaced
    assert [v["target"] for v in web["volumes"]] == ["/three"]


def test_project_name_precedence(tmp_path: Path) -> None:
    f = _write(tmp_path / "My Dir.1" / "compose.yml", "services: {a: {image: x}}\n")
    assert load_project([f], environ={}).name == "mydir1"
    named = _write(tmp_path / "n" / "compose.yml", "name: fromfile\nservices: {a: {image: x}}\n")
    assert load_project([named], environ={}).name == "fromfile"
    assert load_project([named], environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"
    assert load_project([named], environ={"COMPOSE_PROJECT_NAME": "fromenv"}, project_name="explicit").name == \
        "explicit"
    _write(tmp_path / "n" / ".env", "COMPOSE_PROJECT_NAME=dotenv\n")
    assert load_project([named], environ={}).name == "dotenv"
    with pytest.raises(InvalidInput) as caught:
        load_project([named], environ={}, project_name="Bad Name")
    assert caught.value.field == "project_name"


@pytest.mark.parametrize(("raw", "name"), [("MyApp", "myapp"), ("_x.y-z", "xy-z"), ("a b_c", "ab_c")])
def test_normalize_project_name(raw: str, name: str) -> None:
    assert normalize_project_name(raw) == name


def test_shell_wins_over_env_files(tmp_path: Path) -> None:
    f = _write(tmp_path / "compose.yml", "services: {a: {image: \"x:${TAG}\", environment: [TAG, ONLY]}}\n")
    _write(tmp_path / ".env", "TAG=dotenv\nONLY=dot\n")
    _write(tmp_path / "other.env", "TAG=other\n")
    assert load_project([f], environ={}).services["a"]["image"] == "x:dotenv"
    assert load_project([f], environ={"TAG": "shell"}).services["a"]["image"] == "x:shell"
    project = load_project([f], environ={}, env_files=["other.env"])
    assert project.services["a"]["image"] == "x:other"
    assert project.services["a"]["environment"] == {"TAG": "other", "ONLY": None}


def test_profiles_argument_and_star(tmp_path: Path) -> None:
    f = _write(tmp_path / "compose.yml", """
services:
  a: {image: x}
  b: {image: x, profiles: [p1]}
  c: {image: x, profiles: [p2], depends_on: {b: {condition: service_started, required: false}}}
""")
    assert sorted(load_project([f], environ={}).services) == ["a"]
    assert sorted(load_project([f], environ={}, profiles=["p2"]).services) == ["a", "c"]
    assert sorted(load_project([f], environ={"COMPOSE_PROFILES": "p1"}).services) == ["a", "b"]
    assert sorted(load_project([f], environ={}, profiles=["*"]).services) == ["a", "b", "c"]


def test_dependency_on_disabled_service_is_an_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "compose.yml",
               "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, profiles: [p]}\n")
    with pytest.raises(InvalidInput, match="disabled by its profiles") as caught:
        load_project([f], environ={})
    assert caught.value.field == "services.a.depends_on.b"


def test_service_order(tmp_path: Path) -> None:
    f = _write(tmp_path / "compose.yml", """
services:
  web: {image: x, depends_on: [api, cache]}
  api: {image: x, depends_on: {db: {condition: service_healthy}}}
  db: {image: x}
  cache: {image: x}
  side: {image: x, network_mode: "service:web"}
""")
    order = load_project([f], environ={}).service_order()
    assert order.index("db") < order.index("api") < order.index("web") < order.index("side")
    assert order.index("cache") < order.index("web")


def test_longer_cycle_is_named(tmp_path: Path) -> None:
    f = _write(tmp_path / "compose.yml",
               "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n"
               "  c: {image: x, depends_on: [a]}\n")
    with pytest.raises(InvalidInput, match="a -> b -> c -> a"):
        load_project([f], environ={})


def test_version_warns(tmp_path: Path) -> None:
    f = _write(tmp_path / "compose.yml", "version: '3'\nservices: {a: {image: x}}\n")
    assert any("version" in w and "obsolete" in w for w in load_project([f], environ={}).warnings)


def test_default_files_and_override(tmp_path: Path) -> None:
    _write(tmp_path / "docker-compose.yml", "services: {a: {image: x}}\n")
    _write(tmp_path / "docker-compose.override.yml", "services: {a: {image: y}}\n")
    project = load_project(project_dir=str(tmp_path), environ={})
    assert project.services["a"]["image"] == "y"
    assert [Path(p).name for p in project.config_files] == ["docker-compose.yml", "docker-compose.override.yml"]
    with pytest.raises(InvalidInput) as caught:
        load_project(project_dir=str(tmp_path / "empty"), environ={})
    assert caught.value.field == "project_src"


def test_compose_file_variable(tmp_path: Path) -> None:
    _write(tmp_path / "one.yml", "services: {a: {image: x}}\n")
    _write(tmp_path / "two.yml", "services: {b: {image: x}}\n")
    project = load_project(project_dir=str(tmp_path), environ={"COMPOSE_FILE": "one.yml:two.yml"})
    assert sorted(project.services) == ["a", "b"]


def test_definition_inline(tmp_path: Path) -> None:
    project = load_project(project_dir=str(tmp_path / "inline"), environ={"T": "2"},
                           definition={"services": {"a": {"image": "x:${T}", "volumes": ["./d:/d"]}}})
    assert project.name == "inline"
    assert project.services["a"]["image"] == "x:2"
    assert project.services["a"]["volumes"][0]["source"] == str(tmp_path / "inline" / "d")


def test_include_cycle_and_conflict(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.yml", "include: [b.yml]\nservices: {a: {image: x}}\n")
    _write(tmp_path / "b.yml", "include: [a.yml]\nservices: {b: {image: x}}\n")
    with pytest.raises(InvalidInput, match="include cycle"):
        load_project([a], environ={})
    c = _write(tmp_path / "c.yml", "include: [d.yml]\nservices: {same: {image: x}}\n")
    _write(tmp_path / "d.yml", "services: {same: {image: y}}\n")
    with pytest.raises(InvalidInput) as caught:
        load_project([c], environ={})
    assert caught.value.field == "services.same"


def test_extends_cycle(tmp_path: Path) -> None:
    f = _write(tmp_path / "compose.yml", "services:\n  a: {image: x, extends: b}\n  b: {image: x, extends: a}\n")
    with pytest.raises(InvalidInput, match="extends cycle"):
        load_project([f], environ={})


def test_replicas(tmp_path: Path) -> None:
    f = _write(tmp_path / "compose.yml", "services:\n  a: {image: x, deploy: {replicas: 3}}\n  b: {image: x}\n"
               "  c: {image: x, scale: 2, deploy: {replicas: 3}}\n")
    with pytest.raises(InvalidInput) as caught:
        load_project([f], environ={})
    assert caught.value.field == "services.c.scale"
    f = _write(tmp_path / "ok.yml", "services:\n  a: {image: x, deploy: {replicas: 3}}\n  b: {image: x}\n")
    project = load_project([f], environ={})
    assert (project.replicas("a"), project.replicas("b")) == (3, 1)


def test_env_file_required_missing(tmp_path: Path) -> None:
    f = _write(tmp_path / "compose.yml", "services: {a: {image: x, env_file: [nope.env]}}\n")
    with pytest.raises(InvalidInput) as caught:
        load_project([f], environ={})
    assert caught.value.field == "services.a.env_file[0]"


def test_yaml_12_booleans_and_strings(tmp_path: Path) -> None:
    f = _write(tmp_path / "compose.yml",
               "services:\n  a:\n    image: x\n    environment: {YES_: yes, OFF_: off, T: true, D: 2024-01-01}\n")
    assert load_project([f], environ={}).services["a"]["environment"] == {
        "YES_": "yes", "OFF_": "off", "T": "true", "D": "2024-01-01"}
