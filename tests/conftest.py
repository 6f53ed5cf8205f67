"""Make the collection importable as ``ansible_collections.berth.engine``.

scripts/bootstrap.sh creates .build/collections/ansible_collections/berth/engine
as a symlink to the repository; when pytest runs without it (an IDE, a direct
call), the same link is created here.
"""

from __future__ import annotations

import os
import sys
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


# --- the host leak check, after the whole suite -------------------------------
_BEFORE = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _BEFORE
    if os.geteuid() == 0:
        from tests.support.leaks import HostSnapshot

        _BEFORE = HostSnapshot.take()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if the suite left mounts, links, netns, cgroups, nft
    tables or berth processes on the host."""
    if _BEFORE is None:
        return
    from tests.support.leaks import HostSnapshot, leaks

    found = leaks(_BEFORE, HostSnapshot.take())
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
