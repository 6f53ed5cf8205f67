"""LayerSink: the parallel gzip is one ordinary gzip member every reader
takes, zstd and none round-trip, and the digests are the bytes' digests."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import subprocess

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.image.compression import open_decompressed
from ansible_collections.berth.engine.plugins.module_utils.image.compressor import BLOCK, LayerSink
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import (
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
)
from tests.support.peers import have_peer, needs_peer


def _payload(size: int) -> bytes:
    """Compressible but not trivial: text-like runs with random bytes between."""
    rng = random.Random(size)
    parts, total = [], 0
    while total < size:
        piece = rng.choice([b"hello layer %d\n" % rng.randrange(1000) * rng.randrange(1, 50),
                            rng.randbytes(rng.randrange(1, 3000))])
        parts.append(piece)
        total += len(piece)
    return b"".join(parts)[:size]


def _sink_bytes(data: bytes, compression: str, threads: int = 4, step: int = 10_000, **kw: object):
    out = io.BytesIO()
    sink = LayerSink(out, compression, threads=threads, **kw)  # type: ignore[arg-type]
    for i in range(0, len(data), step):
        assert sink.write(data[i:i + step]) == len(data[i:i + step])
    digests = sink.close()
    return out.getvalue(), digests


def _read_all(reader) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(iter(lambda: reader.read(65536), b""))


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, 3 * BLOCK + 12345])
@pytest.mark.parametrize("threads", [1, 3])
def test_gzip_is_one_member_python_and_engine_read(size: int, threads: int) -> None:
    data = _payload(size)
    blob, digests = _sink_bytes(data, "gzip", threads=threads)
    assert gzip.decompress(blob) == data
    assert _read_all(open_decompressed(io.BytesIO(blob))) == data
    assert digests.diff_id == _sha(data) and digests.digest == _sha(blob) and digests.size == len(blob)
    assert digests.media_type == OCI_LAYER_GZIP


def test_gzip_parallel_output_is_deterministic_and_same_as_serial() -> None:
    data = _payload(5 * BLOCK + 7)
    serial, _digests = _sink_bytes(data, "gzip", threads=1)
    parallel, _digests = _sink_bytes(data, "gzip", threads=4, step=BLOCK * 2 + 3)
    assert serial == parallel


@needs_peer("gzip")
def test_gzip_binary_reads_it(tmp_path) -> None:
    data = _payload(2 * BLOCK + 99)
    blob, _digests = _sink_bytes(data, "gzip", level=6)
    (tmp_path / "l.gz").write_bytes(blob)
    result = subprocess.run(["gzip", "-t", str(tmp_path / "l.gz")], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr
    assert subprocess.run(["gzip", "-dc", str(tmp_path / "l.gz")], capture_output=True, check=False).stdout == data
    if have_peer("busybox"):   # a second, independent inflater
        zcat = subprocess.run(["busybox", "zcat", str(tmp_path / "l.gz")], capture_output=True, check=False)
        assert zcat.stdout == data


def test_zstd_round_trips() -> None:
    zstandard = pytest.importorskip("zstandard")
    data = _payload(2 * BLOCK + 5)
    blob, digests = _sink_bytes(data, "zstd")
    assert blob.startswith(b"\x28\xb5\x2f\xfd")
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob)).read() == data
    assert _read_all(open_decompressed(io.BytesIO(blob))) == data
    assert digests.media_type == OCI_LAYER_ZSTD and digests.digest == _sha(blob)


def test_none_is_the_tar_itself() -> None:
    data = _payload(BLOCK + 1)
    blob, digests = _sink_bytes(data, "none")
    assert blob == data
    assert digests.diff_id == digests.digest == _sha(data)
    assert digests.media_type == OCI_LAYER


def test_bad_compression_and_level_are_input_errors() -> None:
    with pytest.raises(InvalidInput, match="unknown layer compression") as info:
        LayerSink(io.BytesIO(), "lz4")
    assert info.value.field == "build.compression"
    with pytest.raises(InvalidInput, match="out of range"):
        LayerSink(io.BytesIO(), "gzip", level=12)


def test_abort_stops_the_workers_and_refuses_writes() -> None:
    sink = LayerSink(io.BytesIO(), "gzip", threads=2)
    sink.write(os.urandom(3 * BLOCK))
    sink.abort()
    with pytest.raises(ValueError):
        sink.write(b"x")
