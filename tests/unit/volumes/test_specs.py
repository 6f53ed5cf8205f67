"""Mount specs: the short and long syntax, image VOLUMEs, conflicts, the OCI form."""

from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.volumes import specs


def test_short_syntax_forms() -> None:
    named = specs.parse_short("data:/var/lib/data:ro")
    got = (named["type"], named["source"], named["target"], named["read_only"])
    assert got == ("volume", "data", "/var/lib/data", True)
    bind = specs.parse_short("/srv/site/:/usr/share/html:ro,rshared")
    got = (bind["type"], bind["source"], bind["propagation"], bind["create_source"])
    assert got == ("bind", "/srv/site", "rshared", True)
    anonymous = specs.parse_short("/cache")
    assert (anonymous["type"], anonymous["source"], anonymous["anonymous"]) == ("volume", None, True)
    assert specs.parse_short("data:/d:nocopy")["no_copy"] is True
    assert specs.parse_short("/a:/b:z")["read_only"] is False


@pytest.mark.parametrize("entry, words", [
    ("", "not a volume entry"),
    ("data:relative", "must be absolute"),
    ("./here:/data", "relative host paths"),
    ("-bad:/data", "not a valid volume name"),
    ("a:/data", "not a valid volume name"),
    ("data:/data:rshared", "unknown option 'rshared'"),
    ("/h:/data:nocopy", "unknown option 'nocopy'"),
    ("a:b:c:d", "too many"),
    ("data:/", "cannot mount over /"),
])
def test_short_syntax_errors(entry: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        specs.parse_short(entry)
    assert words in str(caught.value) and caught.value.field == "volumes"


def test_long_syntax() -> None:
    tmpfs = specs.parse_long({"type": "tmpfs", "target": "/scratch", "tmpfs_size": "1m", "tmpfs_mode": "1777"})
    assert (tmpfs["tmpfs_size"], tmpfs["tmpfs_mode"]) == (1024 * 1024, 0o1777)
    bind = specs.parse_long({"type": "bind", "source": "/etc/hostname", "target": "/etc/h", "read_only": True})
    assert bind["create_source"] is False and bind["read_only"] is True
    anonymous = specs.parse_long({"target": "/x"})
    assert anonymous["type"] == "volume" and anonymous["anonymous"]


@pytest.mark.parametrize("entry, words", [
    ({"target": "/x", "size": 1}, "unknown keys ['size']"),
    ({"type": "npipe", "target": "/x"}, "not supported"),
    ({"type": "bind", "target": "/x"}, "absolute source"),
    ({"type": "bind", "source": "rel", "target": "/x"}, "absolute source"),
    ({"type": "tmpfs", "source": "a", "target": "/x"}, "takes no source"),
    ({"type": "volume", "source": "v1", "target": "/x", "propagation": "shared"}, "propagation is for bind"),
    ({"type": "tmpfs", "target": "/x", "tmpfs_mode": "rwx"}, "octal"),
    ({"type": "volume", "source": "v1", "target": "/x", "volume_driver": "nfs"}, "only the local driver"),
    ({"target": "x"}, "must be absolute"),
])
def test_long_syntax_errors(entry: dict, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        specs.parse_long(entry)
    assert words in str(caught.value)


def test_conflicting_targets_across_syntaxes() -> None:
    with pytest.raises(InvalidInput, match="/data is mounted twice"):
        specs.parse_all(["v1:/data"], [{"type": "tmpfs", "target": "/data/"}], None)
    with pytest.raises(InvalidInput, match="/run is mounted twice"):
        specs.parse_all(["v1:/run"], None, ["/run:size=1m"])


def test_image_volumes_become_anonymous_unless_covered() -> None:
    found = specs.parse_all(["v1:/data"], None, ["/tmp"])
    merged = specs.with_image_volumes(found, {"/data": {}, "/cache/": {}, "/tmp": {}}, ["/tmp"])
    assert [(m["target"], m["source"]) for m in merged] == [("/data", "v1"), ("/cache", None)]
    named = specs.name_anonymous(merged)
    assert named[0]["source"] == "v1" and len(named[1]["source"]) == 64


def test_oci_rendering_and_order() -> None:
    items = [specs.parse_short("/h:/a/b:ro,rslave"), specs.parse_long({"type": "tmpfs", "target": "/a",
                                                                       "tmpfs_size": "2m"})]
    rendered = [specs.oci_mount(items[0], "/h"), specs.oci_mount(items[1], None)]
    assert rendered[0]["options"] == ["rbind", "ro", "rslave"]
    assert rendered[1]["options"] == ["nosuid", "nodev", "noexec", "size=2097152"]
    placed = specs.place([{"destination": "/"}, {"destination": "/a"}, {"destination": "/proc"}], rendered)
    assert [m["destination"] for m in placed] == ["/", "/proc", "/a", "/a/b"]
    assert specs.root_propagation(items) == "rslave"


def test_comparable_ignores_defaults_and_order() -> None:
    one = specs.comparable([{"target": "/b", "source": "vol", "type": "volume", "read_only": False},
                            {"target": "/a", "type": "tmpfs", "tmpfs_size": "1m"}])
    two = specs.comparable([{"type": "tmpfs", "target": "/a/", "tmpfs_size": "1024k", "labels": None},
                            {"target": "/b", "source": "vol"}])
    assert one == two


def test_comparable_mounts_parse_again_to_the_same_mounts() -> None:
    """A spec's mounts are comparable()'s output, and create parses them again."""
    stated = [{"type": "tmpfs", "target": "/scratch", "tmpfs_size": "1m", "tmpfs_mode": "1770"}]
    again = specs.parse_all(None, list(specs.comparable(stated)), None)
    assert again == specs.parse_all(None, stated, None) and again[0]["tmpfs_mode"] == 0o1770
    assert specs.comparable(list(specs.comparable(stated))) == specs.comparable(stated)
