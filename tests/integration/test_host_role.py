"""The berth.engine.host role as a fresh Debian host sees it: run under the system python (/usr/bin/python3, no
pydantic, PEP 668), not the test venv; the installed engine imports under that python from engine.json's path.

Role time (the wall time between a pre_task and a post_task) is printed, never asserted (no timing asserts):
the issue's budget is first install <= 30 s plus package download, converged re-run <= 5 s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.peers import needs_peer
from tests.support.playbook import COLLECTIONS, REPO

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="integration tests need root"),
              needs_peer("/usr/bin/python3", why="the system python")]

SYSTEM_PYTHON = "/usr/bin/python3"
REQUIREMENTS = ["pydantic>=2.6,<3", "zstandard>=0.22"]
_RECAP = re.compile(r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)\s+skipped=(\d+)", re.M)
_ROLE_TIME = re.compile(r'"msg": "berth role time ([0-9.]+)"')


@dataclass
class Run:
    ok: int
    changed: int
    failed: int
    skipped: int
    role_seconds: float
    output: str


def _play(directory: Path) -> Path:
    """The role between two timestamps, so the role's own time is read apart from Ansible's start-up."""
    play = [{"hosts": "localhost", "gather_facts": False,
             "pre_tasks": [{"name": "t0", "ansible.builtin.set_fact": {"berth_t0": "{{ now().timestamp() }}"}}],
             "roles": ["berth.engine.host"],
             "post_tasks": [{"name": "role time", "ansible.builtin.debug": {
                 "msg": "berth role time {{ '%.2f' % (now().timestamp() - berth_t0 | float) }}"}}]}]
    path = directory / "play.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return path


def _run(play: Path, role_vars: dict[str, object], *, check: bool = False) -> Run:
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(play),
           "-e", json.dumps(role_vars)]
    if check:
        cmd += ["--check", "--diff"]
    # The interpreter a fresh Debian host has: the role must not need the test venv's pydantic.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_PYTHON_INTERPRETER=SYSTEM_PYTHON,
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_DEPRECATION_WARNINGS="0")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    output = proc.stdout + proc.stderr
    recap, timed = _RECAP.search(proc.stdout), _ROLE_TIME.search(proc.stdout)
    assert recap and proc.returncode == 0, f"rc={proc.returncode}:\n{output[-6000:]}"
    ok, changed, failed, skipped = (int(g) for g in recap.groups())
    return Run(ok, changed, failed, skipped, float(timed.group(1)) if timed else -1.0, output)


def _role_vars(tmp_path: Path, name: str = "host") -> dict[str, object]:
    root = tmp_path / name
    (root / "sysctl").mkdir(parents=True)
    return {"berth_state_root": str(root / "state"), "berth_run_root": str(root / "run"),
            "berth_prefix": str(root / "prefix"), "berth_bin_dir": str(root / "bin"),
            "berth_sysctl_file": str(root / "sysctl" / "60-berth.conf"),
            "berth_controller_cache": str(tmp_path / "controller-cache")}


def _system_python(manifest: dict, code: str) -> str:
    """``code`` run by engine.json's python with its path first, from / with a bare environment."""
    prelude = f"import sys; sys.path[:0] = {manifest['path']!r}\n"
    proc = subprocess.run([manifest["python"], "-I", "-c", prelude + code], capture_output=True, text=True,
                          check=False, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.host_netns   # the controller's pip reaches its package index; apt, if a package is missing
def test_role_installs_the_engine_for_the_system_python(tmp_path: Path) -> None:
    role_vars = _role_vars(tmp_path)
    prefix, bin_dir = Path(str(role_vars["berth_prefix"])), Path(str(role_vars["berth_bin_dir"]))
    play = _play(tmp_path)
    first = _run(play, role_vars)
    assert first.failed == 0 and first.changed > 0, first.output[-4000:]
    print(f"first install: role {first.role_seconds:.2f} s")

    # engine.json: the contract's fields, the digest of the engine this controller runs.
    from ansible_collections.berth.engine.plugins.module_utils.version import engine_digest

    manifest = json.loads((prefix / "engine.json").read_text())
    assert manifest["digest"] == engine_digest(str(REPO / "plugins/module_utils"))
    assert manifest["python"] == SYSTEM_PYTHON and manifest["version"]
    assert manifest["path"] == [f"{prefix}/lib/vendor", f"{prefix}/lib"]
    assert (prefix / "lib").is_symlink() and (prefix / "lib").resolve().parent == prefix / "releases"
    assert not (prefix / "venv").exists() and not list((prefix / "releases").glob("*.tar.gz"))
    # The system python imports the vendored deps and the installed engine (not the checkout's, not the venv's).
    found = json.loads(_system_python(manifest, (
        "import json, pydantic, pydantic_core, zstandard\n"
        "from ansible_collections.berth.engine.plugins.module_utils import engine, version\n"
        "print(json.dumps([m.__file__ for m in (pydantic, pydantic_core, zstandard, engine)]"
        " + [version.engine_digest(engine.__file__.rsplit('/', 1)[0])]))")))
    assert all(path.startswith(str(prefix / "lib") + "/") for path in found[:4]), found
    assert found[4] == manifest["digest"]
    assert oct((tmp_path / "host/state").stat().st_mode & 0o777) == "0o700"
    assert "net.ipv4.ip_forward = 1" in (tmp_path / "host/sysctl/60-berth.conf").read_text()
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"   # the handler applied it

    # The launchers run the installed engine with the system python, from anywhere, with a bare environment.
    out = subprocess.run([str(bin_dir / "berth"), "--state-root", str(role_vars["berth_state_root"]),
                          "--run-root", str(role_vars["berth_run_root"]), "info", "--json"],
                         capture_output=True, text=True, check=True, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert json.loads(out.stdout)["state_root"] == str(role_vars["berth_state_root"])
    runtime = subprocess.run([str(bin_dir / "berth-runtime"), "--root", str(tmp_path / "rt"), "features"],
                             capture_output=True, text=True, check=True, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert "ociVersionMax" in json.loads(runtime.stdout)
    assert (bin_dir / "berth-runtime").read_text().startswith(f"#!{SYSTEM_PYTHON} -IS\n")

    # Converged: nothing changes, every step but the probe is skipped.
    again = _run(play, role_vars)
    assert again.failed == 0 and again.changed == 0, again.output[-4000:]
    print(f"converged re-run: role {again.role_seconds:.2f} s")
    assert json.loads((prefix / "engine.json").read_text()) == manifest   # not even rewritten

    # A changed input changes the host again; a launcher someone broke is rewritten.
    (bin_dir / "berth").write_text("#!/bin/sh\nexit 1\n")
    changed = _run(play, {**role_vars, "berth_sysctls": {"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.forwarding": 1}})
    assert changed.failed == 0 and changed.changed >= 2, changed.output[-4000:]
    assert "net.ipv4.conf.all.forwarding = 1" in (tmp_path / "host/sysctl/60-berth.conf").read_text()
    assert "BERTH_LIB=" in (bin_dir / "berth").read_text()


@pytest.mark.host_netns   # a check run packs too (on the controller only), so the controller's pip is asked
def test_check_on_a_fresh_host_reports_and_creates_nothing(tmp_path: Path) -> None:
    role_vars = _role_vars(tmp_path, "fresh")
    result = _run(_play(tmp_path), role_vars, check=True)
    assert result.failed == 0 and result.changed > 0, result.output[-4000:]
    assert "unpack release" in result.output and "engine.json" in result.output
    print(f"check on a fresh host: role {result.role_seconds:.2f} s")
    assert sorted(p.name for p in (tmp_path / "fresh").iterdir()) == ["sysctl"]
    assert not any((tmp_path / "fresh" / "sysctl").iterdir())


# --- the host and pack scripts directly: upgrades, the old layout, where wheels come from ------------------

FILES = REPO / "roles/host/files"


def _collection_copy(root: Path) -> Path:
    """The parts of the collection an artifact is made of, to change without touching the checkout."""
    shutil.copytree(REPO / "plugins/module_utils", root / "plugins/module_utils",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(FILES, root / "roles/host/files")
    (root / "bin").mkdir()
    shutil.copy(REPO / "bin/berth", root / "bin/berth")
    return root


def _pack(root: Path, cache: Path, target: dict[str, str], env: dict[str, str] | None = None
          ) -> tuple[dict[str, str], subprocess.CompletedProcess[str]]:
    ident = json.loads(subprocess.run([sys.executable, str(FILES / "berth_pack.py"), "id", str(root), str(cache),
                                       *REQUIREMENTS], capture_output=True, text=True, check=True).stdout)
    spec = {**ident, "cache": str(cache), "requirements": REQUIREMENTS, "targets": [target]}
    proc = subprocess.run([sys.executable, str(FILES / "berth_pack.py"), "pack", json.dumps(spec)],
                          capture_output=True, text=True, check=False, env={**os.environ, **(env or {})})
    return ident, proc


def _host(command: str, spec: dict[str, object]) -> dict:
    proc = subprocess.run([SYSTEM_PYTHON, "-", command, json.dumps(spec)], input=(FILES / "berth_host.py").read_text(),
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def _no_wheels(cache: Path, target: str) -> None:
    """A wheel cache that resolved the requirements to nothing: artifacts without deps, packed offline."""
    (cache / "wheels" / target).mkdir(parents=True)
    resolved = {"requirements": "\n".join(REQUIREMENTS), "wheels": []}
    (cache / "wheels" / target / "resolved.json").write_text(json.dumps(resolved))


def test_a_new_build_switches_atomically_and_the_old_layout_is_migrated(tmp_path: Path) -> None:
    root, cache, prefix = _collection_copy(tmp_path / "collection"), tmp_path / "cache", tmp_path / "prefix"
    # The role's layout before releases: a real lib directory, a venv, a copied launcher.
    (prefix / "lib/ansible_collections").mkdir(parents=True)
    (prefix / "venv/bin").mkdir(parents=True)
    (prefix / "libexec").mkdir()
    (prefix / "libexec/berth").write_text("old")
    spec: dict[str, object] = {"prefix": str(prefix), "bin_dir": str(tmp_path / "bin"), "python": SYSTEM_PYTHON,
                               "packages": [], "dirs": [], "files": []}
    releases = []
    for change in ("", "# a new build\n", "# and another\n"):
        engine_py = root / "plugins/module_utils/engine.py"
        engine_py.write_text(engine_py.read_text() + change)
        target = _host("probe", {**spec, "version": "0", "digest": "0", "build": "0"})["wheels"]
        if not (cache / "wheels").exists():
            _no_wheels(cache, target["target"])
        ident, packed = _pack(root, cache, target)
        assert packed.returncode == 0, packed.stderr
        build = {**spec, **ident}
        probe = _host("probe", build)
        assert not probe["current"] and not probe["release_present"]
        (prefix / "releases").mkdir(exist_ok=True)
        shutil.copy(json.loads(packed.stdout)["artifacts"][target["target"]],
                    prefix / "releases" / f"{probe['release']}.tar.gz")
        assert _host("install", build)["changed"]
        assert _host("probe", build)["current"] and not _host("install", build)["changed"]
        releases.append(probe["release"])
        manifest = json.loads((prefix / "engine.json").read_text())
        assert manifest["digest"] == ident["digest"] and manifest["release"] == probe["release"]
        assert os.readlink(prefix / "lib") == f"releases/{probe['release']}"
        assert os.readlink(prefix / "libexec/berth") == "../lib/libexec/berth"
        assert (prefix / "libexec/berth").read_text() == (REPO / "bin/berth").read_text()
    # The current release and the one before it stay (a module of the old digest may still be importing it).
    assert sorted(p.name for p in (prefix / "releases").iterdir()) == sorted(releases[1:])
    assert not (prefix / "venv").exists() and not (prefix / "lib.berth-old").exists()


def test_artifacts_are_deterministic_and_wheels_fall_back_to_the_controllers_own(tmp_path: Path) -> None:
    root = _collection_copy(tmp_path / "collection")
    target = _host("probe", {"prefix": str(tmp_path / "p"), "bin_dir": str(tmp_path / "b"), "python": SYSTEM_PYTHON,
                             "version": "0", "digest": "0", "build": "0"})["wheels"]
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "PIP_EXTRA_INDEX_URL": "", "PIP_CONFIG_FILE": os.devnull}
    same = sys.version_info[:2] == tuple(map(int, target["python_version"].split(".")))
    if same:   # the test venv's python has the system python's tag: its installed pydantic is vendored
        paths = []
        for cache in (tmp_path / "c1", tmp_path / "c2"):
            packed = _pack(root, cache, target, offline)[1]
            assert packed.returncode == 0, packed.stderr
            paths.append(Path(json.loads(packed.stdout)["artifacts"][target["target"]]))
        assert paths[0].read_bytes() == paths[1].read_bytes()
        with tarfile.open(paths[0]) as tar:
            names = tar.getnames()
            assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())
        assert names == sorted(names) and "vendor/pydantic/__init__.py" in names and "engine.json" in names
        assert "ansible_collections/berth/engine/plugins/module_utils/version.py" in names
    # Another python's wheels, with no index: a message naming the cause and the fix.
    packed = _pack(root, tmp_path / "c3", {**target, "target": "cp39-x86_64-glibc2.36", "python_version": "3.9"},
                   offline)[1]
    assert packed.returncode == 1 and "cannot get wheels" in packed.stderr and "pip" in packed.stderr
    assert "Traceback" not in packed.stderr
