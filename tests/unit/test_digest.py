from __future__ import annotations

import hashlib

import pytest

from ansible_collections.berth.engine.plugins.module_utils.digest import (
    chain_ids,
    parse_digest,
    sha256_digest,
)
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

D1 = sha256_digest(b"layer one")
D2 = sha256_digest(b"layer two")
D3 = sha256_digest(b"layer three")


def test_chain_id_of_one_layer_is_its_diff_id() -> None:
    assert chain_ids([D1]) == [D1]


def test_chain_id_follows_image_spec_formula() -> None:
    second = "sha256:" + hashlib.sha256(f"{D1} {D2}".encode()).hexdigest()
    third = "sha256:" + hashlib.sha256(f"{second} {D3}".encode()).hexdigest()
    assert chain_ids([D1, D2, D3]) == [D1, second, third]


def test_shared_base_gives_shared_chain_prefix() -> None:
    assert chain_ids([D1, D2])[:2] == chain_ids([D1, D2, D3])[:2]
    assert chain_ids([D2, D1])[1] != chain_ids([D1, D2])[1]


@pytest.mark.parametrize("bad, fragment", [
    ("", "not a digest"),
    ("sha256", "not a digest"),
    ("md5:" + "a" * 32, "unsupported digest algorithm"),
    ("sha256:" + "A" * 64, "not a valid sha256"),
    ("sha256:abc", "not a valid sha256"),
])
def test_bad_digests_name_the_problem(bad: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_digest(bad, field="layers[0].digest")
    assert fragment in str(err.value)
    assert err.value.field == "layers[0].digest"
