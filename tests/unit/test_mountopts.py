"""Mount option words (mountopts.py), shared by the runtime's spec mounts and
the volumes' driver options."""

from __future__ import annotations

from ansible_collections.berth.engine.plugins.module_utils import mountopts
from ansible_collections.berth.engine.plugins.module_utils import syscalls as sc


def test_flags_propagation_and_data_are_told_apart() -> None:
    flags, propagation, data = mountopts.parse_options(["rbind", "ro", "nosuid", "rslave", "size=64m", "mode=1777"])
    assert flags == sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY | sc.MS_NOSUID
    assert propagation == sc.MS_SLAVE | sc.MS_REC
    assert data == "size=64m,mode=1777"


def test_a_later_word_wins() -> None:
    assert mountopts.parse_options(["ro", "rw"])[0] == 0
    assert mountopts.parse_options(["noexec", "exec", "noexec"])[0] == sc.MS_NOEXEC


def test_other_tools_words_are_not_handed_to_the_kernel() -> None:
    assert mountopts.parse_options(["tmpcopyup", "z", "Z", "U", "notmpcopyup", "copy-symlink"]) == (0, 0, "")


def test_known_options_are_what_the_runtime_announces() -> None:
    known = mountopts.known_options()
    assert known == sorted(known) and {"ro", "rbind", "rslave", "nosymfollow"} <= set(known)
    assert not set(known) & mountopts.IGNORED
