"""Run real playbooks against localhost and read their outcome.

Every scenario is a playbook run four times — check, apply, apply, check —
expecting changed, changed, unchanged, unchanged (the product's idempotency
contract). Counts come from the PLAY RECAP, so nothing here trusts the
modules' own bookkeeping beyond what ansible-playbook reports.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.devinstall import collections, dev_install

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".build" / "collections"
RECORD_TASK = "berth: recorded results"
# The recording task's output: the registered results as one JSON string (the default callback's format).
_RECORDED = re.compile(r"^TASK \[" + re.escape(RECORD_TASK) + r"\] \**\nok: \[localhost\] => (\{\n.*?\n\})\n\n?",
                       re.M | re.S)
_RECAP = re.compile(r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class PlayResult:
    ok: int
    changed: int
    failed: int
    output: str
    returncode: int
    tasks: list[dict[str, Any]] = field(default_factory=list)   # per task: name, action, changed, actions, items

    def berth_tasks(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks if t["action"].startswith(("berth.engine.", "berth_"))]


def write_playbook(directory: Path, tasks: list[dict[str, Any]], *, name: str = "play.yml",
                   vars: dict[str, Any] | None = None, roles: list[Any] | None = None,
                   module_defaults: dict[str, Any] | None = None) -> Path:
    play: dict[str, Any] = {"name": "berth test", "hosts": "localhost", "gather_facts": False,
                            "vars": vars or {}, "tasks": tasks}
    if roles:
        play["roles"] = roles
    if module_defaults:
        play["module_defaults"] = module_defaults
    path = directory / name
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


def run_playbook(playbook: Path, *, check: bool = False, diff: bool = False,
                 extra_vars: dict[str, Any] | None = None, timeout: int = 600,
                 pin_digest: bool = True, env: dict[str, str] | None = None) -> PlayResult:
    """``pin_digest``: hand the controller the digest of the dev install (tests/support/devinstall.py) rather
    than let the action plugin compute it, so a tree edited mid-play does not fail its later tasks.
    ``env``: more environment for the play (and, on localhost, its modules)."""
    prefix, digest = dev_install()   # the modules hand their tasks to this tree's engine agent
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if extra_vars:
        cmd += ["-e", yaml.safe_dump(extra_vars, default_flow_style=True).strip()]
    extra_env = env or {}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections()), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_DEPRECATION_WARNINGS="0",
               BERTH_CLI=str(REPO / "bin" / "berth"),  # modules start the container monitor with it
               BERTH_RUNTIME=str(REPO / "bin" / "berth-runtime"),
               BERTH_PREFIX=str(prefix), **extra_env)
    if pin_digest:
        env["BERTH_ENGINE_DIGEST"] = digest
    log = playbook.with_name(f".{playbook.name}.tasks.jsonl")
    log.unlink(missing_ok=True)
    records = RECORD_TASK in playbook.read_text()
    if records:
        (playbook.parent / "out.json").unlink(missing_ok=True)   # never a stale run's results
    env.update(ANSIBLE_CALLBACK_PLUGINS=str(Path(__file__).parent / "callbacks"),
               ANSIBLE_CALLBACKS_ENABLED="berth_tasks", BERTH_TASK_LOG=str(log))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    stdout = _take_recorded(playbook, proc.stdout) if records else proc.stdout
    output = stdout + proc.stderr
    tasks = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    match = _RECAP.search(stdout)
    if not match:
        raise AssertionError(f"no PLAY RECAP from ansible-playbook (rc={proc.returncode}):\n{output[-4000:]}")
    ok, changed, _unreachable, failed = (int(g) for g in match.groups())
    return PlayResult(ok=ok, changed=changed, failed=failed, output=output, returncode=proc.returncode, tasks=tasks)


def _take_recorded(playbook: Path, stdout: str) -> str:
    """Write the recording task's results to ``out.json`` beside the playbook; the output without that task."""
    found = _RECORDED.search(stdout)
    if found is None:
        return stdout
    (playbook.parent / "out.json").write_text(json.loads(found.group(1))["msg"])
    return stdout[:found.start()] + stdout[found.end():]


def assert_converges(playbook: Path, *, made_by_earlier_tasks: tuple[str, ...] = (), chained: bool = False,
                     **kwargs: Any) -> list[PlayResult]:
    """check → apply → apply → check: changed, changed, unchanged, unchanged
    (play-wide, from the recap) — and, task by task, the actions the first
    check run planned are the actions the first apply took, and the second
    apply and check plan nothing.

    ``made_by_earlier_tasks``: actions a check run plans for something an
    earlier task of the same play makes (a check run cannot see it made, so
    it plans it — "create volume site" — where the apply run finds it).
    ``chained``: later tasks act on what earlier ones make (pull, then save
    it), so only the play-wide counts and the idempotent re-runs are compared."""
    results = []
    for check, want_changed in ((True, True), (False, True), (False, False), (True, False)):
        result = run_playbook(playbook, check=check, diff=True, **kwargs)
        label = f"{'check' if check else 'apply'} run #{len(results) + 1}"
        assert result.failed == 0 and result.returncode == 0, f"{label} failed:\n{result.output[-6000:]}"
        assert (result.changed > 0) == want_changed, (
            f"{label}: expected {'changes' if want_changed else 'no changes'}, got changed={result.changed}:\n"
            f"{result.output[-6000:]}")
        results.append(result)
    if not chained:
        assert_plans_match(results[0], results[1], made_by_earlier_tasks)
    for later in results[2:]:
        for task in later.berth_tasks():
            assert not task["changed"] and not task["actions"], f"not idempotent: {task}"
    return results


def assert_plans_match(check: PlayResult, apply: PlayResult, made_by_earlier_tasks: tuple[str, ...] = ()) -> None:
    """Per berth task: the check run's actions (and changed flags) equal the apply run's."""
    def planned_here(task: dict[str, Any]) -> dict[str, Any]:
        actions = task["actions"]
        return {**task, "actions": [a for a in actions if a not in made_by_earlier_tasks]} if actions else task

    planned = [(t["task"], t["changed"], t["actions"], _item_actions(t))
               for t in map(planned_here, check.berth_tasks())]
    done = [(t["task"], t["changed"], t["actions"], _item_actions(t)) for t in apply.berth_tasks()]
    assert planned == done, f"the check run planned {planned}\nbut the apply run did {done}"


def _item_actions(task: dict[str, Any]) -> list[Any] | None:
    return [(i["changed"], i["actions"]) for i in task["items"]] if task.get("items") is not None else None


def record_task(registered: list[str]) -> dict[str, Any]:
    """The last task of a play whose registered results a test reads (``recorded``): a ``debug`` of them
    as JSON, which runs on the controller (a ``copy`` to a file cost a module run, ~0.6 s of CPU);
    ``run_playbook`` writes them to ``out.json`` beside the playbook and leaves the task out of the output."""
    return {"name": RECORD_TASK, "ansible.builtin.debug": {"msg": "{{ [" + ", ".join(registered) + "] | to_json }}"}}


def recording_play(directory: Path, tasks: list[dict[str, Any]], module_defaults: dict[str, Any],
                   name: str = "play.yml") -> Path:
    """A playbook whose tasks' results ``recorded`` returns after each run."""
    registered = [{**task, "register": f"r{i}"} for i, task in enumerate(tasks)]
    return write_playbook(directory, [*registered, record_task([f"r{i}" for i in range(len(tasks))])], name=name,
                          module_defaults=module_defaults)


def recorded(directory: Path) -> list[dict[str, Any]]:
    """The task results of the last run in ``directory`` of a ``recording_play`` (or a play ending in
    ``record_task``)."""
    return json.loads((directory / "out.json").read_text())


def assert_failed_cleanly(result: dict[str, Any], *words: str) -> None:
    """A registered task result that failed through ``fail_json``: its
    message has ``words`` (and the error's hint), and nothing of a module that
    crashed — no "MODULE FAILURE", no module output, no traceback (ansible-core
    2.19 puts "(traceback unavailable)" in ``exception`` when there is none)."""
    assert result.get("failed") is True, result
    assert all(word in result["msg"] for word in words), (words, result)
    error = result.get("error") or {}
    assert error.get("kind") and error.get("message") in result["msg"], result
    assert not error.get("hint") or error["hint"] in result["msg"], result
    assert "MODULE FAILURE" not in result["msg"] and "module_stderr" not in result and "module_stdout" not in result
    assert "Traceback" not in str(result.get("exception", "")), result


def remove_containers(engine: Any, directory: Path, module_defaults: dict[str, Any]) -> None:
    """Every container of ``engine``'s store removed through the module, in one play (one Ansible start-up)."""
    from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore

    names = [record["name"] for record in ContainerStore(engine).list()]
    if names:
        run_playbook(write_playbook(directory, [{"berth.engine.container": {"name": name, "state": "absent"}}
                                                for name in names], name="cleanup.yml",
                                    module_defaults=module_defaults))


def module_env(tmp_path: Path, image: str, config: Any) -> Iterator[dict[str, Any]]:
    """A fixture body (``yield from``): a state root with ``image`` imported from
    a busybox rootfs, for playbook tests; afterwards every container (through the module), network and volume
    is removed, and no published port, mount or container cgroup may remain."""
    from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
    from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
    from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
    from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
    from ansible_collections.berth.engine.plugins.module_utils.network import firewall
    from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
    from tests.support.leaks import ContainerWatch
    from tests.support.networks import drop_networks
    from tests.support.runtime import make_rootfs, mounts_under, wait_for

    published_before = set(firewall.Firewall().published())   # e.g. the demo app's
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    made = ContainerWatch(engine.layout.containers)
    import_rootfs(ImageStore(engine), make_rootfs(tmp_path / "src"), config, parse_reference(image))
    defaults = {"group/berth.engine.all": {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run")}}
    yield {"engine": engine, "defaults": defaults, "dir": tmp_path}
    remove_containers(engine, tmp_path, defaults)
    assert wait_for(lambda: not (tmp_path / "run" / "monitor.pid").exists(), timeout=10)
    drop_networks(engine)
    for record in VolumeService(engine).list():
        VolumeService(engine).remove(record["name"])
    assert not mounts_under(tmp_path)
    assert set(firewall.Firewall().published()) <= published_before, "published ports left behind"
    leftovers = made.cgroups_left()
    made.close()
    assert not leftovers, f"container cgroups left behind: {leftovers}"
