"""firewall.py without a kernel: rule text, element text, reading the table
back, and the Firewall logic against a recording nft."""

from __future__ import annotations

import json

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict, InvalidInput, InvalidState
from ansible_collections.berth.engine.plugins.module_utils.network import firewall as fwmod
from ansible_collections.berth.engine.plugins.module_utils.network.firewall import (
    Firewall,
    NetRules,
    NftError,
    Published,
    TableState,
)

# `nft -j list table` of a table with networks n1 (normal) and n2 (internal) and container c1's two ports
SAMPLE = {"nftables": [
    {"set": {"name": "bridges", "elem": [{"elem": {"val": "br-n1", "comment": "n1"}},
                                         {"elem": {"val": "br-n2", "comment": "n2"}}]}},
    {"set": {"name": "same", "elem": [{"elem": {"val": {"concat": ["br-n1", "br-n1"]}, "comment": "n1"}},
                                      {"elem": {"val": {"concat": ["br-n2", "br-n2"]}, "comment": "n2"}}]}},
    {"set": {"name": "internal", "elem": [{"elem": {"val": "br-n2", "comment": "n2"}}]}},
    {"set": {"name": "masq", "elem": [{"elem": {"val": {"prefix": {"addr": "10.251.1.0", "len": 24}},
                                                "comment": "n1"}}]}},
    {"set": {"name": "hairpin", "elem": [
        {"elem": {"val": {"concat": [{"prefix": {"addr": "10.251.1.0", "len": 24}}, "br-n1"]}, "comment": "n1"}},
        {"elem": {"val": {"concat": [{"prefix": {"addr": "10.251.2.0", "len": 24}}, "br-n2"]}, "comment": "n2"}}]}},
    {"map": {"name": "pub_any", "elem": [[{"elem": {"val": {"concat": ["tcp", 8080]}, "comment": "c1"}},
                                          {"concat": ["10.251.1.2", 80]}]]}},
    {"map": {"name": "pub_ip", "elem": [[{"elem": {"val": {"concat": ["127.0.0.1", "udp", 53]}, "comment": "c1"}},
                                         {"concat": ["10.251.1.2", 53]}]]}},
    {"chain": {"name": "forward", "hook": "forward"}},
]}


class RecordingNft:
    """Stands in for Nft: records transactions, answers list commands from ``table``."""

    backend = "fake"

    def __init__(self, table: dict | None = None) -> None:
        self.table = table
        self.runs: list[str] = []

    def run(self, text: str, as_json: bool = False) -> str:
        if text.startswith("list "):
            if self.table is None:
                raise NftError("Error: No such file or directory", text)
            return json.dumps(self.table)
        self.runs.append(text)
        return ""


@pytest.fixture
def no_sysctl(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    written: list[str] = []
    monkeypatch.setattr(fwmod, "_write_sysctl", lambda key, value: written.append(f"{key}={value}") or True)
    return written


def test_skeleton_declares_chains_before_rules_and_flushes_them() -> None:
    lines = fwmod.skeleton("berth")
    assert lines[0] == "add table ip berth"
    first_rule = next(i for i, line in enumerate(lines) if line.startswith("add rule"))
    assert all(not line.startswith("add chain") for line in lines[first_rule:])
    for chain in ("forward", "prerouting", "output", "publish", "postrouting"):
        assert f"flush chain ip berth {chain}" in lines
    text = "\n".join(lines)
    assert "hook forward priority filter; policy accept;" in text
    assert "hook output priority -100" in text
    assert "fib daddr type local jump publish" in text
    assert "ip saddr @masq oifname != @bridges masquerade" in text
    assert "ct status dnat ip saddr . oifname @hairpin masquerade" in text


def test_network_commands_normal_and_internal() -> None:
    normal = "\n".join(fwmod.network_commands("t", NetRules("n1", "br-n1", "10.251.1.0/24", False)))
    assert 'add element ip t bridges { "br-n1" comment "n1" }' in normal
    assert 'add element ip t same { "br-n1" . "br-n1" comment "n1" }' in normal
    assert 'add element ip t hairpin { 10.251.1.0/24 . "br-n1" comment "n1" }' in normal
    assert 'add element ip t masq { 10.251.1.0/24 comment "n1" }' in normal
    assert normal.endswith('delete element ip t internal { "br-n1" }')  # delete-if-present
    internal = "\n".join(fwmod.network_commands("t", NetRules("n2", "br-n2", "10.251.2.0/24", True)))
    assert 'add element ip t internal { "br-n2" comment "n2" }' in internal
    assert internal.endswith("delete element ip t masq { 10.251.2.0/24 }")


def test_port_keys_and_publish_commands() -> None:
    anyaddr = Published("", 8080, "tcp", "10.251.1.2", 80)
    local = Published("127.0.0.1", 53, "udp", "10.251.1.2", 53)
    assert fwmod.port_key(anyaddr) == ("pub_any", "tcp . 8080")
    assert fwmod.port_key(Published("0.0.0.0", 1, "udp", "10.0.0.1", 1)) == ("pub_any", "udp . 1")
    assert fwmod.port_key(local) == ("pub_ip", "127.0.0.1 . udp . 53")
    lines = fwmod.publish_commands("t", "c1", [anyaddr], [local])
    assert lines == ["delete element ip t pub_any { tcp . 8080 }",
                     'create element ip t pub_ip { 127.0.0.1 . udp . 53 comment "c1" : 10.251.1.2 . 53 }']


@pytest.mark.parametrize(("a", "b", "overlap"), [
    (("", 80, "tcp"), ("", 80, "tcp"), True),
    (("", 80, "tcp"), ("127.0.0.1", 80, "tcp"), True),
    (("10.0.0.1", 80, "tcp"), ("127.0.0.1", 80, "tcp"), False),
    (("", 80, "tcp"), ("", 80, "udp"), False),
    (("", 80, "tcp"), ("", 81, "tcp"), False),
])
def test_overlaps(a: tuple[str, int, str], b: tuple[str, int, str], overlap: bool) -> None:
    assert fwmod._overlaps(Published(*a, "10.0.0.2", 1), Published(*b, "10.0.0.3", 1)) is overlap


def test_table_state_from_json() -> None:
    state = TableState.from_json(json.dumps(SAMPLE))
    assert state.owned("bridges", "n1") == ["br-n1"]
    assert state.owned("same", "n2") == [("br-n2", "br-n2")]
    assert state.owned("masq", "n1") == ["10.251.1.0/24"]
    assert state.owned("hairpin", "n2") == [("10.251.2.0/24", "br-n2")]
    assert state.published("c1") == [("c1", Published("127.0.0.1", 53, "udp", "10.251.1.2", 53)),
                                     ("c1", Published("", 8080, "tcp", "10.251.1.2", 80))]
    assert state.published("other") == []


def test_element_text_round_trips_owned_values() -> None:
    state = TableState.from_json(json.dumps(SAMPLE))
    assert fwmod._element_text("same", state.owned("same", "n1")[0]) == '"br-n1" . "br-n1"'
    assert fwmod._element_text("hairpin", state.owned("hairpin", "n1")[0]) == '10.251.1.0/24 . "br-n1"'
    assert fwmod._element_text("masq", "10.251.1.0/24") == "10.251.1.0/24"


def test_ensure_network_is_one_transaction_and_turns_on_forwarding(no_sysctl: list[str]) -> None:
    nft = RecordingNft()
    Firewall("t", nft).ensure_network(NetRules("n1", "br-n1", "10.251.1.7/24", False))  # type: ignore[arg-type]
    assert len(nft.runs) == 1 and "10.251.1.0/24" in nft.runs[0]  # normalised to the network
    assert no_sysctl == ["net/ipv4/ip_forward=1"]
    Firewall("t", nft).ensure_network(NetRules("n2", "br-n2", "10.251.2.0/24", True))  # type: ignore[arg-type]
    assert no_sysctl == ["net/ipv4/ip_forward=1"]  # internal networks do not need forwarding


def test_remove_network_deletes_its_elements_and_the_last_takes_the_table() -> None:
    nft = RecordingNft(SAMPLE)
    Firewall("t", nft).remove_network("n2")  # type: ignore[arg-type]
    text = nft.runs[-1]
    assert 'delete element ip t bridges { "br-n2" }' in text
    assert 'delete element ip t internal { "br-n2" }' in text
    assert 'delete element ip t hairpin { 10.251.2.0/24 . "br-n2" }' in text
    assert "br-n1" not in text
    only = {"nftables": [{"set": {"name": "bridges", "elem": [{"elem": {"val": "br-n1", "comment": "n1"}}]}}]}
    nft = RecordingNft(only)
    Firewall("t", nft).remove_network("n1")  # type: ignore[arg-type]
    assert nft.runs == ["add table ip t\ndelete table ip t"]
    nft = RecordingNft(None)
    Firewall("t", nft).remove_network("n1")  # type: ignore[arg-type]
    assert nft.runs == []


def test_publish_replaces_the_containers_ports() -> None:
    nft = RecordingNft(SAMPLE)
    Firewall("t", nft).publish("c1", "br-n1", [Published("", 9000, "tcp", "10.251.1.2", 90)])  # type: ignore[arg-type]
    assert nft.runs == ["delete element ip t pub_ip { 127.0.0.1 . udp . 53 }\n"
                        "delete element ip t pub_any { tcp . 8080 }\n"
                        'create element ip t pub_any { tcp . 9000 comment "c1" : 10.251.1.2 . 90 }']


def test_publish_refuses_ports_of_other_containers_and_bad_input() -> None:
    fw = Firewall("t", RecordingNft(SAMPLE))  # type: ignore[arg-type]
    with pytest.raises(Conflict) as caught:
        fw.publish("c2", "br-n1", [Published("10.0.0.5", 8080, "tcp", "10.251.1.3", 80)])
    assert caught.value.field == "ports" and "c1" in str(caught.value)
    with pytest.raises(InvalidState):
        fw.publish("c2", "br-unknown", [Published("", 1, "tcp", "10.251.1.3", 80)])
    with pytest.raises(InvalidInput):
        fw.publish("c2", "br-n1", [Published("", 1, "icmp", "10.251.1.3", 80)])
    with pytest.raises(InvalidInput):
        fw.publish("c2", "br-n1", [Published("", 0, "tcp", "10.251.1.3", 80)])
    with pytest.raises(InvalidInput):
        fw.publish("c2", "br-n1", [Published("", 5, "tcp", "10.251.1.300", 80)])
    with pytest.raises(InvalidInput):
        fw.publish('c2" }', "br-n1", [])  # ids go into nft text: never quotes


def test_unpublish_and_published() -> None:
    nft = RecordingNft(SAMPLE)
    fw = Firewall("t", nft)  # type: ignore[arg-type]
    assert [p.host_port for p in fw.published("c1")] == [53, 8080]
    fw.unpublish("c2")
    assert nft.runs == []
    fw.unpublish("c1")
    assert len(nft.runs) == 1 and nft.runs[0].count("delete element") == 2
    assert Firewall("t", RecordingNft(None)).published() == []  # type: ignore[arg-type]


def test_port_in_use_reads_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fwmod, "_socket_busy", lambda *_args: False)
    fw = Firewall("t", RecordingNft(SAMPLE))  # type: ignore[arg-type]
    assert fw.port_in_use("", 8080, "tcp")
    assert fw.port_in_use("127.0.0.1", 8080, "tcp")
    assert not fw.port_in_use("", 8080, "tcp", exclude="c1")
    assert fw.port_in_use("", 53, "udp")
    assert not fw.port_in_use("10.0.0.1", 53, "udp")
    assert not fw.port_in_use("", 53, "tcp")


def test_forward_blockers_names_foreign_drop_policies() -> None:
    class Chains(RecordingNft):
        def run(self, text: str, as_json: bool = False) -> str:
            return json.dumps({"nftables": [
                {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "hook": "forward", "policy": "drop"}},
                {"chain": {"family": "ip", "table": "berth", "name": "forward", "hook": "forward",
                           "policy": "accept"}},
                {"chain": {"family": "inet", "table": "fw", "name": "input", "hook": "input", "policy": "drop"}},
            ]})

    assert fwmod.forward_blockers(Chains()) == ["ip filter FORWARD"]  # type: ignore[arg-type]


def test_table_name_is_checked() -> None:
    with pytest.raises(InvalidInput):
        Firewall("bad name", RecordingNft())  # type: ignore[arg-type]
