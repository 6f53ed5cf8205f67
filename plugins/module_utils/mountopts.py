"""mount(8)-style option words as mount(2) arguments.

One vocabulary for every mount the engine makes: the runtime's spec mounts
(``config.json`` ``mounts[].options``) and the volumes' driver options
(``o=...``). A word is a flag to set or clear, a propagation type, one of
the words Docker and podman pass that mean nothing to the kernel (ignored),
or filesystem data handed to the kernel as it is.
"""

from __future__ import annotations

from . import syscalls as sc

FLAG_OPTIONS = {  # option -> (set?, flag)
    "ro": (True, sc.MS_RDONLY), "rw": (False, sc.MS_RDONLY), "nosuid": (True, sc.MS_NOSUID),
    "suid": (False, sc.MS_NOSUID), "nodev": (True, sc.MS_NODEV), "dev": (False, sc.MS_NODEV),
    "noexec": (True, sc.MS_NOEXEC), "exec": (False, sc.MS_NOEXEC), "sync": (True, sc.MS_SYNCHRONOUS),
    "async": (False, sc.MS_SYNCHRONOUS), "dirsync": (True, sc.MS_DIRSYNC), "remount": (True, sc.MS_REMOUNT),
    "mand": (True, sc.MS_MANDLOCK), "nomand": (False, sc.MS_MANDLOCK), "atime": (False, sc.MS_NOATIME),
    "noatime": (True, sc.MS_NOATIME), "diratime": (False, sc.MS_NODIRATIME), "nodiratime": (True, sc.MS_NODIRATIME),
    "relatime": (True, sc.MS_RELATIME), "norelatime": (False, sc.MS_RELATIME),
    "strictatime": (True, sc.MS_STRICTATIME), "nostrictatime": (False, sc.MS_STRICTATIME),
    "bind": (True, sc.MS_BIND), "rbind": (True, sc.MS_BIND | sc.MS_REC), "nosymfollow": (True, sc.MS_NOSYMFOLLOW),
}
PROPAGATION = {"private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC, "shared": sc.MS_SHARED,
               "rshared": sc.MS_SHARED | sc.MS_REC, "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
               "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC}
# Words other tools put into a mount's options for themselves (podman's
# tmpcopyup, SELinux relabel z/Z, idmap U): handing them to the kernel as data
# would fail the mount.
IGNORED = frozenset({"tmpcopyup", "copy-symlink", "notmpcopyup", "z", "Z", "U"})


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """(mount flags, propagation flags, data string) of a mount's option words;
    a later word wins over an earlier one (``ro,rw`` is read-write)."""
    flags = propagation = 0
    data: list[str] = []
    for option in options:
        if option in FLAG_OPTIONS:
            on, flag = FLAG_OPTIONS[option]
            flags = flags | flag if on else flags & ~flag
        elif option in PROPAGATION:
            propagation |= PROPAGATION[option]
        elif option not in IGNORED:
            data.append(option)
    return flags, propagation, ",".join(data)


def known_options() -> list[str]:
    """The flag and propagation words, sorted (what ``berth-runtime features`` lists)."""
    return sorted([*FLAG_OPTIONS, *PROPAGATION])
