"""The host leak check tells what tests made from what a host sets up once."""

from __future__ import annotations

from tests.support.leaks import HostSnapshot, leaks, mounts_from_mountinfo

_FRESH = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
# What the first `ip netns add` on a host leaves, plus a namespace mounted under it.
_NETNS_BIND = "40 22 8:1 /run/netns /run/netns rw,relatime shared:20 - ext4 /dev/sda1 rw\n"
_NAMESPACE = "41 40 0:4 net:[4026532] /run/netns/t1 rw shared:21 - nsfs nsfs rw\n"


def test_the_run_netns_bind_that_iproute2_makes_once_is_not_a_leak() -> None:
    before = HostSnapshot(mounts=mounts_from_mountinfo(_FRESH))
    after = HostSnapshot(mounts=mounts_from_mountinfo(_FRESH + _NETNS_BIND))
    assert leaks(before, after) == {}


def test_a_namespace_left_under_run_netns_is_a_leak() -> None:
    before = HostSnapshot(mounts=mounts_from_mountinfo(_FRESH))
    after = HostSnapshot(mounts=mounts_from_mountinfo(_FRESH + _NETNS_BIND + _NAMESPACE))
    assert leaks(before, after) == {"mounts": ["/run/netns/t1 nsfs"]}
