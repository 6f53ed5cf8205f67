from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import run_module, validate
from ansible_collections.berth.engine.plugins.module_utils.ansible.models import EngineOptions, HostInfoRequest
from ansible_collections.berth.engine.plugins.module_utils.cli import main as cli
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import (
    Conflict,
    InvalidInput,
    InvalidState,
    NotFound,
)
from ansible_collections.berth.engine.plugins.module_utils.layout import Layout
from ansible_collections.berth.engine.plugins.module_utils.mountinfo import parse_line


class FakeModule:
    """Just enough of AnsibleModule to see what run_module reports."""

    def __init__(self) -> None:
        self.result: dict[str, Any] | None = None
        self.failed = False

    def exit_json(self, **kwargs: Any) -> None:
        self.result = kwargs
        raise SystemExit(0)

    def fail_json(self, **kwargs: Any) -> None:
        self.result, self.failed = kwargs, True
        raise SystemExit(1)


def test_relative_state_root_names_field_and_fix() -> None:
    with pytest.raises(InvalidInput) as err:
        validate(HostInfoRequest, {"engine": {"state_root": "var/lib/berth"}})
    assert err.value.field == "engine.state_root"
    assert "absolute path" in str(err.value)
    assert "var/lib/berth" in str(err.value)


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(InvalidInput) as err:
        validate(EngineOptions, {"state_rot": "/x"})
    assert err.value.field == "state_rot"


def test_layout_rejects_relative_roots() -> None:
    with pytest.raises(InvalidInput, match="run_root"):
        Layout(Path("/var/lib/berth"), Path("run"))


@pytest.mark.parametrize("error, kind", [
    (NotFound("image 'x' does not exist", field="name"), "not_found"),
    (Conflict("volume in use", field="name", hint="stop the container first"), "conflict"),
    (InvalidState("bad state"), "invalid_state"),
])
def test_errors_map_to_fail_json_in_one_place(error: Exception, kind: str) -> None:
    module = FakeModule()

    def action() -> dict[str, Any]:
        raise error

    with pytest.raises(SystemExit):
        run_module(module, action)
    assert module.failed
    assert module.result is not None
    assert module.result["error"]["kind"] == kind
    assert module.result["msg"] == str(error)


def test_success_exits_with_result() -> None:
    module = FakeModule()
    with pytest.raises(SystemExit):
        run_module(module, lambda: {"changed": False, "x": 1})
    assert module.result == {"changed": False, "x": 1}


def test_error_message_carries_field_and_hint() -> None:
    err = Conflict("volume 'data' is in use by web", field="name", hint="remove web first")
    assert str(err) == "name: volume 'data' is in use by web (remove web first)"
    assert err.as_dict()["hint"] == "remove web first"


def test_mountinfo_parses_escapes_and_optional_fields() -> None:
    line = ("36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 shared:2 - ext3 /dev/root "
            "rw,errors=continue")
    entry = parse_line(line)
    assert entry.mount_point == "/mnt/with space"
    assert entry.optional == ("master:1", "shared:2")
    assert (entry.fstype, entry.source) == ("ext3", "/dev/root")
    assert entry.super_options == ("rw", "errors=continue")


def test_layout_version_mismatch_is_refused(tmp_path: Path) -> None:
    Engine.open(tmp_path / "s", tmp_path / "r")
    (tmp_path / "s" / "layout-version").write_text("99\n")
    with pytest.raises(InvalidState, match="layout version 99"):
        Engine.open(tmp_path / "s", tmp_path / "r")


def test_cli_info_does_not_create_the_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "never"
    assert cli.main(["--state-root", str(root), "info", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["store"]["initialized"] is False
    assert not root.exists()


def test_cli_fsck_reports_corruption(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = Engine.open(tmp_path / "s", tmp_path / "r")
    digest = engine.blobs.put_bytes(b"payload")
    engine.blobs.path(digest).write_bytes(b"rot")
    code = cli.main(["--state-root", str(tmp_path / "s"), "--run-root", str(tmp_path / "r"), "--json", "fsck"])
    assert code == 1
    assert json.loads(capsys.readouterr().out)["corrupt"] == [digest]


def test_cli_reports_engine_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--state-root", "relative", "info"]) == 1
    assert "invalid_input" in capsys.readouterr().err
