"""The CLI fast lane's argv reading (no engine, no monitor)."""

from __future__ import annotations

from ansible_collections.berth.engine.plugins.module_utils.containers import fastlane


def test_split_finds_roots_and_verb() -> None:
    roots, verb = fastlane.split(["--state-root", "/s", "--run-root=/r", "--json", "run", "-d", "img"])
    assert roots == {"--state-root": "/s", "--run-root": "/r"} and verb == "run"
    roots, verb = fastlane.split(["ps"])
    assert roots == {"--state-root": "/var/lib/berth", "--run-root": "/run/berth"} and verb == "ps"
    assert fastlane.split(["--state-root"])[1] is None


def test_no_monitor_means_the_full_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert fastlane.via_monitor(["--run-root", str(tmp_path), "run", "-d", "img"]) is None
    assert fastlane.via_monitor(["--run-root", str(tmp_path), "ps"]) is None
    fastlane.early_monitor(["--run-root", str(tmp_path / "missing"), "run", "img"], ["false"])
    assert not fastlane.SPAWNED, "no run root yet: the engine creates it and spawns the monitor itself"
