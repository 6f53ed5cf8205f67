"""The typed input of the ``container_copy_into`` module (pydantic), with
community.docker's ``docker_container_copy_into`` option names.

Each field is an option of the module with its documented default; the
contract test (tests/unit/test_module_contract.py) holds them equal to the
argument spec and DOCUMENTATION. The cross-option rules (one source, owner
and group together, a mode for content) are the plan's (copy_into_plan.py),
so a CLI or a test that builds the request directly gets them too."""

from __future__ import annotations

from .models import EngineOptions, StrictModel


class CopyIntoRequest(StrictModel):
    engine: EngineOptions = EngineOptions()
    container: str
    container_path: str
    path: str | None = None
    content: str | None = None
    content_is_b64: bool = False
    mode: int | str | None = None
    owner_id: int | None = None
    group_id: int | None = None
    follow: bool = False
    local_follow: bool = True
    force: bool | None = None
    ignore_stopped_containers: bool = False
