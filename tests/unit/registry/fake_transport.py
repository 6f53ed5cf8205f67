"""A scripted Transport for registry unit tests (the httpx MockTransport idea)."""

from __future__ import annotations

import io
from collections.abc import Callable

from ansible_collections.berth.engine.plugins.module_utils.registry.transport import Request, Response

Handler = Callable[[Request], tuple[int, dict[str, str], bytes]]


class FakeTransport:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []

    def send(self, request: Request) -> Response:
        self.requests.append(request)
        status, headers, body = self.handler(request)
        return Response(status, headers, io.BytesIO(body), request.url)
