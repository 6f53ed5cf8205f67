"""Each test process (a plain pytest run, or one xdist worker) runs in a
network namespace of its own.

Links, bridges (the default network's ``berth0`` included), addresses,
routes, nft tables, sysctls under net.* and listening ports are per network
namespace. In its own one, a test process's containers, test bridges, fixed
subnets and registries cannot meet those of another worker or of another
suite running on the same host, and its leak check sees only its own links
and tables. It is a real, fresh network stack: what the engine sets up there
(ip_forward, bridges, NAT) it must set up on a fresh host too.

Mounts, cgroups, processes and /run/netns stay host-wide; tests keep those
apart by their own temp dirs, container ids and the names from ``netns_name``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import threading
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
OPT_OUT = "BERTH_TEST_HOST_NETNS"   # =1: run in the host's network namespace (debugging)
_host_netns_fd: int | None = None   # kept open to go back for tests marked host_netns


def enter_private_netns() -> int | None:
    """Move this process's main thread (and so every child and thread it
    starts from now on) into a new network namespace with loopback up; its
    inode, or None when not possible (not root, opted out, not the main thread)."""
    if os.geteuid() != 0 or os.environ.get(OPT_OUT) == "1":
        return None
    if threading.current_thread() is not threading.main_thread():
        return None   # unshare moves only the calling thread
    if engine_reads_host_sysfs():
        return None
    global _host_netns_fd
    libc = ctypes.CDLL(None, use_errno=True)
    host = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    if libc.unshare(CLONE_NEWNET) != 0:
        os.close(host)
        return None
    _host_netns_fd = host
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    return current_netns_inode()


def engine_reads_host_sysfs() -> bool:
    """True while the engine sets a bridge port's hairpin mode through
    /sys/class/net: sysfs shows the links of the namespace that mounted it
    (the host's), so in a namespace of its own the write fails. Over netlink
    it works in any namespace; until then tests stay in the host's."""
    import inspect

    try:
        from ansible_collections.berth.engine.plugins.module_utils.network import links

        return "brport/hairpin_mode" in inspect.getsource(getattr(links, "_hairpin", lambda: None))
    except Exception:   # a tree mid-edit: the tests that import it will say why
        return True


@contextlib.contextmanager
def in_host_netns() -> Iterator[None]:
    """Run a block (and what it starts) in the host's network namespace: for
    a test that needs the host's network (the host role's apt over the
    package mirror). A no-op when this process never left it."""
    if _host_netns_fd is None:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(_host_netns_fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns to the host's network namespace")
        try:
            yield
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the test's network namespace")
    finally:
        os.close(own)


def current_netns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def tag() -> str:
    """A token unique to this test process, for names that are host-wide: its
    pid, one dash-separated part of a name (berthtest-<pid>-a1, berth-ro-<pid>)."""
    return str(os.getpid())


def netns_name(short: str) -> str:
    """A /run/netns name for a test's namespace: host-wide, so it carries this
    process's tag (the session leak check counts the tagged ones as its own)."""
    return f"berthtest-{tag()}-{short}"
