"""Make the collection importable as ``ansible_collections.berth.engine``.

scripts/bootstrap.sh creates .build/collections/ansible_collections/berth/engine
as a symlink to the repository; when pytest runs without it (an IDE, a direct
call), the same link is created here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / ".build" / "collections"
_link = COLLECTIONS / "ansible_collections" / "berth" / "engine"
if not _link.exists():
    _link.parent.mkdir(parents=True, exist_ok=True)
    _link.symlink_to(REPO)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # for tests.support helpers

# needs_peer marks: a missing peer skips here and fails under CI=true (tests/support/peers.py)
pytest_plugins = ["tests.support.peers"]


# --- isolation and the host leak check -------------------------------------------
# Every process that runs tests (a plain run, or each xdist worker) gets a
# network namespace of its own (tests/support/isolation.py) and checks at its
# end that its tests left nothing behind, counting only what is its own
# (tests/support/leaks.py: Scope). Under xdist the controller runs no tests:
# it collects each worker's findings and fails the run on any.
_BEFORE = None
_NETNS: int | None = None
_WORKER_LEAKS: dict[str, dict[str, list[str]]] = {}


def _runs_tests(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None)


def pytest_configure(config: pytest.Config) -> None:
    global _NETNS
    if _runs_tests(config) and os.geteuid() == 0:
        from tests.support.isolation import enter_private_netns

        _NETNS = enter_private_netns()


@pytest.fixture(autouse=True)
def _host_netns_when_marked(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests marked host_netns run in the host's network namespace (shared
    with every other suite on the host: they must not assume it is theirs)."""
    if request.node.get_closest_marker("host_netns") is None:
        yield
        return
    from tests.support.isolation import in_host_netns

    with in_host_netns():
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first, so that parallel workers do not end on one long test:
    integration files that run playbooks (seconds per test), then the other
    integration tests, then the many short unit tests to fill the tails.
    Order within each group is kept."""
    playbook_files: dict[str, bool] = {}

    def weight(item: pytest.Item) -> int:
        path = str(item.fspath)
        if "/tests/unit/" in path.replace(os.sep, "/"):
            return 2
        if path not in playbook_files:
            try:
                source = Path(path).read_text()
            except OSError:
                source = ""
            playbook_files[path] = "run_playbook(" in source or "assert_converges(" in source
        return 0 if playbook_files[path] else 1

    items.sort(key=weight)


def pytest_sessionstart(session: pytest.Session) -> None:
    global _BEFORE
    if _runs_tests(session.config):   # this test process's dev installs (tests/support/devinstall.py)
        basetemp = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
        os.environ["BERTH_DEV_PREFIX_ROOT"] = str(basetemp / "bd")
    if os.geteuid() == 0 and _runs_tests(session.config):
        from tests.support.leaks import HostSnapshot

        _BEFORE = HostSnapshot.take()


def _scope(session: pytest.Session) -> object:
    from tests.support.isolation import tag
    from tests.support.leaks import OWNED_CONTAINER_IDS, Scope

    basetemp = session.config._tmp_path_factory.getbasetemp().resolve()  # type: ignore[attr-defined]
    others = next((p for p in basetemp.parents if p.name.startswith("pytest-of-")), None)
    return Scope(basetemp, others, _NETNS, tag(), frozenset(OWNED_CONTAINER_IDS))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if the suite left mounts, links, netns, cgroups, nft
    tables or berth processes on the host."""
    found: dict[str, list[str]] = {}
    if _runs_tests(session.config):
        from tests.support.devinstall import stop_agents

        stop_agents()   # the engine agents this process's playbooks started
    if _BEFORE is not None:
        from tests.support.leaks import session_leaks

        found = session_leaks(_BEFORE, _scope(session))  # type: ignore[arg-type]
        if hasattr(session.config, "workerinput"):
            session.config.workeroutput["berth_leaks"] = found  # type: ignore[attr-defined]
            return   # the controller reports
    elif not (os.geteuid() == 0 and getattr(session.config.option, "numprocesses", None)):
        return   # not root: nothing was checked
    for worker in sorted(_WORKER_LEAKS):
        for kind, items in _WORKER_LEAKS[worker].items():
            found.setdefault(kind, []).extend(f"{item} ({worker})" for item in items)
    _report(session, found)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """xdist, in the controller: a worker is done; keep what its leak check found."""
    output = getattr(node, "workeroutput", None) or {}
    if output.get("berth_leaks"):
        worker = output.get("workerid") or getattr(getattr(node, "gateway", None), "id", "worker")
        _WORKER_LEAKS[str(worker)] = output["berth_leaks"]


def _report(session: pytest.Session, found: dict[str, list[str]]) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if found:
        if reporter:
            reporter.write_line("HOST LEAK CHECK FAILED: the tests left these behind:", red=True)
            for kind, items in found.items():
                for item in items:
                    reporter.write_line(f"  {kind}: {item}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        reporter.write_line("host leak check: nothing left behind (mounts, links, netns, cgroups, nft, processes)")
