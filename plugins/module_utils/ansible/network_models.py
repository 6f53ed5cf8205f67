"""The typed input of the ``network`` and ``network_info`` modules (pydantic),
kept apart from the service so that containers' attachments never import
pydantic. Each field is an option of the module, with its documented
default (tests/unit/test_module_contract.py holds the three equal)."""

from __future__ import annotations

from typing import Any, Literal

from .models import EngineOptions, StrictModel


class IpamEntry(StrictModel):
    subnet: str
    gateway: str | None = None
    iprange: str | None = None
    aux_addresses: dict[str, str] | None = None


class OverlayOptions(StrictModel):
    local_address: str
    peers: list[str] = []
    vni: int | None = None
    port: int | None = None
    host_subnet: str | None = None
    mtu: int | None = None
    slices: dict[str, str] | None = None


class NetworkRequest(StrictModel):
    engine: EngineOptions = EngineOptions()
    name: str
    state: Literal["present", "absent"] = "present"
    driver: Literal["bridge", "overlay"] = "bridge"
    driver_options: dict[str, Any] = {}
    ipam_config: list[IpamEntry] = []
    internal: bool = False
    labels: dict[str, str] = {}
    mtu: int | None = None
    force: bool = False
    connected: list[str] | None = None
    appends: bool = False
    overlay: OverlayOptions | None = None
    encrypted: bool = False


class NetworkInfoRequest(StrictModel):
    engine: EngineOptions = EngineOptions()
    name: list[str] | None = None
