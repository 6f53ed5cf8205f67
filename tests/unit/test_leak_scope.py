"""The leak checks count what this test process made, not what other suites
running on the same host make meanwhile."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from tests.support.leaks import OWNED_CONTAINER_IDS, ContainerWatch, HostSnapshot, Scope, session_leaks

OURS, THEIRS = "a" * 64, "b" * 64
BASETEMP = Path("/tmp/pytest-of-root/pytest-7/popen-gw1")


def _scope(**changes: object) -> Scope:
    fields: dict[str, object] = {"basetemp": BASETEMP, "others_temp": Path("/tmp/pytest-of-root"),
                                 "netns_inode": 4026532000, "tag": "4242", "container_ids": frozenset({OURS})}
    return Scope(**{**fields, **changes})  # type: ignore[arg-type]


def test_links_and_tables_are_ours_only_in_a_namespace_of_our_own() -> None:
    assert _scope().is_ours("links", "br-0123456789ab") is True
    assert _scope().is_ours("nft_tables", "table inet berth") is True
    assert _scope(netns_inode=None).is_ours("links", "br-0123456789ab") is None


def test_mounts_and_namespaces_by_where_they_are_and_their_name() -> None:
    scope = _scope()
    assert scope.is_ours("mounts", f"{BASETEMP}/test_x0/state/containers/c/rootfs overlay") is True
    assert scope.is_ours("mounts", "/tmp/pytest-of-root/pytest-7/popen-gw2/test_y0/small tmpfs") is False
    assert scope.is_ours("mounts", "/tmp/pytest-of-root/pytest-9/test_z0/rootfs overlay") is False
    assert scope.is_ours("mounts", "/run/netns/berthtest-4242-out nsfs") is True
    assert scope.is_ours("netns", "berth-ro-4242") is True
    assert scope.is_ours("netns", "berth-ro-28823") is False
    assert scope.is_ours("mounts", "/var/lib/berth/snapshots/x overlay") is None


def test_container_cgroups_by_the_ids_our_fixtures_saw() -> None:
    scope = _scope()
    assert scope.is_ours("cgroups", f"/sys/fs/cgroup/memory/berth-{OURS}") is True
    assert scope.is_ours("cgroups", f"/sys/fs/cgroup/memory/budget/berth-{THEIRS}") is False
    assert scope.is_ours("cgroups", "/sys/fs/cgroup/memory/berth-budget-4242") is True
    assert scope.is_ours("cgroups", "/sys/fs/cgroup/memory/berth-plan-57e2c48c") is False


def test_a_container_cgroup_is_ours_while_its_dir_is_in_our_state_root(tmp_path: Path) -> None:
    (tmp_path / "test_x0" / "state" / "containers" / THEIRS).mkdir(parents=True)
    scope = _scope(basetemp=tmp_path)
    assert scope.is_ours("cgroups", f"/sys/fs/cgroup/pids/berth-{THEIRS}") is True
    assert scope.is_ours("cgroups", f"/sys/fs/cgroup/pids/berth-{'c' * 64}") is False


def test_a_process_in_our_namespace_is_ours() -> None:
    inode = os.stat("/proc/self/ns/net").st_ino
    assert _scope(netns_inode=inode).is_ours("processes", f"{os.getpid()}: python") is True
    # in a namespace of our own, a process outside it and our temp dir is someone else's
    assert _scope(netns_inode=inode + 1).is_ours("processes", f"{os.getpid()}: python") is False
    assert _scope(netns_inode=None).is_ours("processes", f"{os.getpid()}: python") is None


def _snapshots(*links: set[str]) -> Iterator[HostSnapshot]:
    for found in links:
        yield HostSnapshot(links=found, cgroups={f"/sys/fs/cgroup/pids/berth-{THEIRS}"})
    while True:
        yield HostSnapshot(links=links[-1])


def test_what_nobody_can_tell_is_kept_only_if_it_stays() -> None:
    scope = _scope(netns_inode=None)   # links are host-wide: whose, cannot be told
    taken = _snapshots({"lo", "passing", "stuck"}, {"lo", "stuck"})
    found = session_leaks(HostSnapshot(links={"lo"}), scope, take=lambda: next(taken), settle=1.0)
    assert found == {"links": ["stuck"]}


def test_someone_elses_is_never_reported_and_ours_always() -> None:
    taken = _snapshots({"lo", "br-ours"})
    found = session_leaks(HostSnapshot(links={"lo"}), _scope(), take=lambda: next(taken), settle=0.6)
    assert found == {"links": ["br-ours"]}   # the other suite's cgroup is not in it


def test_nothing_new_returns_at_once() -> None:
    same = HostSnapshot(links={"lo"})
    assert session_leaks(same, _scope(), take=lambda: same, settle=60.0) == {}


def test_the_watch_sees_containers_made_and_removed_meanwhile(tmp_path: Path) -> None:
    containers = tmp_path / "state" / "containers"
    containers.mkdir(parents=True)
    (containers / OURS).mkdir()   # there before the watch
    watch = ContainerWatch(containers)
    try:
        (containers / THEIRS).mkdir()
        shutil.rmtree(containers / THEIRS)
        (containers / "not-an-id").mkdir()
        assert watch.ids() == {OURS, THEIRS}
        assert {OURS, THEIRS} <= OWNED_CONTAINER_IDS
        assert not watch.overflowed
    finally:
        watch.close()
