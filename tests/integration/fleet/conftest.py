"""Fixtures of the fleet scenarios: a simulated fleet per test module (its
scenarios share it and run in order), and the busybox rootfs tar each host
imports its base image from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.fleet import shop
from tests.support.fleet import Fleet, busybox_tar, fleet


@pytest.fixture(scope="session")
def rootfs_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_tar(tmp_path_factory.mktemp("fleet-image"))


@pytest.fixture(scope="module")
def shop_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with fleet(tmp_path_factory.mktemp("fleet"), 3) as started:
        yield started


@pytest.fixture(scope="module")
def fresh_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """A fleet nothing has been run on yet (a different underlay range from ``shop_fleet``'s)."""
    with fleet(tmp_path_factory.mktemp("fresh-fleet"), 3, subnet_octet=251) as started:
        yield started


@pytest.fixture(scope="module")
def converged_shop(shop_fleet: Fleet, rootfs_tar: Path) -> shop.ShopRuns:
    role = shop.role_play(shop_fleet)
    role_first, role_again = shop_fleet.play(role), shop_fleet.play(role)
    converge = shop.converge_play(shop_fleet, rootfs_tar)
    shop_first = shop_fleet.play(converge)
    return shop.ShopRuns(shop_fleet, role_first, role_again, shop_first, shop_fleet.play(converge))
