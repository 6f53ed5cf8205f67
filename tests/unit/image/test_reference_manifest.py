from __future__ import annotations

import json

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, NotFound
from ansible_collections.berth.engine.plugins.module_utils.image.manifest import (
    Platform,
    image_config,
    image_manifest,
    select_platform,
)
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference

HEX = "a" * 64


@pytest.mark.parametrize("text, expected, familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("team/app", "docker.io/team/app:latest", "team/app:latest"),
    ("index.docker.io/team/app:2", "docker.io/team/app:2", "team/app:2"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("127.0.0.1:5000/a/b/c:v1", "127.0.0.1:5000/a/b/c:v1", "127.0.0.1:5000/a/b/c:v1"),
    (f"quay.io/x/y@sha256:{HEX}", f"quay.io/x/y@sha256:{HEX}", f"quay.io/x/y@sha256:{HEX}"),
    (f"quay.io/x/y:t@sha256:{HEX}", f"quay.io/x/y:t@sha256:{HEX}", f"quay.io/x/y:t@sha256:{HEX}"),
    ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"),
    ("my-reg.local:443/a__b/c.d-e", "my-reg.local:443/a__b/c.d-e:latest", "my-reg.local:443/a__b/c.d-e:latest"),
])
def test_references_normalise_like_docker(text: str, expected: str, familiar: str) -> None:
    ref = parse_reference(text)
    assert str(ref) == expected
    assert ref.familiar == familiar


def test_digest_wins_over_tag_for_pulls() -> None:
    ref = parse_reference(f"busybox:1.36@sha256:{HEX}")
    assert ref.reference_for_pull == f"sha256:{HEX}"


@pytest.mark.parametrize("text, fragment", [
    ("", "required"),
    ("Busybox", "must be lowercase"),
    ("a//b", "empty path component"),
    ("busybox:", "invalid tag"),
    ("busybox:-x", "invalid tag"),
    ("busybox@sha256:123", "invalid digest"),
    ("busybox@md5:" + "a" * 32, "invalid digest"),
    ("a b", "whitespace"),
    ("reg.example.com:99999/x", "invalid registry"),
    ("_x", "invalid path component"),
    ("x" * 300, "longer than"),
])
def test_malformed_references_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_reference(text)
    assert fragment in str(err.value)
    assert err.value.field == "name"


def _desc(arch: str, variant: str | None = None, n: str = "1") -> dict:
    plat = {"os": "linux", "architecture": arch, **({"variant": variant} if variant else {})}
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + n * 64,
            "size": 10, "platform": plat}


def test_platform_selection_prefers_exact_variant() -> None:
    index = {"manifests": [_desc("amd64", n="1"), _desc("arm64", "v8", n="2"), _desc("arm", "v7", n="3"),
                           _desc("arm", "v6", n="4")]}
    assert select_platform(index, Platform("linux", "amd64"), "idx").digest == "sha256:" + "1" * 64
    assert select_platform(index, Platform.parse("linux/arm/v6"), "idx").digest == "sha256:" + "4" * 64
    assert select_platform(index, Platform.parse("linux/aarch64"), "idx").digest == "sha256:" + "2" * 64


def test_missing_platform_lists_what_is_offered() -> None:
    with pytest.raises(NotFound, match="available: linux/amd64"):
        select_platform({"manifests": [_desc("amd64")]}, Platform("linux", "s390x"), "idx")


def test_bad_platform_text() -> None:
    with pytest.raises(InvalidInput, match="os/arch"):
        Platform.parse("amd64")


def test_manifest_validation_names_the_document() -> None:
    with pytest.raises(InvalidInput, match="schemaVersion"):
        image_manifest({"schemaVersion": 1}, "manifest of x")
    with pytest.raises(InvalidInput, match=r"layers\[0\]"):
        image_manifest({"schemaVersion": 2, "config": {"digest": "sha256:" + HEX, "size": 1},
                        "layers": [{"digest": "nope", "size": 1}]}, "manifest of x")


def test_config_diff_ids_must_match_layer_count() -> None:
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + HEX]}}).encode()
    assert image_config(config, "cfg", 1)["rootfs"]["diff_ids"] == ["sha256:" + HEX]
    with pytest.raises(InvalidInput, match="disagree"):
        image_config(config, "cfg", 2)
    with pytest.raises(InvalidInput, match="not valid JSON"):
        image_config(b"{", "cfg", 1)


def test_layer_counts_are_bounded_in_manifests_and_configs() -> None:
    layer = {"digest": "sha256:" + HEX, "size": 1}
    manifest = {"schemaVersion": 2, "config": {"digest": "sha256:" + HEX, "size": 1}}
    assert len(image_manifest({**manifest, "layers": [layer] * 128}, "manifest of x")[1]) == 128
    with pytest.raises(InvalidInput, match="manifest of x has 129 layers; berth accepts at most 128"):
        image_manifest({**manifest, "layers": [layer] * 129}, "manifest of x")
    with pytest.raises(InvalidInput, match="not a list"):
        image_manifest({**manifest, "layers": {"0": layer}}, "manifest of x")
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + HEX] * 129}}).encode()
    with pytest.raises(InvalidInput, match="cfg has 129 layers"):
        image_config(config, "cfg", 129)
