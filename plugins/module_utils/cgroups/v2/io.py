"""v2 io: weight (converted from blkio_weight) and io.max per device."""

from __future__ import annotations

from ..protocol import Write

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (berth-runtime's start-up)
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..resources import Resources

KEYS = (("device_read_bps", "rbps"), ("device_write_bps", "wbps"),
        ("device_read_iops", "riops"), ("device_write_iops", "wiops"))


def blkio_to_io_weight(weight: int) -> int:
    """blkio.weight (10..1000) → io.weight (1..10000), the same linear idea as cpu.weight."""
    return 1 + ((weight - 10) * 9999) // 990


def writes(r: Resources, device: Callable[[str, str], str]) -> list[Write]:
    out: list[Write] = []
    if r.blkio_weight is not None:
        out.append(Write("io", "io.weight", f"default {blkio_to_io_weight(r.blkio_weight)}", "device_line"))
    per_device: dict[str, list[str]] = {}
    for option, key in KEYS:
        for rate in getattr(r, option):
            per_device.setdefault(device(rate.path, option), []).append(f"{key}={rate.rate or 'max'}")
    for number, settings in per_device.items():
        out.append(Write("io", "io.max", f"{number} {' '.join(settings)}", "io_max"))
    return out
