"""Option names and types as community.docker's docker_container: ``pull``
takes booleans too, ``healthy_wait_timeout`` (old name kept as an alias) and
``cpus`` are floats."""

from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible import argspecs
from ansible_collections.berth.engine.plugins.module_utils.ansible.container_plan import ContainerTask, pull_policy
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput


@pytest.mark.parametrize(("given", "policy"), [
    (None, "missing"), (True, "always"), (False, "missing"), ("always", "always"), ("never", "never"),
    ("missing", "missing"), ("yes", "always"), ("no", "missing"), (" Always ", "always")])
def test_pull_takes_a_policy_or_a_boolean(given: object, policy: str) -> None:
    assert pull_policy(given) == policy


def test_a_bad_pull_names_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        pull_policy("sometimes")
    assert caught.value.field == "pull" and "never, missing or always" in (caught.value.hint or "")


def test_healthy_wait_timeout_keeps_the_old_name_and_cpus_is_a_float() -> None:
    assert argspecs.CONTAINER_TASK_SPEC["healthy_wait_timeout"]["aliases"] == ["healthy_timeout"]
    assert argspecs.CONTAINER_TASK_SPEC["healthy_wait_timeout"]["type"] == "float"
    assert argspecs.CONTAINER_OPTIONS["cpus"]["type"] == "float"
    task = ContainerTask.from_params({"name": "web", "healthy_wait_timeout": 12.5, "pull": True})
    assert task.healthy_timeout == 12.5 and task.pull == "always"


def test_an_option_given_by_its_alias_validates() -> None:
    """AnsibleModule leaves the alias beside the option's own name; the strict model sees only the latter."""
    from ansible_collections.berth.engine.plugins.module_utils.ansible.container_models import (
        CONTAINER_MODEL,
        without_aliases,
    )
    from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import validate

    params = {"name": "web", "image": "busybox", "ports": ["8080:80"], "published_ports": ["8080:80"],
              "healthy_timeout": 30, "healthy_wait_timeout": 30}
    values = validate(CONTAINER_MODEL, without_aliases(params)).model_dump()
    assert values["published_ports"] == ["8080:80"] and values["healthy_wait_timeout"] == 30
