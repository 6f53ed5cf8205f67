"""Every file under corpus/invalid/ fails with InvalidInput naming the bad
key's path (its ``# field:`` header), the message starting with the file's
name (where the error belongs to a file) and holding ``# message:`` if given."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose.loader import load_project
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

CORPUS = Path(__file__).parent / "corpus" / "invalid"
CASES = sorted(p.name for p in CORPUS.glob("*.yml"))
NOT_FROM_A_FILE = {"depends_on_cycle"}  # a cycle is the project's, not one file's


def _headers(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if not line.startswith("# "):
            break
        key, _sep, value = line[2:].partition(": ")
        out[key] = value.replace("@FILE@", str(path))
    return out


def test_enough_invalid_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("name", CASES)
def test_invalid_file(name: str) -> None:
    path = CORPUS / name
    headers = _headers(path)
    with pytest.raises(InvalidInput) as caught:
        load_project([str(path)], project_dir=str(CORPUS), environ={})
    err = caught.value
    assert err.field == headers["field"], err
    if path.stem not in NOT_FROM_A_FILE:
        assert err.message.startswith(str(path)), err.message
    if "message" in headers:
        assert headers["message"] in err.message
