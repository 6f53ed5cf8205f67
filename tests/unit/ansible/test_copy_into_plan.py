"""The container_copy_into plan: the source read, the mode parsed, what counts as a difference, force's
three settings, the diff's text and markers, and the plan over a stand-in container (the real ones are in
tests/integration/test_container_copy_into.py)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible import copy_into_plan as planner
from ansible_collections.berth.engine.plugins.module_utils.ansible.copy_into_models import CopyIntoRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.copy_into_plan import (
    WriteFile,
    differences,
    needs_write,
    parse_mode,
    read_source,
    text_diff,
)
from ansible_collections.berth.engine.plugins.module_utils.containers.file_into import ABSENT, Entry
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

FILE = Entry("file", 0o644, 0, 0, 6, "d1", text="hello\n")


def _request(**options: Any) -> CopyIntoRequest:
    return CopyIntoRequest(container="box", container_path="/etc/f", **options)


@pytest.mark.parametrize(("given", "mode"), [(0o644, 0o644), ("0644", 0o644), ("644", 0o644), ("0o4755", 0o4755),
                                             (None, None)])
def test_modes(given: Any, mode: int | None) -> None:
    assert parse_mode(given) == mode


@pytest.mark.parametrize("bad", ["rw-r--r--", "0999", "", "77777", True, 0o10000, -1])
def test_bad_modes_name_the_option(bad: Any) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_mode(bad)
    assert err.value.field == "mode"


def test_sources(tmp_path: Path) -> None:
    source, wanted = read_source(_request(content="hello\n", mode="0600"))
    assert source.content == b"hello\n" and (wanted.kind, wanted.mode, wanted.text) == ("file", 0o600, "hello\n")
    source, wanted = read_source(_request(content=base64.b64encode(b"\0bin").decode(), content_is_b64=True,
                                          mode=0o644))
    assert source.content == b"\0bin" and wanted.binary and wanted.text is None
    local = tmp_path / "f"
    local.write_text("local\n")
    local.chmod(0o751)
    (tmp_path / "ln").symlink_to("f")
    source, wanted = read_source(_request(path=str(local)))
    assert source.path == str(local) and wanted.mode == 0o751          # the local file's mode by default
    source, wanted = read_source(_request(path=str(tmp_path / "ln"), local_follow=False))
    assert source.target == "f" and wanted.kind == "symlink"           # the link itself
    assert read_source(_request(path=str(tmp_path / "ln")))[0].path == str(tmp_path / "ln")


@pytest.mark.parametrize(("options", "field"), [
    ({}, "content"), ({"content": "a", "path": "/x", "mode": 1}, "path"), ({"content": "a"}, "mode"),
    ({"content": "%%", "content_is_b64": True, "mode": 1}, "content"), ({"path": "/no/such/file"}, "path"),
    ({"path": "/dev/null"}, "path")])
def test_bad_sources_name_the_option(options: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        read_source(_request(**options))
    assert err.value.field == field


def test_differences_and_force() -> None:
    assert differences(FILE, FILE) == [] and not needs_write(FILE, FILE, None, "/f")
    changed = Entry("file", 0o600, 1, 2, 6, "d2")
    assert [d["option"] for d in differences(FILE, changed)] == ["content", "mode", "owner_id", "group_id"]
    assert differences(ABSENT, FILE) == [{"option": "kind", "before": "absent", "after": "file"}]
    assert needs_write(FILE, FILE, True, "/f")                     # force: true writes anyway
    assert not needs_write(FILE, changed, False, "/f")             # force: false leaves what is there
    assert needs_write(ABSENT, FILE, False, "/f")
    with pytest.raises(InvalidInput):
        needs_write(Entry("directory", 0o755, 0, 0), FILE, None, "/f")
    assert not needs_write(Entry("directory", 0o755, 0, 0), FILE, False, "/f")


def test_the_diff_is_text_or_markers() -> None:
    diff = text_diff("/etc/f", ABSENT, FILE, None)
    assert diff == {"before_header": "/etc/f", "after_header": "/etc/f", "before": "", "after": "hello\n"}
    marked = text_diff("/etc/f", Entry("file", binary=True), Entry("file", larger=True), "/src/f")
    assert marked["dst_binary"] == 1 and marked["src_larger"] and "before" not in marked
    assert marked["after_header"] == "/src/f"
    assert text_diff("/l", Entry("symlink", target="/x"), FILE, None)["before"] == "/x"


def test_the_plan_over_a_stand_in_container(monkeypatch: pytest.MonkeyPatch) -> None:
    record = type("Record", (), {"id": "c" * 64, "name": "box"})()
    monkeypatch.setattr(planner, "_container", lambda _engine, _ref: record)
    monkeypatch.setattr(planner, "is_running", lambda _record: True)
    monkeypatch.setattr(planner, "default_owner", lambda _engine, _record: (5, 6))
    found: dict[str, Entry] = {"/etc/f": ABSENT}
    monkeypatch.setattr(planner, "look", lambda _e, _r, path, **_kw: (path, found[path]))
    plan = planner.plan_copy_into(object(), _request(content="hello\n", mode="0644"))   # type: ignore[arg-type]
    [step] = plan.steps
    assert isinstance(step, WriteFile) and (step.mode, step.uid, step.gid) == (0o644, 5, 6)
    assert plan.actions() == ["write /etc/f (mode 0644, owner 5:6)"]
    result = plan.result()
    assert result["changed"] and result["container_path"] == "/etc/f" and result["mode"] == "0644"
    assert result["diff"]["after"] == "hello\n" and (result["owner_id"], result["group_id"]) == (5, 6)
    found["/etc/f"] = Entry("file", 0o644, 5, 6, 6, hashlib.sha256(b"hello\n").hexdigest(), text="hello\n")
    same = planner.plan_copy_into(object(), _request(content="hello\n", mode="0644"))   # type: ignore[arg-type]
    assert not same.steps and not same.differences and same.result()["diff"]["after"] == "hello\n"


def test_a_stopped_container_can_be_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    record = type("Record", (), {"id": "c" * 64, "name": "box"})()
    monkeypatch.setattr(planner, "_container", lambda _engine, _ref: record)
    monkeypatch.setattr(planner, "is_running", lambda _record: False)
    plan = planner.plan_copy_into(object(), _request(content="x", mode=1,   # type: ignore[arg-type]
                                                     ignore_stopped_containers=True))
    assert not plan.steps and "not running" in plan.warnings[0]


def test_owner_and_group_go_together(monkeypatch: pytest.MonkeyPatch) -> None:
    record = type("Record", (), {"id": "c" * 64, "name": "box"})()
    monkeypatch.setattr(planner, "_container", lambda _engine, _ref: record)
    monkeypatch.setattr(planner, "is_running", lambda _record: True)
    with pytest.raises(InvalidInput) as err:
        planner.plan_copy_into(object(), _request(content="x", mode=1, owner_id=3))   # type: ignore[arg-type]
    assert err.value.field == "group_id"
