"""Generated input → a Project or an InvalidInput, never another exception."""

# ruff: noqa: RUF001

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.berth.engine.plugins.module_utils.compose import dotenv, interpolate
from ansible_collections.berth.engine.plugins.module_utils.compose.loader import load_project
from ansible_collections.berth.engine.plugins.module_utils.compose.schema_keys import SERVICE
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

FUZZ = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])

TRICKY = "0123456789-:/.,=@+_[]{}$~ \t\n\"'#²١abcxyzro"
texts = st.one_of(st.text(max_size=20), st.text(alphabet=TRICKY, max_size=20),
                  st.sampled_from(["80", "8080:80", "1-2:3-4/udp", "[::1]:1:2", "./a:/b:ro", "data:/d", "10s",
                                   "1m30s", "true", "${X:-1}", "$$", "${X:?no}", "service:web", "host", "512m",
                                   "0.5", "~/x:/y", "a=b", "web", ""]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=True), texts)
trees = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(texts, st.sampled_from(["target", "published", "source", "type", "condition",
                                                      "soft", "hard", "test", "context", "path", "aliases"])),
                    inner, max_size=4)), max_leaves=12)
service_keys = st.sampled_from(sorted(SERVICE.props))
services = st.dictionaries(service_keys, trees, max_size=6).map(lambda s: {"image": "x", **s})
projects = st.fixed_dictionaries({"services": st.dictionaries(st.sampled_from(["web", "db", "x-y", "a"]), services,
                                                              min_size=1, max_size=3)},
                                 optional={"networks": st.dictionaries(st.sampled_from(["front", "default"]), trees,
                                                                       max_size=2),
                                           "volumes": st.dictionaries(st.sampled_from(["data", "d"]), trees,
                                                                      max_size=2),
                                           "name": texts})


def _attempt(**kwargs: Any) -> None:
    try:
        project = load_project(environ={"X": "1"}, **kwargs)
    except InvalidInput:
        return
    project.to_config()
    project.service_order()


@FUZZ
@given(projects)
def test_generated_definitions(tmp_path: Path, definition: dict[str, Any]) -> None:
    _attempt(project_dir=str(tmp_path), definition=definition)


@FUZZ
@given(st.one_of(st.text(max_size=200), st.text(alphabet=TRICKY + ":-\n  ", max_size=200)))
def test_generated_yaml_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "compose.yml"
    path.write_text("services:\n  web:\n    image: x\n" + text, encoding="utf-8")
    _attempt(files=[str(path)])


@FUZZ
@given(st.one_of(st.text(max_size=60), st.text(alphabet="${}:-+?_AZaz09 \\\"'\n=#", max_size=60)))
def test_templates_and_dotenv(text: str) -> None:
    with contextlib.suppress(interpolate.TemplateError):
        interpolate.substitute(text, {"A": "1"}.get)
    with contextlib.suppress(dotenv.DotenvError):
        dotenv.parse(text, {"A": "1"}.get)


NEAR_VALID: dict[str, Any] = {
    "ports": st.lists(st.one_of(st.sampled_from(["80", "8080:80", "127.0.0.1:1-2:3-4/udp", "[::1]:53:53/udp",
                                                 "0:80", "80:80/icmp", "1-3:4-5", "::80"]),
                                st.integers(-1, 70000),
                                st.fixed_dictionaries({"target": st.one_of(st.integers(0, 70000), texts)},
                                                      optional={"published": st.one_of(st.integers(), texts),
                                                                "protocol": texts})), max_size=3),
    "volumes": st.lists(st.one_of(st.sampled_from(["./a:/a", "a:/a:ro", "/anon", "a:b", "./x:/x:z,ro", ":/x",
                                                   "a:/b:c:d", "~:/home"]),
                                  st.fixed_dictionaries({"type": st.sampled_from(["bind", "volume", "tmpfs", "x"]),
                                                         "target": texts},
                                                        optional={"source": texts})), max_size=3),
    "environment": st.one_of(st.lists(texts, max_size=3), st.dictionaries(texts, scalars, max_size=3)),
    "depends_on": st.one_of(st.lists(st.sampled_from(["web", "db", "a", "nope"]), max_size=2),
                            st.dictionaries(st.sampled_from(["web", "db", "a"]),
                                            st.fixed_dictionaries({"condition": texts},
                                                                  optional={"required": scalars}), max_size=2)),
    "healthcheck": st.fixed_dictionaries({}, optional={"test": st.one_of(texts, st.lists(texts, max_size=2)),
                                                       "interval": texts, "retries": scalars}),
    "command": st.one_of(texts, st.lists(texts, max_size=3)),
    "networks": st.one_of(
        st.lists(st.sampled_from(["front", "default", "x"]), max_size=2),
        st.dictionaries(st.sampled_from(["front", "default"]), st.one_of(st.none(), st.fixed_dictionaries(
            {}, optional={"aliases": st.lists(texts, max_size=2), "ipv4_address": texts})), max_size=2)),
    "network_mode": texts, "mem_limit": scalars, "cpus": scalars, "scale": scalars, "stop_grace_period": texts,
    "ulimits": st.dictionaries(st.sampled_from(["nofile", "nproc"]), st.one_of(
        scalars, st.fixed_dictionaries({"soft": scalars, "hard": scalars})), max_size=2),
    "build": st.one_of(texts, st.fixed_dictionaries({}, optional={"context": texts, "args": st.lists(texts)})),
    "env_file": st.one_of(texts, st.lists(st.one_of(texts, st.fixed_dictionaries({"path": texts, "required": scalars})),
                                          max_size=2)),
    "extends": st.one_of(st.sampled_from(["web", "db", "a"]), texts),
}
near_services = st.fixed_dictionaries({"image": st.just("x")},
                                      optional=dict(NEAR_VALID))


@FUZZ
@given(st.dictionaries(st.sampled_from(["web", "db", "a"]), near_services, min_size=1, max_size=3),
       st.sampled_from([{}, {"front": None}, {"front": {"driver": "bridge"}}]))
def test_near_valid_services(tmp_path: Path, services: dict[str, Any], networks: dict[str, Any]) -> None:
    _attempt(project_dir=str(tmp_path), definition={"services": services, "networks": networks,
                                                    "volumes": {"a": None}})
