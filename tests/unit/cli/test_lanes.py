"""A verb's process builds only its own files' parsers (cli/main.py LANES): each
verb of the full CLI is in the table, and its lane defines it with the same handlers."""

from __future__ import annotations

import argparse

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cli import main


def _verbs(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


FULL_PARSER, FULL_COMMANDS = main.parser()


def test_every_verb_has_a_lane() -> None:
    assert _verbs(FULL_PARSER) == set(main.LANES)


@pytest.mark.parametrize("verb", sorted(main.LANES))
def test_a_lane_defines_its_verb_as_the_full_cli_does(verb: str) -> None:
    parser, commands = main.parser(verb)
    assert verb in _verbs(parser)
    mine = {key: handler for key, handler in FULL_COMMANDS.items() if key.split(" ", maxsplit=1)[0] == verb}
    assert mine and all(commands.get(key) == handler for key, handler in mine.items())


def test_no_verb_or_an_unknown_one_builds_every_verb() -> None:
    assert _verbs(main.parser(None)[0]) == _verbs(main.parser("nosuchverb")[0]) == set(main.LANES)
