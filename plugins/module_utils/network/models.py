"""The `network` module's typed input (pydantic), kept apart from the service
so that containers' attachments never import pydantic."""

from __future__ import annotations

from typing import Any, Literal

from ..models import EngineOptions, StrictModel


class IpamEntry(StrictModel):
    subnet: str | None = None
    gateway: str | None = None
    iprange: str | None = None
    aux_addresses: dict[str, str] | None = None


class NetworkRequest(StrictModel):
    engine: EngineOptions = EngineOptions()
    name: str
    state: Literal["present", "absent"] = "present"
    driver: Literal["bridge"] = "bridge"
    driver_options: dict[str, Any] = {}
    ipam_config: list[IpamEntry] = []
    internal: bool = False
    labels: dict[str, str] = {}
    mtu: int | None = None
    force: bool = False
