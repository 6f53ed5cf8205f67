"""berth modules over real ansible-playbook runs: thin AnsiballZ payloads, the
host's engine agent, and the failures a user meets before the role or after
a controller upgrade."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.version import engine_digest
from tests.support.devinstall import MODULE_UTILS, agent_pids, dev_prefix, write_install
from tests.support.playbook import record_task, recorded, run_playbook, write_playbook

ENGINE_FILES = re.compile(r"plugins/module_utils/(?!__init__\.py$|ansible/(__init__|argspecs|remote)\.py$)")


def _roots(tmp_path: Path) -> dict[str, str]:
    return {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run")}


def test_a_play_runs_through_the_agent(tmp_path: Path) -> None:
    roots = _roots(tmp_path)
    play = write_playbook(tmp_path, [
        {"berth.engine.volume": {"name": "data", **roots}, "register": "made"},
        {"berth.engine.volume_info": {"name": "data", **roots}, "register": "seen"},
        {"berth.engine.volume": {"name": "data", "state": "absent", **roots}, "register": "gone"},
        record_task(["made", "seen", "gone"])])
    result = run_playbook(play)
    assert result.failed == 0, result.output[-3000:]
    made, seen, gone = recorded(tmp_path)
    assert made["changed"] and seen["exists"] and seen["volume"]["name"] == "data" and gone["changed"]
    assert agent_pids(), "the tasks ran on a dev agent"
    assert any(dev_prefix().glob("run/agent-*.sock"))


def test_the_container_payload_carries_no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_KEEP_REMOTE_FILES", "1")
    monkeypatch.setenv("ANSIBLE_REMOTE_TMP", str(tmp_path / "remote"))
    monkeypatch.setenv("BERTH_DIRECT_CALL", "0")   # the module run, as where the direct call leaves a task to it
    task = {"name": "nobody", "state": "absent", **_roots(tmp_path)}
    play = write_playbook(tmp_path, [{"berth.engine.container": task}])
    result = run_playbook(play, check=True)
    assert result.failed == 0, result.output[-3000:]
    [payload] = (tmp_path / "remote").glob("*/AnsiballZ_container.py")
    names = _zipped(payload.read_text())
    ours = [n for n in names if "/berth/engine/" in n]
    assert "ansible_collections/berth/engine/plugins/module_utils/ansible/remote.py" in ours
    assert not [n for n in ours if ENGINE_FILES.search(n)], ours
    assert not [n for n in names if "pydantic" in n]


def test_an_installed_host_gets_the_direct_call_and_no_payload(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the engine installed, a task ships no module: the action plugin's client hands it to the agent
    (plugin_utils/direct_call.py). Bad parameters still get the module's own words."""
    monkeypatch.setenv("ANSIBLE_KEEP_REMOTE_FILES", "1")
    monkeypatch.setenv("ANSIBLE_REMOTE_TMP", str(tmp_path / "remote"))
    roots = _roots(tmp_path)
    play = write_playbook(tmp_path, [
        {"berth.engine.volume": {"name": "direct", **roots}, "register": "made"},
        {"berth.engine.volume": {"name": "direct", **roots}, "register": "again"},
        {"berth.engine.volume": {"name": "direct", "bogus": 1, **roots}, "register": "bad", "ignore_errors": True},
        {"berth.engine.volume": {"name": "direct", "state": "absent", **roots}, "register": "gone"},
        record_task(["made", "again", "bad", "gone"])])
    result = run_playbook(play)
    assert result.failed == 0, result.output[-3000:]
    made, again, bad, gone = recorded(tmp_path)
    assert made["changed"] and not again["changed"] and gone["changed"]
    assert "Unsupported parameters for (berth.engine.volume) module: bogus" in bad["msg"]
    shipped = list((tmp_path / "remote").glob("*/AnsiballZ_volume.py"))
    assert len(shipped) == 1, shipped   # only the bad-parameter task ran the module


def test_before_the_role_a_task_names_it(tmp_path: Path) -> None:
    play = write_playbook(tmp_path, [{"berth.engine.volume_info": _roots(tmp_path), "register": "r",
                                      "environment": {"BERTH_PREFIX": str(tmp_path / "nothing")},
                                      "ignore_errors": True}, record_task(["r"])])
    run_playbook(play)
    [failed] = recorded(tmp_path)
    assert failed["failed"] and "not installed" in failed["msg"] and "berth.engine.host role" in failed["msg"]


def test_a_host_with_another_engine_runs_nothing(tmp_path: Path) -> None:
    other = tmp_path / "other"
    write_install(other, "0" * 64)
    play = write_playbook(tmp_path, [{"berth.engine.volume": {"name": "x", **_roots(tmp_path)}, "register": "r",
                                      "environment": {"BERTH_PREFIX": str(other)}, "ignore_errors": True},
                                     record_task(["r"])])
    run_playbook(play, pin_digest=False)
    [failed] = recorded(tmp_path)
    ours = engine_digest(str(MODULE_UTILS))[:12]   # the action plugin handed the controller's digest
    assert failed["failed"] and ours in failed["msg"] and "000000000000" in failed["msg"], failed
    assert "the controller's collection is 0.1.0 (" in failed["msg"]   # BERTH_ENGINE_VERSION: only the plugin sets it
    assert "re-run the berth.engine.host role" in failed["msg"]
    assert not (tmp_path / "state").exists() and not (other / "run").exists()


def _zipped(source: str) -> list[str]:
    found = re.search(r"zip_data='([^']*)'", source) or re.search(r"ZIPDATA = [rb]*'''(.*?)'''", source, re.S)
    assert found, "no zip data in the AnsiballZ payload"
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(found.group(1)))).namelist()
