"""tests/support/peers.py: a missing peer skips, and fails under CI=true; tests/v2guest/vmlinux.py."""

from __future__ import annotations

import lzma
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import peers
from tests.v2guest import vmlinux

ABSENT = "berth-no-such-peer"


@pytest.fixture(params=["", "false", "0"])
def developer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", request.param)


@pytest.fixture(params=["true", "TRUE", "1"])
def ci(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", request.param)


def test_a_present_peer_passes_everywhere(ci: None) -> None:
    peers.require_peer("sh", "/bin/sh")
    assert peers.have_peer("sh")


def test_a_missing_peer_skips_on_a_developer_machine(developer: None) -> None:
    with pytest.raises(pytest.skip.Exception, match=f"needs {ABSENT} \\(why\\)"):
        peers.require_peer("sh", ABSENT, why="why")
    assert not peers.have_peer(ABSENT)


def test_a_missing_peer_fails_under_ci(ci: None, tmp_path: Path) -> None:
    not_executable = tmp_path / "peer"
    not_executable.write_text("")
    with pytest.raises(pytest.fail.Exception, match=f"needs {not_executable}: a missing peer fails under CI=true"):
        peers.require_peer(str(not_executable))
    with pytest.raises(pytest.fail.Exception, match=ABSENT):
        peers.have_peer(ABSENT)


@dataclass
class FakeItem:
    marks: list[Any] = field(default_factory=list)

    def iter_markers(self, name: str) -> list[Any]:
        return [mark for mark in self.marks if mark.name == name]


def test_the_mark_acts_at_setup(developer: None, monkeypatch: pytest.MonkeyPatch) -> None:
    item = FakeItem([peers.needs_peer("sh").mark, pytest.mark.slow(ABSENT).mark])
    peers.pytest_runtest_setup(item)  # type: ignore[arg-type]
    item.marks.append(peers.needs_peer(ABSENT, why="a reason").mark)
    with pytest.raises(pytest.skip.Exception, match="a reason"):
        peers.pytest_runtest_setup(item)  # type: ignore[arg-type]
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        peers.pytest_runtest_setup(item)  # type: ignore[arg-type]


def test_vmlinux_is_the_xz_payload_of_the_bzimage() -> None:
    elf = b"\x7fELF" + bytes(range(256)) * 4
    bzimage = b"MZ setup code \xfd7z" + lzma.compress(elf, format=lzma.FORMAT_XZ) + b"\0trailer"
    assert vmlinux.extract(bzimage) == elf
    with pytest.raises(SystemExit, match="no xz"):
        vmlinux.extract(b"MZ gzip payload")
    with pytest.raises(SystemExit, match="not an ELF"):
        vmlinux.extract(b"MZ" + lzma.compress(b"data", format=lzma.FORMAT_XZ))
