"""Real peers for integration tests: docker-registry variants and images made
by umoci/skopeo. Session-scoped (a registry starts in ~0.1 s, but images are
pushed once per repository name), and every process is stopped at teardown."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import OciImage, build_busybox_layout, build_multilayer_layout
from tests.support.registry import Registry, start_registry
from tests.support.token_issuer import TokenIssuer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


def _registry(factory: pytest.TempPathFactory, name: str, **options: object) -> Iterator[Registry]:
    registry = start_registry(factory.mktemp(name), **options)  # type: ignore[arg-type]
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    yield from _registry(tmp_path_factory, "registry")


@pytest.fixture(scope="session")
def registry_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    yield from _registry(tmp_path_factory, "registry-auth", auth="basic")


@pytest.fixture(scope="session")
def registry_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    yield from _registry(tmp_path_factory, "registry-tls", tls=True)


@pytest.fixture(scope="session")
def registry_tls_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    yield from _registry(tmp_path_factory, "registry-tls-auth", auth="basic", tls=True)


@pytest.fixture(scope="session")
def registry_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    issuer = TokenIssuer(tmp_path_factory.mktemp("token-issuer")).start()
    try:
        registry = start_registry(tmp_path_factory.mktemp("registry-token"), auth="token", token_issuer=issuer)
    except BaseException:
        issuer.stop()
        raise
    registry.extras.append(issuer)
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def busybox_image(tmp_path_factory: pytest.TempPathFactory) -> OciImage:
    return build_busybox_layout(tmp_path_factory.mktemp("busybox"))


@pytest.fixture(scope="session")
def multilayer_image(tmp_path_factory: pytest.TempPathFactory, busybox_image: OciImage) -> OciImage:
    return build_multilayer_layout(tmp_path_factory.mktemp("multilayer"), busybox_image)


@pytest.fixture(scope="session")
def debian_image() -> OciImage:
    from tests.support.debian import build_debian_layout
    from tests.support.isolation import in_host_netns

    with in_host_netns():  # debootstrap reaches the machine's Debian mirror: not from a worker's own namespace
        return build_debian_layout()


@pytest.fixture(scope="session")
def udpecho(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static UDP peer (Debian's busybox nc has no -u)."""
    binary = tmp_path_factory.mktemp("udpecho") / "udpecho"
    source = Path(__file__).parent.parent / "support" / "c" / "udpecho.c"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(binary), str(source)], check=True)
    return binary
