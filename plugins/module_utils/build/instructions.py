"""Typed, validated Dockerfile instructions (BuildKit's ``instructions/parse.go`` semantics).

``typed(node, path)`` checks flags and arguments; ``instr.expand(ex, env)`` returns
a copy with the fields BuildKit's builder substitutes (ADD COPY ENV EXPOSE FROM
LABEL STOPSIGNAL USER VOLUME WORKDIR, ARG, RUN's --mount values, COPY/ADD heredoc
bodies with unquoted delimiters). RUN / CMD / ENTRYPOINT / SHELL / HEALTHCHECK
commands are left to the shell at run time, ONBUILD to the image that uses it.
"""

from __future__ import annotations

import difflib
import re
import signal
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Union

from .dockerfile import Heredoc, Node, fail, json_array, maybe_heredoc, parse_words, split_command
from .expand import Expander, ExpansionError
from .flags import Flags, RunMount, parse_duration, parse_interval, parse_mount, parse_retries
from .flags import InstructionProblem as _Bad

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Self

__all__ = ["RunMount", "parse_duration"]

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
_WS = re.compile(r"[\t\v\f\r ]+")
_ONBUILD_PREFIX = re.compile(r"(?i)^\s*ONBUILD\s*")
NETWORKS = ("default", "none", "host")
SECURITIES = ("sandbox", "insecure")


def _expander_call(ex: Expander, env: Mapping[str, str], line: int) -> Callable[[str], str]:
    def one(word: str) -> str:
        try:
            return ex.word(word, env)
        except ExpansionError as err:
            raise fail(ex.path, line, err.message, err.hint) from None
    return one


@dataclass(frozen=True)
class _Base:
    def expand(self, ex: Expander, env: Mapping[str, str]) -> Self:
        return self


@dataclass(frozen=True)
class From(_Base):
    image: str
    name: str | None
    platform: str | None
    line: int = 0
    original: str = ""

    def expand(self, ex: Expander, env: Mapping[str, str]) -> From:
        """FROM sees only the meta ARGs (those before the first FROM)."""
        one = _expander_call(ex, env, self.line)
        return replace(self, image=one(self.image),
                       platform=one(self.platform) if self.platform is not None else None)


@dataclass(frozen=True)
class Run(_Base):
    command: tuple[str, ...]
    shell_form: bool
    mounts: tuple[RunMount, ...]
    network: str | None
    security: str | None
    heredocs: tuple[Heredoc, ...]
    line: int = 0
    original: str = ""
    mount_specs: tuple[str, ...] = ()   # the raw --mount values, re-read with expansion

    def expand(self, ex: Expander, env: Mapping[str, str]) -> Run:
        one = _expander_call(ex, env, self.line)
        try:
            mounts = tuple(parse_mount(spec, one) for spec in self.mount_specs)
        except ValueError as err:
            raise fail(ex.path, self.line, f"RUN --mount: {err}", getattr(err, "hint", None) or _MOUNT_HINT) from None
        return replace(self, mounts=mounts)


@dataclass(frozen=True)
class Cmd(_Base):
    command: tuple[str, ...]
    shell_form: bool
    line: int = 0
    original: str = ""


@dataclass(frozen=True)
class Entrypoint(_Base):
    command: tuple[str, ...]
    shell_form: bool
    line: int = 0
    original: str = ""


@dataclass(frozen=True)
class Shell(_Base):
    command: tuple[str, ...]
    line: int = 0
    original: str = ""


def _expand_pairs(pairs: tuple[tuple[str, str], ...], one: Callable[[str], str]) -> tuple[tuple[str, str], ...]:
    return tuple((one(key), one(value)) for key, value in pairs)


@dataclass(frozen=True)
class Env(_Base):
    pairs: tuple[tuple[str, str], ...]
    line: int = 0
    original: str = ""

    def expand(self, ex: Expander, env: Mapping[str, str]) -> Env:
        return replace(self, pairs=_expand_pairs(self.pairs, _expander_call(ex, env, self.line)))


@dataclass(frozen=True)
class Label(_Base):
    pairs: tuple[tuple[str, str], ...]
    line: int = 0
    original: str = ""

    def expand(self, ex: Expander, env: Mapping[str, str]) -> Label:
        return replace(self, pairs=_expand_pairs(self.pairs, _expander_call(ex, env, self.line)))


@dataclass(frozen=True)
class Arg(_Base):
    pairs: tuple[tuple[str, str | None], ...]
    line: int = 0
    original: str = ""

    def expand(self, ex: Expander, env: Mapping[str, str]) -> Arg:
        """Names and defaults expanded with ``env`` (the caller scopes ARG by ARG)."""
        one = _expander_call(ex, env, self.line)
        return replace(self, pairs=tuple((one(k), None if v is None else one(v)) for k, v in self.pairs))


def _expand_heredocs(docs: tuple[Heredoc, ...], ex: Expander, env: Mapping[str, str],
                     line: int) -> tuple[Heredoc, ...]:
    # BuildKit expands COPY/ADD heredoc bodies with quotes left alone and "\" as escape
    raw = _expander_call(ex.sibling(skip_quotes=True), env, line)
    return tuple(replace(doc, content=raw(doc.content)) if doc.expand else doc for doc in docs)


@dataclass(frozen=True)
class Copy(_Base):
    sources: tuple[str, ...]
    dest: str
    from_: str | None
    chown: str | None
    chmod: str | None
    link: bool
    heredocs: tuple[Heredoc, ...]
    exclude: tuple[str, ...]
    parents: bool
    line: int = 0
    original: str = ""

    def expand(self, ex: Expander, env: Mapping[str, str]) -> Copy:
        one = _expander_call(ex, env, self.line)
        return replace(self, sources=tuple(one(s) for s in self.sources), dest=one(self.dest),
                       chown=_opt(one, self.chown), chmod=_opt(one, self.chmod),
                       exclude=tuple(one(e) for e in self.exclude),
                       heredocs=_expand_heredocs(self.heredocs, ex, env, self.line))


@dataclass(frozen=True)
class Add(_Base):
    sources: tuple[str, ...]
    dest: str
    chown: str | None
    chmod: str | None
    link: bool
    checksum: str | None
    keep_git_dir: bool
    heredocs: tuple[Heredoc, ...]
    line: int = 0
    original: str = ""
    exclude: tuple[str, ...] = ()
    unpack: bool | None = None

    def expand(self, ex: Expander, env: Mapping[str, str]) -> Add:
        one = _expander_call(ex, env, self.line)
        return replace(self, sources=tuple(one(s) for s in self.sources), dest=one(self.dest),
                       chown=_opt(one, self.chown), chmod=_opt(one, self.chmod),
                       checksum=_opt(one, self.checksum), exclude=tuple(one(e) for e in self.exclude),
                       heredocs=_expand_heredocs(self.heredocs, ex, env, self.line))


def _opt(one: Callable[[str], str], value: str | None) -> str | None:
    return None if value is None else one(value)


@dataclass(frozen=True)
class Expose(_Base):
    ports: tuple[str, ...]
    line: int = 0
    original: str = ""

    def expand(self, ex: Expander, env: Mapping[str, str]) -> Expose:
        """Expanded (ProcessWords) and normalised to "port/proto" in order, ranges spelled out."""
        out: list[str] = []
        for text in self.ports:
            try:
                words = ex.words(text, env)
            except ExpansionError as err:
                raise fail(ex.path, self.line, err.message, err.hint) from None
            for word in words:
                out.extend(_port_spec(word, ex.path, self.line))
        return replace(self, ports=tuple(out))


def _port_spec(word: str, path: str, line: int) -> list[str]:
    """BuildKit's parsePort: [ip:][hostPort:]port[-end][/proto]; only the container side counts."""
    hint = "write EXPOSE 80, 80/tcp, 53/udp or 8000-8010"
    port, _slash, proto = word.split(":")[-1].partition("/")
    if not port:
        raise fail(path, line, f"EXPOSE: invalid port {word!r}: no port specified", hint)
    if proto.lower() not in ("", "tcp", "udp", "sctp"):
        raise fail(path, line, f"EXPOSE: invalid port {word!r}: invalid proto: {proto}", hint)
    start_text, sep, end_text = port.partition("-")
    start = _port_number(start_text)
    end = _port_number(end_text) if sep and end_text != start_text else start
    if start is None or end is None or end < start:
        raise fail(path, line, f"EXPOSE: invalid containerPort: {port}", hint)
    return [f"{number}/{(proto or 'tcp').lower()}" for number in range(start, end + 1)]


def _port_number(text: str) -> int | None:
    if not re.fullmatch(r"[+-]?[0-9]+", text) or not 0 <= int(text) <= 65535:
        return None
    return int(text)


@dataclass(frozen=True)
class Volume(_Base):
    paths: tuple[str, ...]
    line: int = 0
    original: str = ""

    def expand(self, ex: Expander, env: Mapping[str, str]) -> Volume:
        one = _expander_call(ex, env, self.line)
        return replace(self, paths=tuple(one(p) for p in self.paths))


@dataclass(frozen=True)
class Workdir(_Base):
    path: str
    line: int = 0
    original: str = ""

    def expand(self, ex: Expander, env: Mapping[str, str]) -> Workdir:
        return replace(self, path=_expander_call(ex, env, self.line)(self.path))


@dataclass(frozen=True)
class User(_Base):
    user: str
    line: int = 0
    original: str = ""

    def expand(self, ex: Expander, env: Mapping[str, str]) -> User:
        return replace(self, user=_expander_call(ex, env, self.line)(self.user))


@dataclass(frozen=True)
class Healthcheck(_Base):
    test: tuple[str, ...] | None
    interval: float | None
    timeout: float | None
    start_period: float | None
    start_interval: float | None
    retries: int | None
    line: int = 0
    original: str = ""


_SIGNALS = {s.name for s in signal.Signals if s.name.startswith("SIG") and not s.name.startswith("SIG_")}


@dataclass(frozen=True)
class Stopsignal(_Base):
    signal: str
    line: int = 0
    original: str = ""

    def expand(self, ex: Expander, env: Mapping[str, str]) -> Stopsignal:
        value = _expander_call(ex, env, self.line)(self.signal)
        if not _valid_signal(value):
            raise fail(ex.path, self.line, f"STOPSIGNAL: invalid signal {value!r}",
                       "use a name such as SIGTERM or a number such as 15")
        return replace(self, signal=value)


def _valid_signal(value: str) -> bool:
    if value.isdecimal():
        return 0 < int(value) < 65
    name = value.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    return name in _SIGNALS or re.fullmatch(r"SIGRT(MIN|MAX)([+-]\d+)?", name) is not None


@dataclass(frozen=True)
class Onbuild(_Base):
    expression: str
    line: int = 0
    original: str = ""


@dataclass(frozen=True)
class Maintainer(_Base):
    name: str
    line: int = 0
    original: str = ""


# typing.Union, not "|": pylint (ansible-test sanity) rejects "|" between classes at run time
Instruction = Union[From, Run, Cmd, Entrypoint, Shell, Env, Label, Arg, Copy, Add, Expose, Volume,  # noqa: UP007
                    Workdir, User, Healthcheck, Stopsignal, Onbuild, Maintainer]
_MOUNT_HINT = "write --mount=type=bind|cache|tmpfs|secret|ssh,target=/path[,key=value...]"


# -- parsing -------------------------------------------------------------
def typed(node: Node, path: str, escape: str = "\\") -> Instruction:
    """The validated instruction for ``node``; DockerfileError "<path>:<line>: ..." otherwise.

    ``escape`` is the file's escape character (``Dockerfile.escape``); ENV, LABEL and ARG
    split their words with it.
    """
    parser = _PARSERS.get(node.keyword)
    if parser is None:
        raise _unknown(node, path)
    try:
        if node.keyword in ("ENV", "LABEL", "ARG"):
            return _WITH_ESCAPE[node.keyword](node, escape)
        return parser(node)
    except _Bad as err:
        raise fail(path, node.line, str(err), err.hint) from None
    except ValueError as err:   # FlagError: a flag or a flag value that does not parse
        raise fail(path, node.line, f"{node.keyword}: {err}", getattr(err, "hint", None)) from None


def _unknown(node: Node, path: str) -> Exception:
    close = difflib.get_close_matches(node.keyword, list(_PARSERS), n=1)
    hint = f"did you mean {close[0]}?" if close else "see the Dockerfile reference for the instructions"
    return fail(path, node.line, f"unknown instruction: {node.keyword}", hint)


def _words(node: Node) -> list[str]:
    return _WS.split(node.args[0]) if node.args and not node.json_form else list(node.args)


def _one(node: Node) -> str:
    if len(node.args) != 1 or node.json_form:
        raise _Bad(f"{node.keyword} requires exactly one argument")
    return node.args[0]


def _no_flags(node: Node) -> None:
    Flags(node.keyword, node.flags, {}).parse()


def _parse_from(node: Node) -> From:
    flags = Flags("FROM", node.flags, {"platform": str}).parse()
    args = _words(node)
    name = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise _Bad(f"invalid name for build stage: {args[2]!r}, name can't start with a number or "
                       "contain symbols", "use letters, digits, '-', '_' and '.', starting with a letter")
    elif len(args) != 1:
        raise _Bad("FROM requires either one or three arguments", "write FROM image [AS name]")
    return From(image=args[0], name=name, platform=flags.get("platform"), line=node.line,
                original=node.original)


def _parse_run(node: Node) -> Run:
    flags = Flags("RUN", node.flags, {"mount": list, "network": str, "security": str, "device": list}).parse()
    if flags.get("device"):
        raise _Bad("RUN --device is not supported by this builder", "remove --device")
    network, security = flags.get("network"), flags.get("security")
    if network is not None and network not in NETWORKS:
        raise _Bad(f"network mode {network!r} not supported", "use --network=default, none or host")
    if security is not None and security not in SECURITIES:
        raise _Bad(f"security {security!r} is not valid", "use --security=sandbox or insecure")
    specs = tuple(flags.get("mount") or ())
    try:
        mounts = tuple(parse_mount(spec, None) for spec in specs)
    except ValueError as err:
        raise _Bad(f"RUN --mount: {err}", getattr(err, "hint", None) or _MOUNT_HINT) from None
    if not node.args and not node.heredocs:
        raise _Bad("RUN requires at least one argument", "write RUN <command>")
    return Run(command=node.args, shell_form=not node.json_form, mounts=mounts, network=network,
               security=security, heredocs=node.heredocs, line=node.line, original=node.original,
               mount_specs=specs)


def _parse_cmd(node: Node) -> Cmd | Entrypoint:
    _no_flags(node)
    kind = Cmd if node.keyword == "CMD" else Entrypoint
    return kind(command=node.args, shell_form=not node.json_form, line=node.line, original=node.original)


def _parse_shell(node: Node) -> Shell:
    _no_flags(node)
    if not node.args:
        raise _Bad("SHELL requires at least one argument", 'write SHELL ["/bin/sh", "-c"]')
    if not node.json_form:
        raise _Bad("SHELL requires the arguments to be in JSON form", 'write SHELL ["executable", "param"]')
    return Shell(command=node.args, line=node.line, original=node.original)


def _name_val(node: Node, escape: str) -> tuple[tuple[str, str], ...]:
    """ENV / LABEL pairs: ``k=v k2="x y"`` or the legacy ``k the value`` (BuildKit parseNameVal)."""
    rest = node.args[0] if node.args else ""
    words = parse_words(rest, escape)
    if not words:
        raise _Bad(f"{node.keyword} requires at least one argument", f"write {node.keyword} key=value")
    if "=" not in words[0]:
        parts = _WS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise _Bad(f"{node.keyword} must have two arguments", f"write {node.keyword} key=value")
        return ((parts[0], parts[1]),)
    pairs = []
    for word in words:
        if "=" not in word:
            raise _Bad(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value",
                       "quote values that contain spaces")
        key, value = word.split("=", 1)
        if not key:
            raise _Bad(f"{node.keyword} names can not be blank")
        pairs.append((key, value))
    return tuple(pairs)


def _parse_env(node: Node, escape: str) -> Env | Label:
    _no_flags(node)
    pairs = _name_val(node, escape)
    kind = Env if node.keyword == "ENV" else Label
    return kind(pairs=pairs, line=node.line, original=node.original)


def _parse_arg(node: Node, escape: str) -> Arg:
    _no_flags(node)
    words = parse_words(node.args[0], escape) if node.args else []
    if not words:
        raise _Bad("ARG requires at least one argument", "write ARG name[=default]")
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not key:
            raise _Bad("ARG names can not be blank")
        pairs.append((key, value if sep else None))
    return Arg(pairs=tuple(pairs), line=node.line, original=node.original)


def _sources_dest(node: Node) -> tuple[tuple[str, ...], str, tuple[Heredoc, ...]]:
    args = _words(node)
    if len(args) < 2:
        raise _Bad(f"{node.keyword} requires at least two arguments, but only one was provided. "
                   "Destination could not be determined", f"write {node.keyword} <src>... <dest>")
    dest = args[-1]
    if maybe_heredoc(dest) is not None:
        raise _Bad(f"{node.keyword} cannot accept a heredoc as a destination")
    by_name = {doc.name: doc for doc in node.heredocs}
    sources: list[str] = []
    docs: list[Heredoc] = []
    for src in args[:-1]:
        doc = maybe_heredoc(src)
        if doc is None:
            sources.append(src)
        else:
            docs.append(by_name.get(doc.name, doc))
    return tuple(sources), dest, tuple(docs)


def _parse_copy(node: Node) -> Copy:
    flags = Flags("COPY", node.flags, {"chown": str, "from": str, "chmod": str, "link": bool,
                                       "exclude": list, "parents": bool}).parse()
    sources, dest, docs = _sources_dest(node)
    source = flags.get("from")
    if source and Expander(skip_unset=False).word(source, {}) != source:
        raise _Bad("variable expansion is not supported for --from", "define a stage with FROM using a global "
                   "ARG (FROM ${IMAGE} AS src) and COPY --from=src")
    return Copy(sources=sources, dest=dest, from_=flags.get("from"), chown=flags.get("chown"),
                chmod=flags.get("chmod"), link=bool(flags.get("link")), heredocs=docs,
                exclude=tuple(flags.get("exclude") or ()), parents=bool(flags.get("parents")),
                line=node.line, original=node.original)


def _parse_add(node: Node) -> Add:
    flags = Flags("ADD", node.flags, {"chown": str, "chmod": str, "link": bool, "keep-git-dir": bool,
                                      "checksum": str, "unpack": bool, "exclude": list}).parse()
    sources, dest, docs = _sources_dest(node)
    return Add(sources=sources, dest=dest, chown=flags.get("chown"), chmod=flags.get("chmod"),
               link=bool(flags.get("link")), checksum=flags.get("checksum"),
               keep_git_dir=bool(flags.get("keep-git-dir")), heredocs=docs, line=node.line,
               original=node.original, exclude=tuple(flags.get("exclude") or ()), unpack=flags.get("unpack"))


def _parse_expose(node: Node) -> Expose:
    _no_flags(node)
    ports = _words(node)
    if not ports:
        raise _Bad("EXPOSE requires at least one argument", "write EXPOSE 80 or EXPOSE 53/udp")
    return Expose(ports=tuple(ports), line=node.line, original=node.original)


def _parse_volume(node: Node) -> Volume:
    _no_flags(node)
    paths = [p.strip() for p in _words(node)]
    if not paths:
        raise _Bad("VOLUME requires at least one argument", "write VOLUME /data")
    if any(not p for p in paths):
        raise _Bad("VOLUME specified can not be an empty string")
    return Volume(paths=tuple(paths), line=node.line, original=node.original)


def _parse_simple(node: Node) -> Workdir | User | Stopsignal | Maintainer:
    _no_flags(node)
    value = _one(node)
    kinds = {"WORKDIR": (Workdir, "path"), "USER": (User, "user"), "STOPSIGNAL": (Stopsignal, "signal"),
             "MAINTAINER": (Maintainer, "name")}
    kind, field_name = kinds[node.keyword]
    return kind(**{field_name: value}, line=node.line, original=node.original)


def _parse_healthcheck(node: Node) -> Healthcheck:
    rest = node.args[0] if node.args else ""
    parts = re.split(r"\s", rest, maxsplit=1)
    typ, cmd = parts[0].upper(), (parts[1].lstrip() if len(parts) > 1 else "")
    if not typ:
        raise _Bad("HEALTHCHECK requires at least one argument", "write HEALTHCHECK CMD <command> or NONE")
    if typ == "NONE":
        if cmd:
            raise _Bad("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(test=None, interval=None, timeout=None, start_period=None, start_interval=None,
                           retries=None, line=node.line, original=node.original)
    flags = Flags("HEALTHCHECK", node.flags, dict.fromkeys(
        ("interval", "timeout", "start-period", "start-interval", "retries"), str)).parse()
    if typ != "CMD":
        raise _Bad(f"Unknown type {typ!r} in HEALTHCHECK (try CMD)", "write HEALTHCHECK CMD <command>")
    items = json_array(cmd) if cmd else None
    test = ("CMD", *items) if items is not None else ("CMD-SHELL", cmd)
    if len(test) == 1 or test == ("CMD-SHELL", ""):
        raise _Bad("Missing command after HEALTHCHECK CMD", "write HEALTHCHECK CMD <command>")
    return Healthcheck(test=test, interval=parse_interval(flags, "interval"), timeout=parse_interval(flags, "timeout"),
                       start_period=parse_interval(flags, "start-period"),
                       start_interval=parse_interval(flags, "start-interval"), retries=parse_retries(flags),
                       line=node.line, original=node.original)


def _parse_onbuild(node: Node) -> Onbuild:
    _no_flags(node)
    if not node.args:
        raise _Bad("ONBUILD requires at least one argument", "write ONBUILD <instruction>")
    trigger = split_command(node.args[0], "\\")[0].upper()
    if trigger == "ONBUILD":
        raise _Bad("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise _Bad(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", node.original, count=1)
    for doc in node.heredocs:
        expression += "\n" + (doc.raw or doc.content) + doc.name
    return Onbuild(expression=expression, line=node.line, original=node.original)


_PARSERS: dict[str, Callable[[Node], Instruction]] = {
    "FROM": _parse_from, "RUN": _parse_run, "CMD": _parse_cmd, "ENTRYPOINT": _parse_cmd,
    "SHELL": _parse_shell, "ENV": lambda n: _parse_env(n, "\\"), "LABEL": lambda n: _parse_env(n, "\\"),
    "ARG": lambda n: _parse_arg(n, "\\"), "COPY": _parse_copy,
    "ADD": _parse_add, "EXPOSE": _parse_expose, "VOLUME": _parse_volume, "WORKDIR": _parse_simple,
    "USER": _parse_simple, "STOPSIGNAL": _parse_simple, "MAINTAINER": _parse_simple,
    "HEALTHCHECK": _parse_healthcheck, "ONBUILD": _parse_onbuild,
}
_WITH_ESCAPE: dict[str, Callable[[Node, str], Instruction]] = {
    "ENV": _parse_env, "LABEL": _parse_env, "ARG": _parse_arg,
}
