"""The image verbs of the `berth` CLI against a real registry and real images:
pull/push with their progress (plain lines off a terminal, a live display on
a pty), images/rmi/tag/inspect/history/prune/save/load/import, login/logout,
their JSON output parsed and their exit codes; the CLI and image_info's
engine call agree on the images."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.info import inspect_images
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from tests.support.cli import BerthCli
from tests.support.images import push
from tests.support.runtime import make_rootfs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="integration tests need root")


@pytest.fixture
def berth(tmp_path: Path) -> BerthCli:
    return BerthCli(tmp_path)


def _pulled(berth: BerthCli, registry: Any, busybox_image: Any, repo: str) -> str:
    push(busybox_image, registry, repo, "1")
    name = f"{registry.host}/{repo}:1"
    berth("pull", "-q", name)
    return name


def test_pull_prints_plain_layer_lines_and_the_reference(berth: BerthCli, registry: Any, busybox_image: Any) -> None:
    digest = push(busybox_image, registry, "cli/pull", "1")
    name = f"{registry.host}/cli/pull:1"
    first = berth("pull", name)
    assert first.stdout == f"{name}\n"
    short = busybox_image.layer_digests[0].split(":")[1][:12]
    lines = first.stderr.splitlines()
    assert lines[0] == "1: Pulling from cli/pull" and "\x1b" not in first.stderr
    assert f"{short}: Pulling fs layer" in lines and f"{short}: Pull complete" in lines
    assert f"Digest: {digest}" in lines and f"Status: Downloaded newer image for {name}" in lines
    again = berth("pull", name)
    assert f"{short}: Already exists" in again.stderr.splitlines()
    assert f"Status: Image is up to date for {name}" in again.stderr
    document = json.loads(berth("--json", "pull", name).stdout)
    assert document["id"] == busybox_image.config_digest and document["digest"] == digest
    assert document["downloaded"] is False


def test_pull_on_a_terminal_redraws_the_layer_lines(berth: BerthCli, registry: Any, busybox_image: Any) -> None:
    push(busybox_image, registry, "cli/tty", "1")
    main, child = pty.openpty()
    try:
        process = subprocess.Popen([*berth.prefix, "pull", f"{registry.host}/cli/tty:1"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=child)
        os.close(child)
        child = -1
        shown = _read_all(main, process)
    finally:
        os.close(main)
        if child >= 0:
            os.close(child)
    assert process.returncode == 0
    short = busybox_image.layer_digests[0].split(":")[1][:12]
    assert f"{short}: Pulling fs layer" in shown
    assert f"\x1b[1A\r\x1b[2K{short}: Pull complete\x1b[1B\r" in shown   # redrawn in place


def _read_all(fd: int, process: subprocess.Popen[bytes]) -> str:
    chunks = []
    while True:
        ready, _w, _x = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(fd, 65536)
        except OSError:   # EIO: the child side closed
            break
        if not data:
            break
        chunks.append(data)
    process.communicate(timeout=60)
    return b"".join(chunks).decode(errors="replace")


def test_push_prints_layers_and_the_digest(berth: BerthCli, registry: Any, busybox_image: Any) -> None:
    source = _pulled(berth, registry, busybox_image, "cli/push-src")
    target = f"{registry.host}/cli/push-dst:2"
    berth("tag", source, target)
    pushed = berth("push", target)
    manifest = json.loads(berth("image", "inspect", target).stdout)[0]["Descriptor"]["digest"]
    assert pushed.stdout.startswith(f"2: digest: {manifest} size: ")
    assert f"The push refers to repository [{registry.host}/cli/push-dst]" in pushed.stderr
    short = busybox_image.layer_digests[0].split(":")[1][:12]
    assert any(line in (f"{short}: Pushed", f"{short}: Mounted") for line in pushed.stderr.splitlines())
    again = json.loads(berth("--json", "push", target).stdout)
    assert again["digest"] == manifest and again["uploaded"] == []
    assert f"{short}: Layer already exists" in berth("push", target).stderr


def test_images_lists_filters_and_agrees_with_image_info(berth: BerthCli, registry: Any, busybox_image: Any) -> None:
    name = _pulled(berth, registry, busybox_image, "cli/list")
    berth("tag", name, "local/other:7")
    rows = [json.loads(line) for line in berth("images", "--format", "json").stdout.splitlines()]
    assert {(r["Repository"], r["Tag"]) for r in rows} == {(f"{registry.host}/cli/list", "1"), ("local/other", "7")}
    table = berth("images").stdout.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert berth("images", "-q").stdout == busybox_image.config_digest.split(":")[1][:12] + "\n"
    assert berth("images", "--no-trunc", "-q", "local/*").stdout == busybox_image.config_digest + "\n"
    assert berth("images", "--format", "{{.Repository}}:{{.Tag}}", "local/other").stdout == "local/other:7\n"
    assert berth("images", "-f", "dangling=true", "-q").stdout == ""
    assert "sha256:" in berth("images", "--digests").stdout.splitlines()[1]
    listed = json.loads(berth("--json", "images").stdout)
    engine = Engine.open(berth.state, berth.run)
    module = inspect_images(engine, None, measure=False)["images"]
    assert {r["ID"] for r in listed} == {i["short_id"] for i in module}
    assert sorted(f"{r['Repository']}:{r['Tag']}" for r in listed) == sorted(
        parse_reference(t).familiar for i in module for t in i["repo_tags"])
    bad = berth("images", "-f", "colour=red", check=False)
    assert bad.returncode == 1 and "--filter" in bad.stderr


def test_rmi_untags_then_deletes_and_refuses_while_used(berth: BerthCli, registry: Any, busybox_image: Any) -> None:
    name = _pulled(berth, registry, busybox_image, "cli/rmi")
    image_id = busybox_image.config_digest
    berth("tag", name, "local/a:1")
    berth("tag", name, "local/b:1")
    assert berth("rmi", "local/a:1").stdout == "Untagged: local/a:1\n"
    by_id = berth("rmi", image_id[7:19], check=False)   # several tags: docker wants -f
    assert by_id.returncode == 1 and "several tags" in by_id.stderr
    berth("create", "--name", "user1", name, "true")
    try:
        berth("rmi", name)   # another tag remains: only untagged, even while used
        refused = berth("rmi", "local/b:1", check=False)
        assert refused.returncode == 1 and "user1" in refused.stderr
        digest_name = json.loads(berth("image", "inspect", "local/b:1").stdout)[0]["RepoDigests"][0]
        assert berth("rmi", digest_name, check=False).returncode == 1   # still used, by digest too
    finally:
        berth("rm", "-f", "user1")
    removed = berth("rmi", image_id).stdout.splitlines()
    assert removed == ["Untagged: local/b:1", f"Deleted: {image_id}"]
    missing = berth("rmi", "local/b:1", check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("berth: not_found:")
    assert berth("images", "-q").stdout == ""
    assert berth("rmi", check=False).returncode == 2   # usage


def test_inspect_history_and_prune(berth: BerthCli, registry: Any, busybox_image: Any) -> None:
    name = _pulled(berth, registry, busybox_image, "cli/inspect")
    document = json.loads(berth("image", "inspect", name).stdout)[0]
    assert document["Id"] == busybox_image.config_digest and document["RepoTags"] == [name]
    assert document["RootFS"]["Layers"] == busybox_image.diff_ids and document["Os"] == "linux"
    assert berth("image", "inspect", "-f", "{{.Architecture}}", name).stdout.strip() == document["Architecture"]
    missing = berth("image", "inspect", name, "nope:1", check=False)
    assert missing.returncode == 1 and len(json.loads(missing.stdout)) == 1
    history = berth("history", name).stdout.splitlines()
    assert history[0].split()[:3] == ["IMAGE", "CREATED", "CREATED"]
    assert json.loads(berth("image", "history", "--format", "json", name).stdout.splitlines()[0])["ID"] == \
        busybox_image.config_digest[7:19]
    assert json.loads(berth("--json", "history", name).stdout)["history"][0]["id"] == busybox_image.config_digest
    berth("tag", name, "local/keep:1")
    berth("rmi", name)
    assert berth("image", "prune", "-f").stdout == "Total reclaimed space: 0B\n"   # nothing dangling
    pruned = berth("image", "prune", "-a", "-f").stdout
    assert "untagged: local/keep:1" in pruned and f"deleted: {busybox_image.config_digest}" in pruned
    assert pruned.splitlines()[-1].startswith("Total reclaimed space: ") and not pruned.endswith(" 0B\n")
    assert json.loads(berth("--json", "images").stdout) == []


def test_save_load_and_import(berth: BerthCli, tmp_path: Path, registry: Any, busybox_image: Any) -> None:
    name = _pulled(berth, registry, busybox_image, "cli/save")
    rootfs = make_rootfs(tmp_path / "box")
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tmp_path / "rootfs.tar"), "."], check=True)
    imported = berth("import", "-c", 'CMD ["sh"]', "-c", "ENV MODE=cli", "-m", "by hand",
                     str(tmp_path / "rootfs.tar"), "local/imported:1").stdout.strip()
    config = json.loads(berth("image", "inspect", "local/imported:1").stdout)[0]
    assert config["Id"] == imported and config["Config"]["Cmd"] == ["sh"] and config["Comment"] == "by hand"
    assert "MODE=cli" in config["Config"]["Env"]
    archive = tmp_path / "both.tar"
    berth("save", "-o", str(archive), name, "local/imported:1")
    berth("rmi", name, "local/imported:1")
    loaded = berth("load", "-i", str(archive)).stdout.splitlines()
    assert loaded == [f"Loaded image: {name}", "Loaded image: local/imported:1"]
    with (tmp_path / "one.tar").open("wb") as out:
        subprocess.run([*berth.prefix, "save", "local/imported:1"], stdout=out, check=True)
    berth("rmi", "local/imported:1")
    with (tmp_path / "one.tar").open("rb") as source:
        again = subprocess.run([*berth.prefix, "load"], stdin=source, capture_output=True, text=True, check=False)
    assert again.returncode == 0 and again.stdout == "Loaded image: local/imported:1\n"
    with (tmp_path / "rootfs.tar").open("rb") as source:
        piped = subprocess.run([*berth.prefix, "import", "-"], stdin=source, capture_output=True, text=True,
                               check=False)
    assert piped.returncode == 0 and piped.stdout.startswith("sha256:")
    assert berth("load", "-i", str(tmp_path / "nothing.tar"), check=False).returncode == 1
    bad = berth("import", "-c", "RUN true", str(tmp_path / "rootfs.tar"), check=False)
    assert bad.returncode == 1 and "--change" in bad.stderr


def test_login_pull_logout(berth: BerthCli, tmp_path: Path, registry_auth: Any, busybox_image: Any) -> None:
    push(busybox_image, registry_auth, "cli/private", "1")
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker")}
    name = f"{registry_auth.host}/cli/private:1"

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*berth.prefix, *args], input=stdin, capture_output=True, text=True, env=env,
                              timeout=120, check=False)

    berth("info")   # makes the state root
    denied = cli("pull", name)
    assert denied.returncode == 1 and "berth: invalid_input: " in denied.stderr
    wrong = cli("login", "-u", registry_auth.username, "--password-stdin", registry_auth.host, stdin="nope\n")
    assert wrong.returncode == 1 and not (tmp_path / "docker" / "config.json").exists()
    ok = cli("login", "-u", registry_auth.username, "--password-stdin", registry_auth.host,
             stdin=registry_auth.password + "\n")
    assert (ok.returncode, ok.stdout) == (0, "Login Succeeded\n")
    assert registry_auth.password not in ok.stdout + ok.stderr
    assert cli("pull", "-q", name).stdout == f"{name}\n"
    assert cli("logout", registry_auth.host).stdout == f"Removing login credentials for {registry_auth.host}\n"
    assert cli("logout", registry_auth.host).stdout == f"Not logged in to {registry_auth.host}\n"
    assert cli("login", "-u", "x", "--password-stdin", stdin="").returncode == 1
