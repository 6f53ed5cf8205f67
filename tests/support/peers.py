"""The real peers tests lean on (runc, podman, buildah, skopeo, umoci, docker-registry,
sshd, tini, ...): a test whose peer is missing skips on a developer's machine and
fails under ``CI=true``, where scripts/bootstrap.sh installs every one of them and
a skip would hide a missing install step.

Three ways in, one rule:

- ``require_peer("buildah")`` inside a test or fixture;
- ``pytestmark = needs_peer("runc")`` (or as a decorator) for a module or a test;
- ``if have_peer("podman"):`` for an optional cross-check inside a test.

A peer is named by its command (looked up on PATH) or by an absolute path.
Skips for any other reason (not root, a feature a peer lacks) stay plain skips.
"""

from __future__ import annotations

import os
import shutil

import pytest

MARK = "peers"   # the marker needs_peer sets; pytest_runtest_setup below acts on it


def ci_strict() -> bool:
    """CI=true: every peer must be there."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing_peers(*names: str) -> list[str]:
    return [name for name in names if not _present(name)]


def _present(name: str) -> bool:
    if os.path.isabs(name):
        return os.access(name, os.X_OK)
    return shutil.which(name) is not None


def require_peer(*names: str, why: str = "") -> None:
    """Skip the running test when a peer is missing; fail it under CI=true."""
    missing = missing_peers(*names)
    if not missing:
        return
    reason = f"needs {', '.join(missing)}" + (f" ({why})" if why else "")
    if ci_strict():
        pytest.fail(f"{reason}: a missing peer fails under CI=true (scripts/bootstrap.sh installs it)",
                    pytrace=False)
    pytest.skip(reason)


def have_peer(name: str) -> bool:
    """For an optional cross-check: False when ``name`` is missing, but under CI=true it must be there."""
    if _present(name):
        return True
    if ci_strict():
        pytest.fail(f"needs {name}: a missing peer fails under CI=true (scripts/bootstrap.sh installs it)",
                    pytrace=False)
    return False


def needs_peer(*names: str, why: str = "") -> pytest.MarkDecorator:
    """A mark: the test (or every test of a module, as ``pytestmark``) requires these peers."""
    return getattr(pytest.mark, MARK)(*names, why=why)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARK}(*names, why=''): the real peers the test needs "
                            "(skips without them, fails under CI=true)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers(MARK):
        require_peer(*mark.args, why=mark.kwargs.get("why", ""))
