"""The argparse-free path parses exactly what argparse parses, or steps aside."""

from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.runtime import cli, fastargs

SAME = [
    ["create", "c1"],
    ["--root", "/run/x", "--log", "/tmp/log", "--log-format", "json", "create", "--bundle", "/b",
     "--pid-file", "/p", "--console-socket", "/s", "c1"],
    ["--root=/r", "--systemd-cgroup", "create", "-b", "/b", "--no-pivot", "--preserve-fds=2", "c1"],
    ["run", "-d", "--keep", "-b", "/b", "c1"],
    ["run", "c1", "--bundle", "/b"],
    ["start", "c1"],
    ["state", "c1"],
    ["kill", "c1"],
    ["kill", "--all", "c1", "KILL"],
    ["kill", "c1", "9"],
    ["delete", "--force", "c1"],
    ["delete", "c1"],
]
ASIDE = [
    [], ["-h"], ["create", "-h"], ["create"], ["create", "a", "b"], ["exec", "c1", "ls"], ["ps", "c1"],
    ["create", "--bogus", "c1"], ["create", "--bundle"], ["--log-format", "xml", "state", "c1"],
    ["create", "--preserve-fds", "x", "c1"], ["--version"], ["state", "c1", "extra"],
]


@pytest.mark.parametrize("argv", SAME, ids=" ".join)
def test_fast_path_agrees_with_argparse(argv: list[str]) -> None:
    fast = fastargs.parse(argv, cli.DEFAULT_ROOT)
    assert fast is not None
    slow = vars(cli._parser().parse_args(argv))
    slow.pop("handler")
    for key, value in slow.items():
        assert fast.get(key, None if value is None else value if isinstance(value, bool) and not value else
                        object()) == value, key


@pytest.mark.parametrize("argv", ASIDE, ids=lambda a: " ".join(a) or "(empty)")
def test_anything_else_goes_to_argparse(argv: list[str]) -> None:
    assert fastargs.parse(argv, cli.DEFAULT_ROOT) is None
