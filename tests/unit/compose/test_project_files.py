"""Configs and secrets from environment and content: planned as writes under
the project's directory of the state root (check mode writes nothing), bound
read-only, covered by the config hash; external ones and unset variables
are errors naming the key; a down removes the directory."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose import project_files, specs
from ansible_collections.berth.engine.plugins.module_utils.compose import steps as st
from ansible_collections.berth.engine.plugins.module_utils.compose.model import Project
from ansible_collections.berth.engine.plugins.module_utils.compose.plan import UpOptions, plan_project
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

IMAGE_ID = "sha256:" + "ab" * 32


def _project(tmp_path: Path, refs: dict[str, list[Any]], environment: dict[str, str] | None = None,
             **declared: Any) -> Project:
    service = {"image": "busybox", "network_mode": "none", **refs}
    return Project(name="shop", working_dir=str(tmp_path), config_files=[], services={"app": service},
                   environment=environment or {}, **declared)


def _plan(engine: Engine, project: Project, **options: Any) -> Any:
    return plan_project(engine.view(), project, UpOptions(pull="never", **options))


def _apply_writes(engine: Engine, project: Project) -> None:
    """Execute only the plan's file steps (the containers need a kernel)."""
    for step in plan_project(engine, project, UpOptions(pull="never")).steps:
        if isinstance(step, (st.WriteProjectFile, st.RemoveProjectFile)):
            step.execute(st.Runner(engine))


def _mounts(plan: Any) -> list[dict[str, Any]]:
    """The create's binds, short syntax (written files) and long alike."""
    create = next(s for s in plan.steps if isinstance(s, st.CreateContainer))
    short = [dict(zip(("source", "target", "read_only"), v.rsplit(":", 2), strict=True)) for v in create.spec.volumes]
    return [*short, *(dict(m) for m in create.spec.mounts)]


def test_environment_secret_and_content_config_are_written_then_bound(tmp_path: Path, engine: Engine) -> None:
    project = _project(tmp_path, {"secrets": [{"source": "token"}], "configs": [{"source": "motd"}]},
                       {"TOKEN": "s3cret"}, secrets={"token": {"environment": "TOKEN"}},
                       configs={"motd": {"content": "hello shop"}})
    root = project_files.files_root(engine.layout.state_root, "shop")
    plan = _plan(engine, project)
    assert plan.actions()[:2] == ["wrote config: motd", "wrote secret: token"]
    assert "s3cret" not in repr(plan.steps) and not root.exists()   # check mode writes nothing, shows no secret
    bound = {m["target"]: m for m in _mounts(plan)}
    assert bound["/run/secrets/token"]["source"] == str(root / "secrets" / "token")
    assert bound["/motd"]["source"] == str(root / "configs" / "motd")
    assert all(m["read_only"] for m in bound.values())
    _apply_writes(engine, project)
    secret = root / "secrets" / "token"
    assert secret.read_bytes() == b"s3cret" and stat.S_IMODE(secret.stat().st_mode) == 0o444
    assert all(stat.S_IMODE(d.stat().st_mode) == 0o700 for d in (root.parent, root, secret.parent))
    assert not [s for s in _plan(engine, project).steps if isinstance(s, st.WriteProjectFile)]


def test_long_syntax_mode_and_owner_are_honoured(tmp_path: Path, engine: Engine) -> None:
    project = _project(tmp_path, {"secrets": [{"source": "token", "mode": 0o440, "uid": "1000", "gid": "1001",
                                               "target": "app_token"}]},
                       {"TOKEN": "x"}, secrets={"token": {"environment": "TOKEN"}})
    _apply_writes(engine, project)
    written = project_files.files_root(engine.layout.state_root, "shop") / "secrets" / "token@440-1000-1001"
    info = written.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o440, 1000, 1001)
    assert {m["target"] for m in _mounts(_plan(engine, project, recreate="always"))} == {"/run/secrets/app_token"}
    with pytest.raises(InvalidInput) as bad:
        _plan(engine, _project(tmp_path, {"secrets": [{"source": "token", "mode": "9z"}]}, {"TOKEN": "x"},
                               secrets={"token": {"environment": "TOKEN"}}))
    assert bad.value.field == "secrets.token.mode"


def test_the_content_is_in_the_config_hash(tmp_path: Path) -> None:
    def digest(value: str) -> str:
        project = _project(tmp_path, {"secrets": [{"source": "token"}]}, {"TOKEN": value},
                           secrets={"token": {"environment": "TOKEN"}})
        return specs.config_hash(project, "app", project.services["app"])

    assert digest("a") == digest("a") != digest("b")


@pytest.mark.parametrize(("declared", "field"), [
    ({"secrets": {"token": {"environment": "UNSET_ONE"}}}, "secrets.token.environment"),
    ({"secrets": {"token": {"external": True}}}, "secrets.token.external"),
    ({"secrets": {}}, "secrets.token"),
])
def test_unusable_secrets_name_their_key(tmp_path: Path, engine: Engine, declared: dict[str, Any],
                                         field: str) -> None:
    with pytest.raises(InvalidInput) as bad:
        _plan(engine, _project(tmp_path, {"secrets": ["token"]}, {}, **declared))
    assert bad.value.field == field and bad.value.hint


def test_file_based_ones_keep_their_file_and_warn_about_mode(tmp_path: Path, engine: Engine) -> None:
    (tmp_path / "key.txt").write_text("k")
    project = _project(tmp_path, {"secrets": [{"source": "key", "mode": 0o400}]},
                       secrets={"key": {"file": str(tmp_path / "key.txt")}})
    plan = _plan(engine, project)
    assert not [s for s in plan.steps if isinstance(s, st.WriteProjectFile)]
    assert {m["source"] for m in _mounts(plan)} == {str(tmp_path / "key.txt")}
    assert any("mode of a file-based secret are ignored" in w for w in plan.warnings)


def test_unused_files_go_and_down_removes_the_directory(tmp_path: Path, engine: Engine) -> None:
    project = _project(tmp_path, {"configs": ["motd"]}, configs={"motd": {"content": "hi"}, "old": {"content": "x"}})
    _apply_writes(engine, project)
    root = project_files.files_root(engine.layout.state_root, "shop")
    (root / "configs" / "old").write_text("x")
    assert "removed config file: old" in _plan(engine, project).actions()
    down = plan_project(engine, project, UpOptions(state="absent"))
    assert down.actions() == [f"removed configs and secrets: {root}"]
    down.execute(engine)
    assert not root.exists()
    assert _plan(engine, project, state="absent").actions() == []
