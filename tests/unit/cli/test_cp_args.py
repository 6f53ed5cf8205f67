"""`berth cp`'s arguments read as Docker reads them."""

from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cli.cp import split_container_path
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput


@pytest.mark.parametrize(("argument", "expected"), [
    ("web:/etc/conf", ("web", "/etc/conf")),
    ("web:", ("web", "/")),
    ("web:relative", ("web", "relative")),
    ("/host/a:b", None),        # a host path, colon and all
    ("./a:b", None),
    ("plain-file", None),
    ("-", None),
])
def test_container_or_host(argument: str, expected: tuple[str, str] | None) -> None:
    assert split_container_path(argument) == expected


def test_an_empty_container_name_is_refused() -> None:
    with pytest.raises(InvalidInput, match="names no container"):
        split_container_path(":/etc")
