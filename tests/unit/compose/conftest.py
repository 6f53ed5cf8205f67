"""The planning tests' engine: an isolated root whose image store has
busybox:latest as a record only (planning reads no blob)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.records import ImageRecord

IMAGE_ID = "sha256:" + "ab" * 32


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    record = ImageRecord(id=IMAGE_ID, manifest_digest="sha256:" + "cd" * 32, manifest_media_type="m",
                         config_media_type="c", layers=[], repo_tags=["docker.io/library/busybox:latest"])
    with engine.metadata("images").transaction() as txn:
        txn.create(IMAGE_ID.split(":")[1], record.to_dict())
    return engine
