"""Content digests (OCI image-spec ``descriptor.md``) and layer ChainIDs.

Only sha256 is accepted for storage: it is what every registry and tool we
interoperate with produces, and one algorithm keeps blob paths unambiguous.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from .errors import InvalidInput
from .strict import brief

_DIGEST_RE = re.compile(r"^(?P<algo>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]+)$")
_SHA256_HEX = re.compile(r"^[a-f0-9]{64}$")
_MAX_DIGEST = 1024  # an algorithm name and an encoded hash; anything longer is not a digest


def parse_digest(value: str, *, field: str = "digest") -> tuple[str, str]:
    """Split ``sha256:<hex>`` into (algorithm, hex), rejecting anything else."""
    match = _DIGEST_RE.fullmatch(value) if isinstance(value, str) and len(value) <= _MAX_DIGEST else None
    if not match:
        raise InvalidInput(f"{brief(value)} is not a digest", field=field,
                           hint="expected 'sha256:' followed by 64 lowercase hex characters")
    algo, hexpart = match.group("algo"), match.group("hex")
    if algo != "sha256":
        raise InvalidInput(f"unsupported digest algorithm {brief(algo)} in {brief(value, 100)}", field=field,
                           hint="only sha256 digests are supported")
    if not _SHA256_HEX.fullmatch(hexpart):
        raise InvalidInput(f"{brief(value, 100)} is not a valid sha256 digest", field=field,
                           hint="expected 64 lowercase hex characters after 'sha256:'")
    return algo, hexpart


def validate_digest(value: str, *, field: str = "digest") -> str:
    """Return ``value`` unchanged if it is a valid sha256 digest."""
    parse_digest(value, field=field)
    return value


def digest_hex(value: str) -> str:
    return parse_digest(value)[1]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """ChainIDs for a stack of layers, bottom first.

    ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
    A snapshot keyed by ChainID is the whole filesystem up to that layer, so
    two images that share a base share its snapshots.
    """
    result: list[str] = []
    for diff_id in diff_ids:
        validate_digest(diff_id, field="diff_id")
        if not result:
            result.append(diff_id)
        else:
            result.append(sha256_digest(f"{result[-1]} {diff_id}".encode()))
    return result
