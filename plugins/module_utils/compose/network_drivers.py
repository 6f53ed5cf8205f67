"""A project network's driver as the engine's network: ``bridge`` (the
default) or ``overlay``, berth's cross-host VXLAN network (network module
``driver: overlay``). Compose has no place for an overlay's settings outside
swarm, so they go in an extension on the network, typed as the network
module's ``overlay`` option (peers a list, slices a mapping)::

    networks:
      shop:
        driver: overlay
        ipam: {config: [{subnet: 10.240.0.0/16}]}   # the same on every host
        x-berth:
          overlay: {local_address: 192.0.2.1, peers: [192.0.2.1, 192.0.2.2], port: 4789}

Checked at plan time (check mode says what an apply would refuse), each
error naming the compose path (``networks.shop.x-berth.overlay.peers``).
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput

DRIVERS = ("bridge", "overlay")
# the network module's overlay option: its settings and the type each takes
OVERLAY_SETTINGS: dict[str, tuple[type, ...]] = {
    "local_address": (str,), "peers": (list,), "vni": (int,), "port": (int,), "host_subnet": (str,),
    "mtu": (int,), "slices": (dict,)}
# the network module's fields, as the compose keys that state them
_FIELDS = {"ipam_config": "ipam.config", "driver": "driver", "overlay": "x-berth.overlay"}


def driver_of(key: str, config: dict[str, Any]) -> str:
    driver = str(config.get("driver") or "bridge")
    if driver not in DRIVERS:
        raise InvalidInput(f"network driver {driver} is not available", field=f"networks.{key}.driver",
                           hint="use bridge (this host) or overlay (across hosts, settings in x-berth.overlay)")
    if driver == "bridge" and "overlay" in (config.get("x-berth") or {}):
        raise InvalidInput("overlay settings are given for a bridge network",
                           field=f"networks.{key}.x-berth.overlay", hint="set driver: overlay, or leave it out")
    return driver


def overlay_options(key: str, config: dict[str, Any], ipam: list[dict[str, Any]]) -> dict[str, Any]:
    """The network module's ``overlay`` option from ``x-berth.overlay``, checked as the engine checks it."""
    from ..network.overlay_kernel import overlay_desired

    where = f"networks.{key}.x-berth.overlay"
    extension = config.get("x-berth") or {}
    if not isinstance(extension, dict) or not isinstance(extension.get("overlay"), dict):
        raise InvalidInput("driver overlay needs its settings", field=where,
                           hint="give x-berth: {overlay: {local_address: ..., peers: [...]}}")
    stated = dict(extension["overlay"])
    for name, value in stated.items():
        if name not in OVERLAY_SETTINGS:
            raise InvalidInput(f"{where}.{name} is not an overlay setting", field=f"{where}.{name}",
                               hint=f"the settings are {', '.join(OVERLAY_SETTINGS)}")
        if not isinstance(value, OVERLAY_SETTINGS[name]) or isinstance(value, bool):
            raise InvalidInput(f"{where}.{name} must be a {OVERLAY_SETTINGS[name][0].__name__}",
                               field=f"{where}.{name}", hint="as the network module's overlay option takes it")
    if not stated.get("local_address"):
        raise InvalidInput("an overlay needs this host's underlay address", field=f"{where}.local_address",
                           hint="an address of one of this host's interfaces")
    wishes = _Wishes(stated)
    try:
        return overlay_desired(wishes, "overlay", ipam) or stated
    except InvalidInput as err:
        raise InvalidInput(err.message, field=f"networks.{key}.{_FIELDS.get(err.field or '', err.field or '')}",
                           hint=err.hint) from None


class _Wishes:
    """What overlay_desired reads of a request."""

    encrypted = False

    def __init__(self, overlay: dict[str, Any]) -> None:
        self.overlay = overlay
