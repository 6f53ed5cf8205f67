"""Mount targets the runtime owns (/, /proc, /sys, /dev, anything under
/proc but runc's lxcfs allowlist) are refused at validation, naming the
field the user wrote them in, whichever syntax and however spelled."""

from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.containers import mounting
from ansible_collections.berth.engine.plugins.module_utils.containers.bundle import BundleRequest
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.volumes import specs

RESERVED = ["/", "/proc", "/sys", "/dev", "/proc/1/root", "/proc/sys/kernel", "/proc/self/fd",
            "//proc", "/proc/", "/./proc", "/data/../proc", "/../../sys", "/dev/../", "/proc/cpuinfo/..",
            "/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger"]


@pytest.mark.parametrize("target", RESERVED)
def test_short_syntax_refuses_reserved_targets(target: str) -> None:
    for entry in (target, f"vol:{target}", f"/srv:{target}:ro"):
        with pytest.raises(InvalidInput) as caught:
            specs.parse_short(entry)
        assert caught.value.field == "volumes" and "cannot mount" in caught.value.message
        assert caught.value.hint


@pytest.mark.parametrize("target", RESERVED)
@pytest.mark.parametrize("kind", ["volume", "bind", "tmpfs"])
def test_long_syntax_refuses_reserved_targets(target: str, kind: str) -> None:
    entry = {"type": kind, "target": target, **({"source": "/srv"} if kind == "bind" else {})}
    with pytest.raises(InvalidInput) as caught:
        specs.parse_long(entry)
    assert caught.value.field == "mounts"


@pytest.mark.parametrize("target", RESERVED)
def test_tmpfs_option_refuses_reserved_targets(target: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        specs.parse_all(None, None, [f"{target}:size=1m"])
    assert caught.value.field == "tmpfs"


@pytest.mark.parametrize("allowed", specs.PROC_MOUNTS_ALLOWED)
def test_runcs_lxcfs_files_may_be_covered(allowed: str) -> None:
    assert specs.parse_short(f"/var/lib/lxcfs{allowed}:{allowed}:ro")["target"] == allowed
    assert specs.parse_short(f"/var/lib/lxcfs{allowed}:/x/..{allowed}")["target"] == allowed


@pytest.mark.parametrize(("written", "normal"), [("/data/../srv", "/srv"), ("//data//x/", "/data/x"),
                                                 ("/./a/./b", "/a/b"), ("/sys/fs/cgroup", "/sys/fs/cgroup"),
                                                 ("/dev/shm", "/dev/shm"), ("/procfs", "/procfs"),
                                                 ("/../../data", "/data")])
def test_dotdot_and_slashes_are_normalised(written: str, normal: str) -> None:
    assert specs.parse_short(f"vol:{written}")["target"] == normal
    assert specs.parse_long({"target": written})["target"] == normal


@pytest.mark.parametrize("bad", ["data", "", "relative/../x", "/a\0b", 7, None])
def test_targets_must_be_absolute_paths(bad: object) -> None:
    with pytest.raises(InvalidInput, match="must be absolute"):
        specs.parse_long({"type": "tmpfs", "target": bad})


@pytest.mark.parametrize("volume", ["/proc", "/", "/sys/", "/x/../dev", "/proc/self", "relative"])
def test_an_image_volume_over_a_reserved_path_fails_naming_the_image(volume: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        specs.with_image_volumes([], {"/data": {}, volume: {}}, image="evil/vol:1")
    assert caught.value.field == "image" and "image evil/vol:1's VOLUME" in caught.value.message
    assert "use an image without this VOLUME" in (caught.value.hint or "")
    request = BundleRequest(image="evil/vol:1")
    with pytest.raises(InvalidInput, match="image evil/vol:1"):
        mounting.prepare(request, {"Volumes": {volume: {}}})


def test_image_volumes_are_normalised_before_being_compared() -> None:
    found = specs.parse_all(["v1:/data"], None, ["/run"])
    merged = specs.with_image_volumes(found, {"/data/": {}, "/x/../run": {}, "//cache": {}}, ["/run"])
    assert [m["target"] for m in merged] == ["/data", "/cache"]


def test_prepare_checks_requests_built_without_the_parsers() -> None:
    """The API (containers/service) may be handed mounts and tmpfs directly."""
    raw = BundleRequest(image="x", mounts=[specs.mount("bind", "/proc/sys", "/srv")])
    with pytest.raises(InvalidInput, match="cannot mount inside /proc"):
        mounting.prepare(raw, {})
    with pytest.raises(InvalidInput) as caught:
        mounting.prepare(BundleRequest(image="x", tmpfs=["/dev:size=1m"]), {})
    assert caught.value.field == "tmpfs"
