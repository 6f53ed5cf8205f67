"""The docs site's own code: the CLI reference generator (scripts/docs_cli_reference.py) and the conf.py
hook that turns references into Ansible's docsite into links (the build is offline: no intersphinx)."""

from __future__ import annotations

import argparse
import importlib.util
import runpy
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_cli_reference", REPO / "scripts" / "docs_cli_reference.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("scripts/docs_cli_reference.py cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _toy_cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toy")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", aliases=["r"], help="run a thing")
    run.add_argument("--fast", action="store_true", help="quickly")
    run.add_argument("--debug", action="store_true", help="".join(["==SUPPRESS", "=="]))  # equal, not argparse's
    sub.add_parser("secret", help=argparse.SUPPRESS)
    group = sub.add_parser("net", help="networks").add_subparsers(dest="subcommand")
    group.add_parser("ls", help="list networks")
    return parser


def test_reference_lists_every_visible_verb_once_with_its_flags() -> None:
    page = _load_generator()._page("toy reference", "intro", _toy_cli())
    headings = [line for line in page.splitlines() if line.startswith("#")]
    assert headings == ["# toy reference", "## toy run", "## toy net", "### toy net ls"]
    assert "--fast" in page and "quickly" in page
    assert "## toy secret" not in page and "## toy r\n" not in page
    assert "SUPPRESS" not in page and "secret" not in page  # hidden verbs stay hidden in the usage lines too
    assert "usage: toy [-h] COMMAND ..." in page
    assert "--debug" not in page


def test_reference_of_the_real_clis_is_written(tmp_path: Path) -> None:
    assert _load_generator().main([str(tmp_path)]) == 0
    berth = (tmp_path / "cli_reference.md").read_text()
    runtime = (tmp_path / "runtime_reference.md").read_text()
    for verb in ("run", "ps", "exec", "volume ls"):
        assert f"## berth {verb}\n" in berth or f"### berth {verb}\n" in berth
    for command in ("create", "start", "state", "kill", "delete"):
        assert f"## berth-runtime {command}\n" in runtime


@pytest.fixture(scope="module")
def conf() -> dict[str, object]:
    pytest.importorskip("docutils")
    return runpy.run_path(str(REPO / "docs" / "site" / "conf.py"))


def test_conf_builds_offline(conf: dict[str, object]) -> None:
    assert "sphinx.ext.intersphinx" not in conf["extensions"]  # type: ignore[operator]
    assert not conf.get("intersphinx_mapping")


@pytest.mark.parametrize(("label", "url"), [
    ("ansible_collections.ansible.builtin.copy_module",
     "collections/ansible/builtin/copy_module.html"),
    ("ansible_collections.community.docker.docker_compose_v2_module__parameter-files",
     "collections/community/docker/docker_compose_v2_module.html"),
    ("common_return_values", "reference_appendices/common_return_values.html"),
])
def test_references_into_ansibles_docs_become_links(conf: dict[str, object], label: str, url: str) -> None:
    assert conf["ansible_docs_url"](label) == conf["ANSIBLE_DOCS"] + url  # type: ignore[operator]


def test_ansible_core_environment_variables_link_to_its_configuration_page(conf: dict[str, object]) -> None:
    url = conf["ansible_docs_url"]("ANSIBLE_REMOTE_USER", "envvar")  # type: ignore[operator]
    assert url == conf["ANSIBLE_DOCS"] + "reference_appendices/config.html#envvar-ANSIBLE_REMOTE_USER"  # type: ignore[operator]
    assert conf["ansible_docs_url"]("BERTH_STATE_ROOT", "envvar") is None  # type: ignore[operator]


@pytest.mark.parametrize("label", ["ansible_collections.berth.engine.nothing_module", "no_such_label"])
def test_missing_labels_of_our_own_stay_errors(conf: dict[str, object], label: str) -> None:
    assert conf["ansible_docs_url"](label) is None  # type: ignore[operator]
