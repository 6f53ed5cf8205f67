"""The ``berth.engine.berth`` connection plugin in real plays: ``raw`` on
busybox, ``copy``/``command``/``file``/``fetch`` (full modules) on a Debian
image with Python, with and without pipelining, ``become`` inside — and
every result read back from the host side (``berth cp`` out, ``berth exec``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.cli import BerthCli
from tests.support.cli_root import cli_with_rootfs
from tests.support.playbook import run_playbook
from tests.support.runtime import REPO, make_rootfs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
BUSYBOX, DEBIAN = "local/connbox:1", "local/conndebian:1"


@pytest.fixture
def berth(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BerthCli]:
    with cli_with_rootfs(tmp_path, make_rootfs(tmp_path_factory.mktemp("box")), BUSYBOX) as tool:
        yield tool


def _play(berth: BerthCli, container: str, tasks: list[dict[str, Any]], **more_vars: Any) -> dict[str, Any]:
    return {"name": f"inside {container}", "hosts": "localhost", "gather_facts": False,
            "connection": "berth.engine.berth",
            "vars": {"ansible_host": container, "ansible_berth_executable": f"{sys.executable} {REPO}/bin/berth",
                     "ansible_berth_state_root": str(berth.state), "ansible_berth_run_root": str(berth.run),
                     **more_vars},
            "tasks": tasks}


def _run(directory: Path, plays: list[dict[str, Any]], env: dict[str, str] | None = None) -> Any:
    path = directory / "play.yml"
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    return run_playbook(path, env=env)


def _read(berth: BerthCli, directory: Path, container: str, path: str) -> str:
    """A container's file, copied out to the host."""
    out = directory / "read-back"
    out.unlink(missing_ok=True)
    berth("cp", f"{container}:{path}", str(out))
    return out.read_text()


def test_raw_on_busybox(berth: BerthCli, tmp_path: Path) -> None:
    berth("run", "-d", "--name", "box", BUSYBOX, "sleep", "600")
    tasks = [{"name": "raw", "ansible.builtin.raw": "echo made by raw > /tmp/raw.txt; id -u"},
             {"name": "raw as root through su", "become": True, "become_method": "su",
              "ansible.builtin.raw": "id -u > /tmp/become.txt"},
             {"name": "raw with the play's env", "ansible.builtin.raw": "echo $FROM_PLAY > /tmp/env.txt"},
             {"name": "raw as another user through su", "become": True, "become_method": "su",
              "become_user": "nobody", "become_flags": "-s /bin/sh",   # nobody's own shell is /bin/false
              "ansible.builtin.raw": "id -u > /tmp/nobody.txt"},
             {"name": "raw as the remote user", "remote_user": "nobody",
              "ansible.builtin.raw": "id -u > /tmp/remote-user.txt"}]
    result = _run(tmp_path, [_play(berth, "box", tasks, ansible_berth_extra_env={"FROM_PLAY": "hello"})])
    assert result.failed == 0 and result.changed == 5 and "unreachable=0" in result.output, result.output
    assert _read(berth, tmp_path, "box", "/tmp/raw.txt") == "made by raw\n"
    assert _read(berth, tmp_path, "box", "/tmp/become.txt") == "0\n"
    assert _read(berth, tmp_path, "box", "/tmp/env.txt") == "hello\n"
    assert _read(berth, tmp_path, "box", "/tmp/nobody.txt") == "65534\n"
    assert _read(berth, tmp_path, "box", "/tmp/remote-user.txt") == "65534\n"


def test_unknown_or_stopped_container_is_unreachable(berth: BerthCli, tmp_path: Path) -> None:
    berth("create", "--name", "idle", BUSYBOX, "sleep", "600")
    for name, said in (("ghost", "container 'ghost' does not exist"), ("idle", "idle")):
        result = _run(tmp_path, [_play(berth, name, [{"ansible.builtin.raw": "true"}])])
        assert result.failed == 0 and "UNREACHABLE" in result.output and said in result.output, result.output


def _debian_tasks(tag: str, fetched: Path) -> list[dict[str, Any]]:
    conf = f"/etc/berth-{tag}.conf"
    return [
        {"name": "copy", "ansible.builtin.copy": {"content": f"written by copy ({tag})\n", "dest": conf,
                                                  "mode": "0640"}},
        {"name": "copy again", "ansible.builtin.copy": {"content": f"written by copy ({tag})\n", "dest": conf,
                                                        "mode": "0640"}, "register": "again"},
        {"name": "command", "ansible.builtin.command": {"argv": ["cat", conf]}, "register": "cat"},
        {"name": "file", "ansible.builtin.file": {"path": f"/srv/{tag}", "state": "directory", "mode": "0750"}},
        {"name": "command as become root", "become": True, "become_method": "su",
         "ansible.builtin.command": "id -un", "register": "who"},
        {"name": "fetch", "ansible.builtin.fetch": {"src": conf, "dest": str(fetched), "flat": True}},
        {"name": "record", "ansible.builtin.copy": {
            "content": "{{ {'cat': cat.stdout, 'again': again.changed, 'who': who.stdout} | to_json }}",
            "dest": f"/srv/{tag}/record.json"}},
    ]


@pytest.mark.parametrize("pipelining", [False, True], ids=["files", "pipelining"])
def test_full_modules_on_debian(berth: BerthCli, tmp_path: Path, debian_image: Any, pipelining: bool) -> None:
    from tests.support.debian_python import INTERPRETER, debian_python_rootfs

    engine = Engine.open(berth.state, berth.run)
    import_rootfs(ImageStore(engine), debian_python_rootfs(), ImportConfig(cmd=["bash"]), parse_reference(DEBIAN))
    berth("run", "-d", "--name", "deb", DEBIAN, "sleep", "infinity")
    tag = "pipelined" if pipelining else "files"
    fetched = tmp_path / "fetched.conf"
    play = _play(berth, "deb", _debian_tasks(tag, fetched), ansible_python_interpreter=INTERPRETER)
    result = _run(tmp_path, [play], env={"ANSIBLE_PIPELINING": str(pipelining)})
    assert result.failed == 0 and "unreachable=0" in result.output, result.output
    assert _read(berth, tmp_path, "deb", f"/etc/berth-{tag}.conf") == f"written by copy ({tag})\n"
    record = json.loads(_read(berth, tmp_path, "deb", f"/srv/{tag}/record.json"))
    assert record == {"cat": f"written by copy ({tag})", "again": False, "who": "root"}
    assert fetched.read_text() == f"written by copy ({tag})\n"
    modes = berth("exec", "deb", "stat", "-c", "%a %u", f"/etc/berth-{tag}.conf", f"/srv/{tag}").stdout.split()
    assert modes == ["640", "0", "750", "0"]
    leftovers = berth("exec", "deb", "sh", "-c", "ls -A /root/.ansible/tmp 2>/dev/null | wc -l").stdout.strip()
    assert leftovers == "0", "Ansible's remote tmp dirs were left in the container"
