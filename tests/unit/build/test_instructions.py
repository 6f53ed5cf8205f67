"""Typed instructions: flags, arguments, validation and expand()."""

from __future__ import annotations

import random

import pytest

from ansible_collections.berth.engine.plugins.module_utils.build import instructions as ins
from ansible_collections.berth.engine.plugins.module_utils.build.dockerfile import DockerfileError, parse
from ansible_collections.berth.engine.plugins.module_utils.build.expand import Expander
from ansible_collections.berth.engine.plugins.module_utils.build.flags import parse_duration, parse_mount


def typed(text: str, escape: str = "\\"):
    node = parse(text, "Dockerfile").nodes[-1]
    return ins.typed(node, "Dockerfile", escape)


def expanded(text: str, env: dict[str, str] | None = None):
    return typed(text).expand(Expander(), env or {})


def error(text: str) -> str:
    with pytest.raises(DockerfileError) as info:
        instr = typed(text)
        instr.expand(Expander(), {})
    assert info.value.message.startswith("Dockerfile:")
    assert info.value.hint
    return info.value.message


def test_from() -> None:
    assert typed("FROM --platform=linux/amd64 busybox:1 AS Build") == ins.From(
        image="busybox:1", name="build", platform="linux/amd64", line=1,
        original="FROM --platform=linux/amd64 busybox:1 AS Build")
    assert typed("from scratch").name is None
    assert expanded("FROM ${REG:-docker.io}/$IMG", {"IMG": "alpine"}).image == "docker.io/alpine"


def test_from_expands_platform() -> None:
    got = typed("FROM --platform=$P a").expand(Expander(), {"P": "linux/arm64"})
    assert got.platform == "linux/arm64"


def test_run_forms() -> None:
    shell = typed("RUN echo $HOME && ls")
    assert shell.command == ("echo $HOME && ls",) and shell.shell_form
    assert shell.expand(Expander(), {"HOME": "x"}).command == ("echo $HOME && ls",)   # the shell expands
    exec_form = typed('RUN ["echo", "$HOME"]')
    assert exec_form.command == ("echo", "$HOME") and not exec_form.shell_form
    assert typed("RUN --network=none --security=insecure true").network == "none"


def test_run_heredoc() -> None:
    run = typed("RUN <<EOF\necho hi\nEOF\n")
    assert run.command == ("<<EOF",) and run.heredocs[0].content == "echo hi\n"


MOUNT_CASES = [
    ("type=cache,target=/root/.cache", {"type": "cache", "target": "/root/.cache", "readonly": False,
                                        "sharing": "shared", "id": "/root/.cache"}),
    ("target=/src", {"type": "bind", "readonly": True}),
    ("type=bind,source=/a,target=/b,rw", {"source": "/a", "readonly": False}),
    ("type=bind,from=build,src=/out,dst=/in,ro=false", {"from_": "build", "readonly": False}),
    ("type=tmpfs,target=/t,size=64m", {"size": 64 * 1024 * 1024, "readonly": False}),
    ("type=cache,target=/c,id=x,sharing=locked,mode=0700,uid=1,gid=2",
     {"id": "x", "sharing": "locked", "mode": 0o700, "uid": 1, "gid": 2}),
    ("type=secret,id=tok", {"type": "secret", "id": "tok", "target": ""}),
    ("type=secret,id=tok,required", {"required": True}),
    ("type=ssh", {"type": "ssh"}),
    ("'type=bind,\"target=/a,b\"'", {"target": "/a,b"}),    # csv quoting keeps the comma
]


@pytest.mark.parametrize(("spec", "fields"), MOUNT_CASES)
def test_run_mounts(spec: str, fields: dict[str, object]) -> None:
    mount = typed(f"RUN --mount={spec} true").mounts[0]
    for key, value in fields.items():
        assert getattr(mount, key) == value, key


@pytest.mark.parametrize(("spec", "fragment"), [
    ("type=nfs,target=/x", "unsupported mount type"),
    ("type=bind", "requires a target"),
    ("type=bind,target=/x,size=1m", "unexpected key 'size'"),
    ("type=bind,target=/x,mode=0700", "mode not allowed"),
    ("type=bind,target=/x,sharing=shared", "invalid cache sharing"),
    ("type=cache,target=/x,sharing=bogus", "unsupported sharing"),
    ("type=cache,target=/x,uid=abc", "invalid value abc for uid"),
    ("type=bind,target=/x,ro=maybe", "invalid value for ro"),
    ("type=bind,target=/x,bogus=1", "unexpected key 'bogus'"),
    ("type=bind,target=/x,lonely", "must be a key=value pair"),
    ("type=secret,from=x,id=a", "secret mount should not have a from"),
    ("type=secret", "one of source, target required"),
    ("type=bind,target=/x,required", "unexpected key 'required'"),
    ("type=bind,target=/x,from=$A/b", "doesn't support variable expansion"),
])
def test_run_mount_errors(spec: str, fragment: str) -> None:
    assert fragment in error(f"RUN --mount={spec} true")


def test_parse_mount_direct() -> None:
    assert parse_mount("type=tmpfs,target=/t", None).readonly is False
    assert parse_mount("type=tmpfs,target=$T", lambda v: v.replace("$T", "/x")).target == "/x"


def test_run_mount_expansion() -> None:
    run = typed("RUN --mount=type=cache,target=$DIR,id=${ID:-dflt} true")
    assert run.mounts[0].target == "$DIR"            # parse time: not expanded yet
    got = run.expand(Expander(), {"DIR": "/cache"})
    assert (got.mounts[0].target, got.mounts[0].id) == ("/cache", "dflt")


@pytest.mark.parametrize(("text", "fragment"), [
    ("RUN --network=bridge true", "network mode 'bridge' not supported"),
    ("RUN --security=root true", "security 'root' is not valid"),
    ("RUN --bogus true", "unknown flag: --bogus"),
    ("RUN --network true", "missing a value on flag: --network"),
    ("RUN --network=none --network=host true", "duplicate flag"),
    ("RUN", "RUN requires at least one argument"),
    ("COPY --link=maybe a b", "expecting boolean value"),
    ("COPY --user=1 a b", "unknown flag: --user"),
    ("ENV --x=1 a=b", "unknown flag: --x"),
    ("COPY a", "requires at least two arguments"),
    ("COPY a <<EOF\nx\nEOF\n", "cannot accept a heredoc as a destination"),
    ("ADD --from=x a b", "unknown flag: --from"),
    ("FROM", "FROM requires either one or three arguments"),
    ("FROM a b", "FROM requires either one or three arguments"),
    ("FROM a AS 1x", "invalid name for build stage"),
    ("FROM a AS b c", "FROM requires either one or three arguments"),
    ("SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form"),
    ("SHELL []", "SHELL requires at least one argument"),
    ("ENV", "ENV requires at least one argument"),
    ("ENV a", "ENV must have two arguments"),
    ("ENV a=b c", "can't find = in 'c'"),
    ("ENV =b", "ENV names can not be blank"),
    ("LABEL", "LABEL requires at least one argument"),
    ("ARG", "ARG requires at least one argument"),
    ("ARG =x", "ARG names can not be blank"),
    ("EXPOSE", "EXPOSE requires at least one argument"),
    ("EXPOSE 80/icmp", "invalid proto: icmp"),
    ("EXPOSE http", "invalid containerPort: http"),
    ("EXPOSE 90-80", "invalid containerPort: 90-80"),
    ("EXPOSE 70000", "invalid containerPort"),
    ("EXPOSE /tcp", "no port specified"),
    ("VOLUME", "VOLUME requires at least one argument"),
    ('VOLUME ["/a", " "]', "VOLUME specified can not be an empty string"),
    ("WORKDIR", "WORKDIR requires exactly one argument"),
    ("USER", "USER requires exactly one argument"),
    ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
    ("STOPSIGNAL SIGBOGUS", "invalid signal"),
    ("STOPSIGNAL 99", "invalid signal"),
    ("MAINTAINER", "MAINTAINER requires exactly one argument"),
    ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
    ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
    ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK CMD []", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK EXEC x", "Unknown type 'EXEC' in HEALTHCHECK"),
    ("HEALTHCHECK --interval=5 CMD x", "missing unit"),
    ("HEALTHCHECK --interval=5parsecs CMD x", "unknown unit"),
    ("HEALTHCHECK --interval=1us CMD x", "cannot be less than 1ms"),
    ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative"),
    ("HEALTHCHECK --retries=x CMD x", "invalid --retries"),
    ("HEALTHCHECK --bogus=1 CMD x", "unknown flag: --bogus"),
    ("ONBUILD", "ONBUILD requires at least one argument"),
    ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD"),
    ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
    ("ONBUILD maintainer x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("WORKDIR ${X:?needs X}", "X: needs X"),
])
def test_errors(text: str, fragment: str) -> None:
    assert fragment in error(text)


def test_unknown_instruction_with_hint() -> None:
    with pytest.raises(DockerfileError) as info:
        typed("FROM a\nCOPPY a b")
    assert info.value.message == "Dockerfile:2: unknown instruction: COPPY"
    assert "COPY" in (info.value.hint or "")


def test_cmd_entrypoint_shell() -> None:
    assert typed('CMD ["a", "b"]') == ins.Cmd(command=("a", "b"), shell_form=False, line=1,
                                              original='CMD ["a", "b"]')
    assert typed("CMD echo $X").command == ("echo $X",)
    assert typed("CMD").command == ()
    assert typed("ENTRYPOINT top -b").shell_form
    assert typed('SHELL ["/bin/bash", "-eu", "-c"]').command == ("/bin/bash", "-eu", "-c")


ENV_CASES = [
    ("ENV A=1", (("A", "1"),)),
    ('ENV A=1 B="x y" C=\'$Q\'', (("A", "1"), ("B", "x y"), ("C", "$Q"))),
    ("ENV A the whole  value", (("A", "the whole  value"),)),
    ("ENV A=$V B=${V}x", (("A", "v"), ("B", "vx"))),
    ("ENV A=a\\ b", (("A", "a b"),)),
    ('ENV A=""', (("A", ""),)),
    ("ENV A=", (("A", ""),)),
    ("ENV $N=1", (("n", "1"),)),
]


@pytest.mark.parametrize(("text", "pairs"), ENV_CASES)
def test_env(text: str, pairs: tuple[tuple[str, str], ...]) -> None:
    assert expanded(text, {"V": "v", "N": "n"}).pairs == pairs


def test_env_raw_until_expanded() -> None:
    assert typed('ENV B="x y"').pairs == (("B", '"x y"'),)


def test_label_and_backtick_escape() -> None:
    assert expanded('LABEL a.b="c d" "e f"=g').pairs == (("a.b", "c d"), ("e f", "g"))
    instr = typed("ENV A=a` b", "`")
    assert instr.expand(Expander("`"), {}).pairs == (("A", "a b"),)


def test_arg() -> None:
    arg = typed('ARG A B=2 C="x y"')
    assert arg.pairs == (("A", None), ("B", "2"), ("C", '"x y"'))
    assert arg.expand(Expander(), {}).pairs == (("A", None), ("B", "2"), ("C", "x y"))
    assert typed("ARG D=${B}-z").expand(Expander(), {"B": "2"}).pairs == (("D", "2-z"),)


def test_copy_and_add() -> None:
    copy = typed("COPY --from=build --chown=$U:g --chmod=755 --link --parents --exclude=*.md "
                 "--exclude=x a* $D/")
    assert (copy.from_, copy.chown, copy.chmod, copy.link, copy.parents) == ("build", "$U:g", "755", True, True)
    assert copy.exclude == ("*.md", "x") and copy.sources == ("a*",) and copy.dest == "$D/"
    got = copy.expand(Expander(), {"U": "app", "D": "/srv"})
    assert (got.chown, got.dest) == ("app:g", "/srv/")
    add = typed("ADD --checksum=sha256:$S --keep-git-dir=true --unpack=false a.tar /x")
    assert add.keep_git_dir and add.unpack is False
    assert add.expand(Expander(), {"S": "ab"}).checksum == "sha256:ab"
    assert typed('COPY ["a b", "c", "/d/"]').sources == ("a b", "c")


def test_copy_heredoc_expansion() -> None:
    copy = typed("COPY <<A <<'B' /dst/\n$X 'q'\nA\n$X\nB\n")
    assert copy.sources == () and [h.name for h in copy.heredocs] == ["A", "B"]
    got = copy.expand(Expander(), {"X": "v"})
    assert [h.content for h in got.heredocs] == ["v 'q'\n", "$X\n"]


def test_copy_mixed_sources() -> None:
    copy = typed("COPY a <<EOF b /d/\nbody\nEOF\n")
    assert copy.sources == ("a", "b") and copy.heredocs[0].content == "body\n"


EXPOSE_CASES = [
    ("EXPOSE 80", ("80/tcp",)),
    ("EXPOSE 80 53/udp 53/UDP", ("80/tcp", "53/udp", "53/udp")),
    ("EXPOSE 127.0.0.1:8080:80 9000:90/udp", ("80/tcp", "90/udp")),
    ("EXPOSE 80-80", ("80/tcp",)),
    ("EXPOSE 80-82/tcp", ("80/tcp", "81/tcp", "82/tcp")),
    ("EXPOSE $P", ("8080/tcp",)),
    ("EXPOSE $PS", ("1/tcp", "2/sctp")),
]


@pytest.mark.parametrize(("text", "ports"), EXPOSE_CASES)
def test_expose(text: str, ports: tuple[str, ...]) -> None:
    assert expanded(text, {"P": "8080", "PS": "1 2/sctp"}).ports == ports


def test_simple_ones() -> None:
    assert expanded('VOLUME ["/a", "$V"]', {"V": "/v"}).paths == ("/a", "/v")
    assert expanded("VOLUME /a /b").paths == ("/a", "/b")
    assert expanded("WORKDIR $H/app", {"H": "/home"}).path == "/home/app"
    assert expanded("WORKDIR /a b").path == "/a b"
    assert expanded("USER ${U}:grp", {"U": "1000"}).user == "1000:grp"
    assert expanded("STOPSIGNAL $S", {"S": "SIGINT"}).signal == "SIGINT"
    assert expanded("STOPSIGNAL 9").signal == "9"
    assert expanded("STOPSIGNAL TERM").signal == "TERM"
    assert expanded("STOPSIGNAL SIGRTMIN+3").signal == "SIGRTMIN+3"
    assert expanded("MAINTAINER Jo <jo@x> $X").name == "Jo <jo@x> $X"


def test_healthcheck() -> None:
    hc = typed("HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --start-interval=1.5s "
               "--retries=3 CMD curl -f http://localhost/")
    assert hc.test == ("CMD-SHELL", "curl -f http://localhost/")
    assert (hc.interval, hc.timeout, hc.start_period, hc.start_interval, hc.retries) == (90.0, 0.5, 2.0, 1.5, 3)
    assert typed('HEALTHCHECK CMD ["a", "b"]').test == ("CMD", "a", "b")
    none = typed("HEALTHCHECK NONE")
    assert none.test is None and none.interval is None and none.retries is None
    assert typed("healthcheck cmd x").test == ("CMD-SHELL", "x")
    assert typed("HEALTHCHECK --interval=0s CMD x").interval == 0.0


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), ("1.5h", 5400.0), ("0", 0.0),
    ("2us", 2e-6), ("2µs", 2e-6), ("10ns", 1e-8), ("-1s", -1.0), ("+3s", 3.0), (".5s", 0.5),
])
def test_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "s", "1x", "1.s.", "--1s", "1s2", "."])
def test_duration_errors(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_onbuild_keeps_expression() -> None:
    ob = typed("ONBUILD  COPY $X /y")
    assert ob.expression == "COPY $X /y"
    assert ob.expand(Expander(), {"X": "z"}).expression == "COPY $X /y"
    assert typed("onbuild RUN <<EOF\n\techo hi\nEOF\n").expression == "RUN <<EOF\n\techo hi\nEOF"


def test_line_and_original_recorded() -> None:
    instr = typed("FROM a\n\nRUN echo \\\n  hi\n")
    assert instr.line == 3 and instr.original == "RUN echo   hi"


def test_random_instructions_never_crash() -> None:
    rng = random.Random(2017)
    keywords = [*ins._PARSERS, "BOGUS"]
    words = ["a", "$X", "${X:-y}", "--from=b", "--mount=type=cache,target=/c", "--interval=1s", "NONE", "CMD",
             '["x"]', "[", "=", "k=v", '"q', "'", "<<EOF", "80/udp", "AS", "n", "\\", "--link", "--retries=2"]
    for _round in range(4000):
        text = rng.choice(keywords) + " " + " ".join(rng.choice(words) for _round in range(rng.randint(0, 5)))
        try:
            df = parse(text + "\nEOF\n")
            for node in df.nodes:
                ins.typed(node, "Dockerfile", df.escape).expand(Expander(), {"X": "1"})
        except DockerfileError:
            pass
