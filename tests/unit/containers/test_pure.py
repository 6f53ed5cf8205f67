"""The container engine's pure parts: restart policy, backoff, health
transitions, durations, the option table, log rotation."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.containers import health, logs, options, policy
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput


@pytest.mark.parametrize(("text", "parsed"), [("no", ("no", 0)), ("on-failure:3", ("on-failure", 3)),
                                              ("always", ("always", 0)), (None, ("no", 0))])
def test_policy_parse(text: str | None, parsed: tuple[str, int]) -> None:
    assert policy.parse(text) == parsed


@pytest.mark.parametrize("text", ["sometimes", "always:3", "on-failure:x"])
def test_policy_parse_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        policy.parse(text)


def test_should_restart_and_backoff() -> None:
    assert policy.should_restart("on-failure", 2, 1, 1, False)
    assert not policy.should_restart("on-failure", 2, 1, 2, False)
    assert not policy.should_restart("on-failure", 0, 0, 0, False)
    assert policy.should_restart("always", 0, 0, 99, False)
    assert not policy.should_restart("always", 0, 1, 0, True)
    assert policy.backoff(0.0, 0.1) == 0.1 and policy.backoff(0.4, 0.1) == 0.8
    assert policy.backoff(40.0, 0.1) == 60.0 and policy.backoff(8.0, 11.0) == 0.1
    assert policy.restore_wanted("unless-stopped", False) and not policy.restore_wanted("unless-stopped", True)


@pytest.mark.parametrize(("value", "seconds"), [("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), (2, 2.0)])
def test_durations(value: object, seconds: float) -> None:
    assert health.parse_duration(value, "x") == seconds


def test_health_transitions() -> None:
    config = health.from_option({"test": "true", "retries": 2, "start_period": "10s"})
    assert health.probe_argv(config) == ["/bin/sh", "-c", "true"]
    state: dict = {"status": "starting"}
    kwargs = {"exit_code": 1, "output": "no", "start": "s", "end": "e"}
    state = health.after_probe(state, config, passed=False, in_start_period=True, **kwargs)
    assert state["status"] == "starting" and state.get("failing_streak", 0) == 0
    state = health.after_probe(state, config, passed=False, in_start_period=False, **kwargs)
    assert state["status"] == "starting" and state["failing_streak"] == 1
    state = health.after_probe(state, config, passed=False, in_start_period=False, **kwargs)
    assert state["status"] == "unhealthy"
    state = health.after_probe(state, config, passed=True, in_start_period=False, **{**kwargs, "exit_code": 0})
    assert state["status"] == "healthy" and len(state["log"]) == 4
    assert health.from_image({"Healthcheck": {"Test": ["CMD", "true"], "Interval": 5 * 10**9}})["interval"] == 5.0
    assert health.probe_argv(health.from_option({"test": ["NONE"]})) is None


def test_option_comparisons() -> None:
    how = options.comparisons({"labels": "allow_more_present"})
    current = options.build_spec("img", {"labels": {"a": "1", "b": "2"}, "env": {"X": "1"},
                                         "capabilities": ["net_admin"]})

    def differences(stated: dict, compare: dict = how) -> list:
        return options.differences(current, options.build_spec("img", stated), list(stated), compare, {})

    assert differences({"labels": {"a": "1"}}) == []
    assert differences({"capabilities": ["NET_ADMIN"]}) == []
    diff = differences({"env": {"X": "2"}, "restart_policy": "always"})
    assert [(d["option"], d["update"]) for d in diff] == [("env", "recreate"), ("restart_policy", "in_place")]
    assert differences({"env": {"X": "2"}}, options.comparisons({"env": "ignore"})) == []
    with pytest.raises(InvalidInput):
        options.comparisons({"nope": "strict"})


def test_env_file_is_read_and_merged(tmp_path: Path) -> None:
    (tmp_path / "env").write_text("# comment\nA=1\nB=two words\n")
    wanted = options.build_spec("img", options.stated({"env_file": str(tmp_path / "env"), "env": {"B": "given"},
                                                       "command": "sh -c 'x y'"}))
    assert wanted.env == {"A": "1", "B": "given"} and wanted.command == ("sh", "-c", "x y")
    (tmp_path / "bad").write_text("no equals sign\n")
    with pytest.raises(InvalidInput):
        options.stated({"env_file": str(tmp_path / "bad")})


def test_log_rotation_keeps_max_file(tmp_path: Path) -> None:
    writer = logs.LogWriter(tmp_path / "c.log", max_size=200, max_file=3)
    for index in range(30):
        writer.write("stdout", f"line {index}\n".encode())
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.log", "c.log.1", "c.log.2"]
    entries = logs.read(tmp_path / "c.log")
    assert entries[-1]["log"] == "line 29\n" and [e["log"] for e in logs.read(tmp_path / "c.log", tail=2)] == [
        "line 28\n", "line 29\n"]
