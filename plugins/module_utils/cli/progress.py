"""The per-layer display of ``berth pull`` and ``berth push``, as docker's.

On a terminal each layer has one line, redrawn in place with ANSI cursor
moves as its events arrive ("a3ed95caeb02: Downloading  1.2MB/2.2MB", then
"Pull complete"). Anywhere else (a pipe, a CI log) each phase change is one
plain line and byte counts are not repeated: a log of a 95 MB pull stays a
few lines a layer and holds no escapes.

Events come from the layer worker threads (image/layers.py), so drawing is
under a lock.
"""

from __future__ import annotations

import threading
from typing import TextIO

from ..image.layers import LayerProgress
from .output import human_size, short_id

_PULL_LABELS = {"waiting": "Pulling fs layer", "downloading": "Downloading", "extracting": "Extracting",
                "complete": "Pull complete", "exists": "Already exists"}
_PUSH_LABELS = {"preparing": "Preparing", "pushing": "Pushing", "pushed": "Pushed", "mounted": "Mounted",
                "exists": "Layer already exists"}
_WITH_BYTES = ("downloading", "pushing")   # phases that show done/total on a terminal
BAR_WIDTH = 50


def describe(event: LayerProgress, labels: dict[str, str], *, bar: bool) -> str:
    """A layer's line: ``<short digest>: <label>`` (with a bar and sizes while bytes move)."""
    text = f"{short_id(event.digest)}: {labels.get(event.phase, event.phase)}"
    if bar and event.phase in _WITH_BYTES and event.total:
        filled = min(BAR_WIDTH, BAR_WIDTH * event.done // event.total)
        arrow = "=" * max(0, filled - 1) + (">" if filled else "")
        text += f"  [{arrow:<{BAR_WIDTH}}]  {human_size(event.done)}/{human_size(event.total)}"
    return text


class LayerDisplay:
    """Draws layer events on ``stream``; ``live``: a terminal (redraw in place)."""

    def __init__(self, stream: TextIO, *, verb: str = "pull", live: bool | None = None) -> None:
        self.stream = stream
        self.labels = _PUSH_LABELS if verb == "push" else _PULL_LABELS
        self.live = stream.isatty() if live is None else live
        self.order: list[str] = []       # digests in the order their lines were first drawn
        self.lines: dict[str, str] = {}
        self.phases: dict[str, str] = {}
        self.lock = threading.Lock()

    def __call__(self, event: LayerProgress) -> None:
        with self.lock:
            if self.live:
                self._redraw(event)
            elif self.phases.get(event.digest) != event.phase:
                self.stream.write(describe(event, self.labels, bar=False) + "\n")
            self.phases[event.digest] = event.phase
            self.stream.flush()

    def _redraw(self, event: LayerProgress) -> None:
        text = describe(event, self.labels, bar=True)
        if event.digest not in self.lines:
            self.order.append(event.digest)
            self.lines[event.digest] = text
            self.stream.write(text + "\n")
            return
        if self.lines[event.digest] == text:
            return
        self.lines[event.digest] = text
        up = len(self.order) - self.order.index(event.digest)
        # up to the layer's line, clear it, write, and back down to below the last line
        self.stream.write(f"\x1b[{up}A\r\x1b[2K{text}\x1b[{up}B\r")
