"""Push's progress events with a fake registry client: each layer's phases
as data, the config silent, and no callback: the upload opener untouched."""

from __future__ import annotations

from typing import Any

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.layers import PROGRESS_STEP, LayerProgress
from ansible_collections.berth.engine.plugins.module_utils.image.push import push_image
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.unit.image.test_store import _image


class FakeClient:
    def __init__(self, present: set[str]) -> None:
        self.present = present
        self.openers: list[Any] = []

    def blob_exists(self, _repo: str, digest: str) -> bool:
        return digest in self.present

    def mount_blob(self, *_args: str) -> bool:
        return False

    def upload_blob(self, _repo: str, digest: str, size: int, open_data: Any) -> None:
        self.openers.append(open_data)
        with open_data() as data:
            while data.read(64 << 10):
                pass

    def put_manifest(self, *_args: Any) -> str:
        return "sha256:" + "0" * 64


def test_push_reports_each_layer_and_keeps_the_config_silent(engine: Engine) -> None:
    big = b"x" * (3 * PROGRESS_STEP)
    record = _image(engine, "local/p:1", [b"small layer", big])
    events: list[LayerProgress] = []
    client = FakeClient({record.layers[0].digest})
    push_image(ImageStore(engine), record, parse_reference("reg:5000/p:1"), client, progress=events.append)
    small, large = record.layers[0].digest, record.layers[1].digest
    assert [e.phase for e in events if e.digest == small] == ["preparing", "exists"]
    phases = [e.phase for e in events if e.digest == large]
    assert phases[0] == "preparing" and phases[-1] == "pushed" and phases.count("pushing") == 3
    assert [e.done for e in events if e.phase == "pushing"] == [PROGRESS_STEP, 2 * PROGRESS_STEP, len(big)]
    assert not [e for e in events if e.digest == record.id]


def test_without_a_callback_the_upload_opens_the_blob_itself(engine: Engine) -> None:
    record = _image(engine, "local/q:1", [b"one layer"])
    client = FakeClient(set())
    push_image(ImageStore(engine), record, parse_reference("reg:5000/q:1"), client)
    with client.openers[0]() as handle:
        assert type(handle).__name__ != "_CountingReader"
