"""v1 blkio: proportional weight and per-device throttles."""

from __future__ import annotations

from ..protocol import Write

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (berth-runtime's start-up)
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..resources import Resources

THROTTLES = (("device_read_bps", "blkio.throttle.read_bps_device"),
             ("device_write_bps", "blkio.throttle.write_bps_device"),
             ("device_read_iops", "blkio.throttle.read_iops_device"),
             ("device_write_iops", "blkio.throttle.write_iops_device"))


def writes(r: Resources, device: Callable[[str, str], str]) -> list[Write]:
    out: list[Write] = []
    if r.blkio_weight is not None:
        out.append(Write("blkio", "blkio.weight", str(r.blkio_weight)))
    for option, file in THROTTLES:
        for rate in getattr(r, option):
            out.append(Write("blkio", file, f"{device(rate.path, option)} {rate.rate}", "device_line"))
    return out
