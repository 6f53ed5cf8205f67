"""The config a stage carries, BuildKit's history strings, and what the cache keys cover."""

from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.build import config as cfg
from ansible_collections.berth.engine.plugins.module_utils.build import history, keys
from ansible_collections.berth.engine.plugins.module_utils.build.expand import Expander
from ansible_collections.berth.engine.plugins.module_utils.build.model import StageState
from ansible_collections.berth.engine.plugins.module_utils.build.stages import load
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput


def _instructions(text: str) -> list:
    return list(load("FROM scratch\n" + text).stages[0].instructions)


def _state(doc: dict | None = None) -> StageState:
    return StageState(name="0", record=None, config=doc or cfg.from_base(cfg.scratch_config()))


def _apply(text: str, state: StageState | None = None) -> tuple[dict, list[str | None]]:
    state = state or _state()
    lines = []
    for instr in _instructions(text):
        if type(instr).__name__ not in ("Cmd", "Entrypoint", "Shell", "Onbuild"):   # as the executor expands
            instr = instr.expand(Expander(), keys.expansion_env(state))
        lines.append(cfg.apply_metadata(state.config, instr, state))
    return state.config, lines


def test_scratch_gets_the_default_path_and_loses_onbuild() -> None:
    base = cfg.scratch_config()
    base["config"]["OnBuild"] = ["RUN true"]
    doc = cfg.from_base(base)
    assert cfg.env_of(doc) == {"PATH": cfg.DEFAULT_PATH}
    assert "OnBuild" not in doc["config"] and base["config"]["OnBuild"] == ["RUN true"]


def test_env_replaces_in_place_and_appends() -> None:
    doc, lines = _apply("ENV A=1 B=2\nENV A=3\n")
    assert doc["config"]["Env"] == [f"PATH={cfg.DEFAULT_PATH}", "A=3", "B=2"]
    assert lines == ["ENV A=1 B=2", "ENV A=3"]


def test_cmd_and_entrypoint_interplay() -> None:
    state = _state()
    state.config["config"]["Cmd"] = ["inherited"]
    doc, lines = _apply('ENTRYPOINT ["/bin/app"]\n', state)
    assert doc["config"]["Cmd"] is None   # an inherited CMD is reset by ENTRYPOINT
    assert lines == ['ENTRYPOINT ["/bin/app"]']
    state = _state()
    doc, lines = _apply('CMD ["--flag"]\nENTRYPOINT /bin/app -v\n', state)
    assert doc["config"]["Cmd"] == ["--flag"]   # a CMD of this stage stays
    assert doc["config"]["Entrypoint"] == ["/bin/sh", "-c", "/bin/app -v"]
    assert lines[1] == 'ENTRYPOINT ["/bin/sh" "-c" "/bin/app -v"]'


def test_shell_changes_the_shell_form() -> None:
    doc, lines = _apply('SHELL ["/bin/bash", "-eu", "-c"]\nCMD echo hi\n')
    assert doc["config"]["Cmd"] == ["/bin/bash", "-eu", "-c", "echo hi"]
    assert lines[0] == "SHELL [/bin/bash -eu -c]"


def test_expose_volume_label_user_stopsignal_maintainer() -> None:
    doc, lines = _apply("EXPOSE 80 53/udp 8000-8001\nVOLUME /data /logs\nLABEL a=b c=\"d e\"\n"
                        "USER app:staff\nSTOPSIGNAL SIGQUIT\nMAINTAINER ops <ops@example.com>\n")
    conf = doc["config"]
    assert conf["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}
    assert conf["Volumes"] == {"/data": {}, "/logs": {}}
    assert conf["Labels"] == {"a": "b", "c": "d e"}
    assert conf["User"] == "app:staff" and conf["StopSignal"] == "SIGQUIT"
    assert doc["author"] == "ops <ops@example.com>"
    assert lines[0] == "EXPOSE map[53/udp:{} 80/tcp:{} 8000/tcp:{} 8001/tcp:{}]"
    assert lines[1] == "VOLUME [/data /logs]"


@pytest.mark.parametrize("port", ["0", "70000", "80/icmp", "x"])
def test_bad_expose_names_the_fix(port: str) -> None:
    with pytest.raises(InvalidInput) as err:
        _apply(f"EXPOSE {port}\n")
    assert err.value.field == "build.dockerfile"


def test_healthcheck_and_none() -> None:
    doc, lines = _apply("HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD wget -q localhost\n")
    check = doc["config"]["Healthcheck"]
    assert check["Interval"] == 30 * 10**9 and check["Timeout"] == 3 * 10**9 and check["Retries"] == 2
    assert check["Test"][0] in ("CMD-SHELL", "CMD")
    assert lines[0].startswith("HEALTHCHECK {Test:[") and "Interval:30s Timeout:3s" in lines[0]
    doc, _lines = _apply("HEALTHCHECK NONE\n")
    assert doc["config"]["Healthcheck"] == {"Test": ["NONE"]}


def test_onbuild_is_stored_without_history() -> None:
    doc, lines = _apply("ONBUILD RUN echo child\n")
    assert doc["config"]["OnBuild"] == ["RUN echo child"]
    assert lines == [None]


DURATIONS = [(0, "0s"), (0.5, "500ms"), (30, "30s"), (90, "1m30s"), (3600, "1h0m0s")]


@pytest.mark.parametrize(("seconds", "text"), DURATIONS)
def test_go_durations(seconds: float, text: str) -> None:
    assert history.go_duration(seconds) == text


def test_run_history_lists_the_build_args() -> None:
    assert history.run_created_by(["/bin/sh", "-c", "make"], [("A", "1"), ("B", "x y")]) == \
        "RUN |2 A=1 B=x y /bin/sh -c make # buildkit"
    assert history.run_created_by(["/bin/sh", "-c", "make"], []) == "RUN /bin/sh -c make # buildkit"


def test_keys_ignore_the_line_and_see_the_content() -> None:
    first = _instructions("ENV A=1\n")[0]
    moved = _instructions("\n\n# moved\nENV A=1\n")[0]
    other = _instructions("ENV A=2\n")[0]
    assert first.line != moved.line
    assert keys.fields_of(first) == keys.fields_of(moved)
    assert keys.digest({"parent": "p", "fields": keys.fields_of(first)}) == \
        keys.digest({"parent": "p", "fields": keys.fields_of(moved)})
    assert keys.digest({"parent": "p", "fields": keys.fields_of(first)}) != \
        keys.digest({"parent": "p", "fields": keys.fields_of(other)})
    assert keys.digest({"parent": "p"}) != keys.digest({"parent": "q"})


def test_run_env_has_args_env_and_proxies() -> None:
    state = _state()
    state.args = {"VERSION": "1", "APP": "from-arg"}
    cfg.set_env(state.config, "APP", "from-env")
    env = keys.expansion_env(state)
    assert env["APP"] == "from-env" and env["VERSION"] == "1"   # ENV wins over an ARG of the same name
    run = keys.run_env(state, {"HTTP_PROXY": "http://proxy:3128", "OTHER": "x"})
    assert run["HTTP_PROXY"] == "http://proxy:3128" and "OTHER" not in run
