"""The network, volume and system verbs' parsing and shaping, without a kernel:
filters, KEY=VALUE flags, the network module request the flags state,
Docker's inspect shape, system df's shared/unique split and its rows."""

from __future__ import annotations

import argparse
import hashlib

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cli import network_verbs, shared, system_usage
from ansible_collections.berth.engine.plugins.module_utils.cli.main import _parser
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, NotFound
from ansible_collections.berth.engine.plugins.module_utils.image.records import ImageRecord, LayerRecord


def test_filters_repeat_a_key_as_any_and_combine_keys_as_all() -> None:
    filters = shared.parse_filters(["name=we", "name=db", "label=tier"], ("name", "label"))
    assert filters == {"name": ["we", "db"], "label": ["tier"]}
    objects = [{"name": "web", "labels": {"tier": "front"}}, {"name": "db", "labels": {}}, {"name": "x", "labels": {}}]
    matchers = {"name": lambda o, v: v in o["name"], "label": lambda o, v: shared.label_matches(o["labels"], v)}
    assert shared.select(objects, filters, matchers) == [objects[0]]
    assert shared.select(objects, {}, matchers) == objects


@pytest.mark.parametrize(("item", "words"), [("colour=red", "invalid filter 'colour'"), ("name", "KEY=VALUE")])
def test_bad_filters_name_the_flag(item: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        shared.parse_filters([item], ("name",))
    assert caught.value.field == "--filter" and words in str(caught.value)


def test_labels_match_by_key_or_key_and_value() -> None:
    assert shared.label_matches({"a": "1"}, "a") and shared.label_matches({"a": "1"}, "a=1")
    assert not shared.label_matches({"a": "1"}, "a=2") and not shared.label_matches(None, "a")
    assert shared.labels_text({"b": "2", "a": "1"}) == "a=1,b=2"
    assert shared.pairs(["a=1", "flag"], "--label", "k=v") == {"a": "1", "flag": ""}
    with pytest.raises(InvalidInput):
        shared.pairs(["=x"], "--label", "k=v")


def test_each_acts_on_every_object_and_exits_1_when_one_failed(capsys: pytest.CaptureFixture[str]) -> None:
    def act(ref: str) -> str:
        if ref == "bad":
            raise NotFound("no such thing: bad", field="name")
        return ref

    assert shared.each(argparse.Namespace(json=False), ["a", "bad", "b"], act) == {"_rc": 1}
    out = capsys.readouterr()
    assert out.out == "a\nb\n" and "berth: not_found: " in out.err


def parsed(*argv: str) -> argparse.Namespace:
    return _parser().parse_args(list(argv))


def test_network_create_flags_become_the_modules_request() -> None:
    args = parsed("network", "create", "--subnet", "10.9.0.0/24", "--gateway", "10.9.0.9", "--ip-range",
                  "10.9.0.128/25", "--internal", "--label", "a=b", "-o", "com.docker.network.driver.mtu=1400", "n")
    request = network_verbs.creation_request(args)
    assert request.name == "n" and request.internal and request.labels == {"a": "b"}
    wanted = {"subnet": "10.9.0.0/24", "gateway": "10.9.0.9", "iprange": "10.9.0.128/25"}
    assert request.ipam_config[0].model_dump(exclude_none=True) == wanted
    assert request.driver_options == {"com.docker.network.driver.mtu": "1400"}
    assert network_verbs.creation_request(parsed("network", "create", "plain")).ipam_config == []


@pytest.mark.parametrize(("argv", "field"), [
    (("network", "create", "--gateway", "10.0.0.1", "n"), "--subnet"),
    (("network", "create", "-d", "overlay", "n"), "--driver"),
])
def test_network_create_refuses_what_it_cannot_make(argv: tuple[str, ...], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        network_verbs.creation_request(parsed(*argv))
    assert caught.value.field == field


def test_prune_verbs_take_f_as_force_and_ls_as_filter() -> None:
    assert parsed("network", "prune", "-f").force
    assert parsed("network", "ls", "-f", "name=x").filter == ["name=x"]
    assert parsed("volume", "prune", "-a", "-f").force and parsed("system", "prune", "-af").all
    assert parsed("network", "list").subcommand == "list" and "network list" in network_verbs.COMMANDS


def test_network_inspect_has_dockers_shape() -> None:
    facts = {"id": "f" * 64, "name": "n", "driver": "bridge", "bridge": "br-ffffffffffff", "subnet": "10.1.0.0/24",
             "gateway": "10.1.0.1", "ip_range": None, "internal": False, "labels": {"a": "b"}, "mtu": 1400,
             "created": "2026-01-01T00:00:00Z",
             "containers": [{"id": "c" * 64, "name": "web", "ipv4_address": "10.1.0.2"},
                            {"id": "d" * 64, "name": "stopped", "ipv4_address": None}]}
    document = network_verbs.inspect_document(facts)
    assert document["IPAM"]["Config"] == [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"}]
    assert document["Containers"]["c" * 64] == {"Name": "web", "IPv4Address": "10.1.0.2/24", "IPv6Address": ""}
    assert document["Containers"]["d" * 64]["IPv4Address"] == ""
    assert document["Options"] == {"com.docker.network.bridge.name": "br-ffffffffffff",
                                   "com.docker.network.driver.mtu": "1400"}
    assert (document["Id"], document["Scope"], document["Labels"]) == ("f" * 64, "local", {"a": "b"})
    row = network_verbs.ls_row(facts)
    assert (row["ID"], row["Labels"], row["Internal"]) == ("f" * 12, "a=b", False)


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def image(name: str, *layers: tuple[str, int]) -> ImageRecord:
    return ImageRecord(id=digest(name), manifest_digest=digest("m" + name), manifest_media_type="m",
                       config_media_type="c", repo_tags=[f"docker.io/library/{name}:latest"],
                       layers=[LayerRecord(digest=digest(d), media_type="l", size=s, diff_id=digest(d))
                               for d, s in layers])


def test_shared_size_is_what_other_images_also_use_and_unique_the_rest() -> None:
    base, app, other = image("a", ("base", 1000), ("app", 10)), image("b", ("base", 1000), ("more", 5)), \
        image("c", ("solo", 7))
    usage = system_usage.ImageUsage.of([base, app, other])
    assert (usage.shared(base), usage.unique(base)) == (1000, 10)
    assert (usage.shared(other), usage.unique(other)) == (0, 7)
    assert usage.total() == 1022 and usage.total([base, app]) == 1015, "a shared layer counts once"


def test_df_rows_print_dockers_units_and_reclaimable_share() -> None:
    wanted = {"Type": "Images", "TotalCount": "3", "Active": "1", "Size": "2kB", "Reclaimable": "500B (25%)"}
    assert system_usage._row("Images", 3, 1, 2000, 500) == wanted
    assert system_usage._row("Build Cache", 0, 0, 0, 0)["Reclaimable"] == "0B"


@pytest.mark.parametrize(("text", "seconds"), [("2026-01-01T00:00:00Z", 1767225600.0),
                                               ("2026-01-01T00:00:00.500000000Z", 1767225600.5),
                                               ("garbage", None), (None, None)])
def test_record_times_read_with_nanoseconds(text: str | None, seconds: float | None) -> None:
    assert system_usage._timestamp(text) == seconds
