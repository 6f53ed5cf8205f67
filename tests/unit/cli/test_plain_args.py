"""The fast lane reads `run`/`create` without argparse (runargs.parse_plain):
whatever it accepts, the full CLI's argparse reads the same way (the same
namespace); whatever it leaves, the full CLI reads instead. Checked against
the full CLI's own parser, on hand-picked forms and on generated command
lines drawn from the flags' words and argparse's corner cases."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.berth.engine.plugins.module_utils.cli import fastlane, runargs
from ansible_collections.berth.engine.plugins.module_utils.cli.main import _parser

PARSER = _parser()
FUZZ = settings(max_examples=1500, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def full_cli(argv: list[str]) -> dict[str, Any] | None:
    """The full CLI's namespace for this command line; None for a usage error (or --help)."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            return vars(PARSER.parse_args(argv))
        except SystemExit:
            return None


def assert_read_alike(argv: list[str]) -> Any:
    fast = fastlane.arguments(argv)
    if fast is not None:
        assert vars(fast) == full_cli(argv), argv
    return fast


PLAIN = [
    ["run", "--rm", "--network", "none", "img", "true"],
    ["run", "img"],
    ["--state-root", "/s", "--run-root=/r", "--json", "run", "-d", "img", "sleep", "60"],
    ["create", "--json", "--name", "web", "img"],
    ["run", "-e", "A=1", "-eB=2", "--env=C=3", "-e", "D", "--label", "k=v", "img"],
    ["run", "-dP", "-p8080:80", "-p", "9000:90", "img"],
    ["run", "-de", "A=1", "img"],
    ["run", "--entrypoint", "", "img", "sh", "-c", "echo --rm -d"],
    ["run", "--oom-score-adj", "-500", "--stop-timeout", "3", "-c", "512", "img"],
    ["run", "--net", "none", "--network", "bridge", "--network-alias", "a", "--ip", "10.0.0.2", "img"],
    ["run", "--restart", "on-failure:3", "--health-cmd", "true", "--health-retries", "2", "img"],
    ["run", "--no-healthcheck", "--log-max-file", "3", "--log-opt", "max-size=1m", "img"],
    ["run", "-v", "/a:/b:ro", "--mount", "type=tmpfs,dst=/t", "--tmpfs", "/x", "img"],
    ["run", "--env-file", "/e", "--env-file", "/f", "img"],
    ["run", "-m", "512m", "--cpus", "1.5", "--device-read-bps", "/dev/sda:1mb", "img"],
    ["run", "img", "--", "x"],          # argparse drops a -- right after the image
    ["run", "img", "sh", "--", "x"],    # ... and keeps a later one
    ["run", "img", "--", "--"],
    ["run", "img", "--rm", "-d", "-h", "--cpus"],  # after the image: the command's words
    ["run", "img", "--", "--cpu"],      # an ambiguous word after a -- is just a word
    ["run", "-e=A", "img"],
    ["run", "-d=P", "img"],
    ["run", "--name=", "img"],
    ["run", "", "true"],
]
LEFT_TO_ARGPARSE = [
    ["run", "--hostn", "h", "img"],     # an abbreviation
    ["run", "img", "ls", "--netw"],     # an ambiguous one, even among the command's words
    ["run", "img", "ls", "--=x"],       # ... of the global options too
    ["run", "--", "img"],
    ["run", "-", "img"],
    ["run", "-h"],
    ["run", "--rm"],                    # no image
    ["run", "--rm=1", "img"],
    ["run", "-d=", "img"],
    ["run", "-dx", "img"],
    ["run", "--name", "-x", "img"],
    ["run", "--name", "--", "img"],
    ["run", "--name=--", "img"],
    ["run", "--stop-timeout", "soon", "img"],
    ["run", "--stop-timeout", "-1.5", "img"],
    ["create", "-d", "img"],            # create has no --detach
    ["--bogus", "run", "img"],
    ["--state-root", "-s", "run", "img"],
    ["--json=1", "run", "img"],
    ["ps"],
    [],
]


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_plain_forms_are_read_as_the_full_cli_reads_them(argv: list[str]) -> None:
    assert assert_read_alike(argv) is not None, "a plain form the fast lane should read itself"


@pytest.mark.parametrize("argv", LEFT_TO_ARGPARSE, ids=" ".join)
def test_other_forms_are_left_to_the_full_cli(argv: list[str]) -> None:
    assert fastlane.arguments(argv) is None


def test_the_full_cli_refuses_what_the_fast_lane_cannot_read() -> None:
    """Most forms left to argparse are usage errors there too (printed by the full CLI)."""
    assert full_cli(["run", "--rm"]) is None and full_cli(["run", "-dx", "img"]) is None
    assert full_cli(["run", "img", "ls", "--netw"]) is None, "argparse sorts every word before it reads any"
    assert full_cli(["run", "--hostn", "h", "img"]) is not None, "abbreviations: argparse only"


FLAG_WORDS = sorted({flag for row in runargs.rows(run=True) for flag in row[0]}
                    | {"--json", "--state-root", "--run-root"})
CORNERS = ["--", "-", "", "-h", "--netw", "--na", "-dP", "-Pd", "-de", "-eA=1", "-e=A", "-d=", "--rm=x", "--env=",
           "--name=--", "-5", "-1.5", "-x y", "A=1", "8080:80", "none", "bridge", "10", "0x10", "١٢", " 7 ",
           "1_000", "img", "true", "run", "create", "a,b", "k=v", "/a:/b", "/dev/sda:1mb", "on-failure:2"]
WORD = st.one_of(st.sampled_from(FLAG_WORDS), st.sampled_from(CORNERS), st.text(max_size=6))


@FUZZ
@given(before=st.lists(st.sampled_from(["--json", "--state-root", "/s", "--run-root=/r", "-x"]), max_size=3),
       verb=st.sampled_from(["run", "create"]), words=st.lists(WORD, max_size=10))
def test_generated_command_lines_are_read_alike_or_left(before: list[str], verb: str, words: list[str]) -> None:
    assert_read_alike([*before, verb, *words])
