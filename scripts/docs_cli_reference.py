"""Write the `berth` and `berth-runtime` CLI references (MyST Markdown) from their own argparse parsers.

scripts/docs.sh runs this at build time, so the pages list exactly the verbs and flags the CLI has
when the site is built: nothing to keep in step by hand. Usage: docs_cli_reference.py OUT_DIR
"""

from __future__ import annotations

import argparse
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _import_collection() -> None:
    """Make ``ansible_collections.berth.engine`` this checkout, as bin/berth does (no Ansible needed)."""
    for name, path in (("ansible_collections", None), ("ansible_collections.berth", None),
                       ("ansible_collections.berth.engine", str(REPO))):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = [path] if path else []
            sys.modules[name] = module


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each direct subcommand, aliases folded into their verb."""
    for action in parser._actions:  # argparse has no public walk over subparsers
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        seen: set[int] = set()
        for name, sub in action.choices.items():
            if id(sub) in seen or helps.get(name) == argparse.SUPPRESS:  # aliases, hidden verbs
                continue
            _hide_hidden_verbs(sub)
            seen.add(id(sub))
            yield name, helps.get(name, ""), sub


def _walk(parser: argparse.ArgumentParser, path: list[str]) -> Iterator[tuple[list[str], str, argparse.ArgumentParser]]:
    for name, text, sub in _subcommands(parser):
        yield [*path, name], text, sub
        yield from _walk(sub, [*path, name])


def _hide_hidden_verbs(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The parser, its verbs shown as COMMAND in the usage line (not a {run,create,...} line wider than
    the page), without its hidden verbs and flags. argparse tests ``help is SUPPRESS`` by identity, so a
    hidden one whose help is an equal string of its own (berth-runtime's) would print "==SUPPRESS==".
    Changes only this build's parser objects, which nothing else uses."""
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            action.help = argparse.SUPPRESS
        if isinstance(action, argparse._SubParsersAction):
            action.metavar = action.metavar or "COMMAND"
            hidden = {c.dest for c in action._choices_actions if c.help == argparse.SUPPRESS}
            action._choices_actions = [c for c in action._choices_actions if c.dest not in hidden]
            for name in hidden:
                del action.choices[name]
    return parser


def _help(parser: argparse.ArgumentParser) -> str:
    return _hide_hidden_verbs(parser).format_help().rstrip()


def _page(title: str, intro: str, parser: argparse.ArgumentParser) -> str:
    lines = [f"# {title}", "", intro, "", "```text", _help(parser), "```", ""]
    for path, text, sub in _walk(parser, []):
        depth = "#" * min(len(path) + 1, 4)
        lines += [f"{depth} {parser.prog} {' '.join(path)}", "", text.rstrip(".") + "." if text else "", ""]
        lines += ["```text", _help(sub), "```", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: docs_cli_reference.py OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    os.environ["COLUMNS"] = "110"  # argparse wraps help to the terminal; the page has a fixed width
    _import_collection()
    from ansible_collections.berth.engine.plugins.module_utils.cli import main as berth_cli
    from ansible_collections.berth.engine.plugins.module_utils.runtime import cli as runtime_cli

    generated = "Generated from the CLI's own parser when this site was built."
    (out / "cli_reference.md").write_text(_page(
        "berth CLI reference", f"Every verb of `bin/berth` and its flags. {generated}", berth_cli._parser()))
    (out / "runtime_reference.md").write_text(_page(
        "berth-runtime CLI reference", f"Every command of `bin/berth-runtime` and its flags. {generated}",
        runtime_cli._parser()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
