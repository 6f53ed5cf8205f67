"""The cgroup v2 device filter: rules → eBPF program, checked by running it."""

from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.runtime import devices_bpf as bpf
from ansible_collections.berth.engine.plugins.module_utils.runtime.cgroup import _DEFAULT_ALLOW

CHAR, BLOCK = 2, 1
M, R, W = 1, 2, 4


def _decide(spec_rules: list[dict], dev_type: int, access: int, major: int, minor: int) -> int:
    program = bpf.assemble(bpf.rules_from_spec(spec_rules, list(_DEFAULT_ALLOW)))
    assert len(bpf.encode(program)) == 8 * len(program)
    return bpf.evaluate(program, dev_type, access, major, minor)


DOCKER = [{"allow": False, "access": "rwm"}]


@pytest.mark.parametrize(("dev_type", "access", "major", "minor", "allowed"), [
    (CHAR, R | W, 1, 3, 1),        # /dev/null
    (CHAR, R, 1, 9, 1),            # /dev/urandom
    (CHAR, R | W, 136, 4, 1),      # a pty
    (CHAR, M, 10, 200, 1),         # mknod of any char device is allowed ...
    (CHAR, R | W, 10, 200, 0),     # ... opening it is not (/dev/net/tun)
    (BLOCK, R, 8, 0, 0),           # /dev/sda
    (BLOCK, M, 8, 0, 1),
    (CHAR, R | W, 1, 1, 0),        # /dev/mem
])
def test_docker_defaults(dev_type: int, access: int, major: int, minor: int, allowed: int) -> None:
    assert _decide(DOCKER, dev_type, access, major, minor) == allowed


def test_later_rules_override_earlier_ones() -> None:
    rules = [*DOCKER, {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rw"},
             {"allow": False, "type": "c", "major": 10, "minor": 200, "access": "w"}]
    assert _decide(rules, CHAR, R, 10, 200) == 1
    assert _decide(rules, CHAR, W, 10, 200) == 0
    assert _decide(rules, CHAR, R | W, 10, 200) == 0


def test_partial_access_is_not_enough() -> None:
    rules = [*DOCKER, {"allow": True, "type": "b", "major": 8, "minor": -1, "access": "r"}]
    assert _decide(rules, BLOCK, R, 8, 16) == 1
    assert _decide(rules, BLOCK, R | W, 8, 16) == 0


def test_allow_all_then_deny_one() -> None:
    rules = [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 1}]
    assert _decide(rules, CHAR, R, 1, 1) == 0
    assert _decide(rules, BLOCK, R | W, 8, 0) == 1


def test_bad_rule_names_the_entry() -> None:
    with pytest.raises(InvalidInput) as caught:
        bpf.rules_from_spec([{"allow": True, "type": "x"}], [])
    assert caught.value.field == "linux.resources.devices[0]"


def test_no_unreachable_code_after_a_rule_that_matches_everything() -> None:
    """The verifier refuses a program with unreachable instructions."""
    program = bpf.assemble(bpf.rules_from_spec(DOCKER, list(_DEFAULT_ALLOW)))
    assert program[-2:] == [bpf._insn(0xB7, 0, imm=0), bpf._insn(0x95)]
    assert program.count(bpf._insn(0x95)) == len(_DEFAULT_ALLOW) + 1
