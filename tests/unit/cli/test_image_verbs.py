"""The image verbs' parsing and rows, and the pull/push progress display (no kernel, no registry)."""

from __future__ import annotations

import io
import threading

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cli import image_verbs, main
from ansible_collections.berth.engine.plugins.module_utils.cli.image_archives import import_changes
from ansible_collections.berth.engine.plugins.module_utils.cli.progress import LayerDisplay
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.image.layers import LayerProgress
from ansible_collections.berth.engine.plugins.module_utils.image.records import ImageRecord, LayerRecord

HEX = "ab" * 32
LAYER = "sha256:" + "cd" * 32


def _record(tags: list[str], digests: list[str] | None = None) -> ImageRecord:
    return ImageRecord(id=f"sha256:{HEX}", manifest_digest="sha256:" + "ef" * 32, manifest_media_type="m",
                       config_media_type="c", layers=[LayerRecord(LAYER, "t", 4_260_000, LAYER)], repo_tags=tags,
                       repo_digests=digests or [], created="2024-05-01T10:00:00.123456789Z")


def test_rows_one_per_tag_with_docker_fields() -> None:
    rows = image_verbs.image_rows(_record(["docker.io/library/busybox:latest", "reg:5000/a/b:1"],
                                          [f"reg:5000/a/b@sha256:{'12' * 32}"]))
    assert [(r["Repository"], r["Tag"]) for r in rows] == [("busybox", "latest"), ("reg:5000/a/b", "1")]
    assert rows[0]["ID"] == HEX[:12] and rows[0]["Size"] == "4.26MB" and rows[0]["Digest"] == "<none>"
    assert rows[1]["Digest"] == f"sha256:{'12' * 32}"
    assert rows[0]["CreatedAt"] == "2024-05-01 10:00:00 +0000 UTC" and rows[0]["CreatedSince"].endswith(" ago")


def test_untagged_rows_show_none_or_the_digest_repository() -> None:
    assert [(r["Repository"], r["Tag"]) for r in image_verbs.image_rows(_record([]))] == [("<none>", "<none>")]
    rows = image_verbs.image_rows(_record([], [f"docker.io/library/debian@sha256:{'12' * 32}"]))
    assert [(r["Repository"], r["Tag"]) for r in rows] == [("debian", "<none>")]
    assert image_verbs.image_rows(_record([]), no_trunc=True)[0]["ID"] == f"sha256:{HEX}"


@pytest.mark.parametrize(("pattern", "matches"), [
    ("busybox", True), ("busybox:latest", True), ("busybox:1.*", False), ("busy*", True),
    ("docker.io/library/busybox", True), ("debian", False), ("reg:5000/a/b", False)])
def test_the_reference_argument_matches_as_docker_images_does(pattern: str, matches: bool) -> None:
    row = image_verbs.image_rows(_record(["docker.io/library/busybox:latest"]))[0]
    assert image_verbs._reference_matches(row, pattern) is matches


@pytest.mark.parametrize(("argv", "key"), [
    (["images"], "images"), (["image", "ls"], "image ls"), (["image", "list"], "image list"),
    (["rmi", "x"], "rmi"), (["image", "rm", "x"], "image rm"), (["image", "remove", "x"], "image remove"),
    (["tag", "a", "b"], "tag"), (["pull", "x"], "pull"), (["image", "push", "x"], "image push"),
    (["save", "-o", "f", "x"], "save"), (["load", "-i", "f"], "load"), (["import", "-", "x"], "import"),
    (["image", "history", "x"], "image history"), (["image", "prune", "-a", "-f"], "image prune"),
    (["login", "-u", "u", "--password-stdin", "h"], "login"), (["logout"], "logout")])
def test_every_verb_and_alias_has_a_handler(argv: list[str], key: str) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.cli.base import command_key

    args = main._parser().parse_args(argv)
    assert command_key(args) == key and key in main.COMMANDS


def test_aliases_share_their_handler() -> None:
    assert main.COMMANDS["images"][0] is main.COMMANDS["image ls"][0]
    assert main.COMMANDS["rmi"][0] is main.COMMANDS["image rm"][0]
    assert main.COMMANDS["image history"][0] is main.COMMANDS["history"][0]


def test_import_changes_as_docker_import_change() -> None:
    changes = import_changes(['CMD ["sh", "-c", "x"]', "ENV A=1 B=2", "WORKDIR /srv", "EXPOSE 80",
                              "LABEL k=v", "VOLUME /data", "USER 1000"], "msg")
    assert changes.cmd == ["sh", "-c", "x"] and changes.env == {"A": "1", "B": "2"}
    assert (changes.working_dir, changes.user, changes.message) == ("/srv", "1000", "msg")
    assert changes.labels == {"k": "v"} and changes.exposed_ports == ["80/tcp"] and changes.volumes == ["/data"]
    with pytest.raises(InvalidInput) as caught:
        import_changes(["RUN true"], None)
    assert caught.value.field == "--change"


def _events() -> list[LayerProgress]:
    return [LayerProgress(LAYER, "waiting", 0, 2_000_000),
            LayerProgress(LAYER, "downloading", 500_000, 2_000_000),
            LayerProgress(LAYER, "downloading", 1_000_000, 2_000_000),
            LayerProgress("sha256:" + "99" * 32, "exists", 10, 10),
            LayerProgress(LAYER, "complete", 2_000_000, 2_000_000)]


def test_plain_progress_is_one_line_per_phase_without_escapes() -> None:
    out = io.StringIO()
    display = LayerDisplay(out, live=False)
    for event in _events():
        display(event)
    assert out.getvalue().splitlines() == ["cdcdcdcdcdcd: Pulling fs layer", "cdcdcdcdcdcd: Downloading",
                                           "999999999999: Already exists", "cdcdcdcdcdcd: Pull complete"]
    assert "\x1b" not in out.getvalue()


def test_live_progress_redraws_each_layer_line_in_place() -> None:
    out = io.StringIO()
    display = LayerDisplay(out, live=True)
    for event in _events():
        display(event)
    text = out.getvalue()
    assert "cdcdcdcdcdcd: Downloading  [" in text and "1MB/2MB" in text
    # the first layer's line is one up while it is the only line, two up once the second is drawn
    assert "\x1b[1A\r\x1b[2K" in text and "\x1b[2A\r\x1b[2Kcdcdcdcdcdcd: Pull complete\x1b[2B\r" in text
    assert text.count("\n") == 2   # one line per layer: redraws never add lines


def test_push_labels_and_thread_safety() -> None:
    out = io.StringIO()
    display = LayerDisplay(out, verb="push", live=False)
    threads = [threading.Thread(target=display, args=(LayerProgress(f"sha256:{i:064x}", phase, 1, 1),))
               for i in range(20) for phase in ("preparing", "pushed")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 40 and all(line.endswith((": Preparing", ": Pushed")) for line in lines)
