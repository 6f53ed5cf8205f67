"""Docker's default masked and read-only paths, as moby lists them today."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.berth.engine.plugins.module_utils.runtime import defaults


def test_moby_masked_paths_in_full() -> None:
    spec = defaults.default_spec()
    for path in ("/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
                 "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
                 "/sys/devices/virtual/powercap", "/sys/firmware"):
        assert path in spec["linux"]["maskedPaths"]
    assert spec["linux"]["readonlyPaths"] == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def test_thermal_throttle_of_each_possible_cpu_that_has_one(tmp_path: Path) -> None:
    cpus = tmp_path / "devices" / "system" / "cpu"
    for cpu in (0, 1, 3, 8):
        (cpus / f"cpu{cpu}" / "thermal_throttle").mkdir(parents=True)
    (cpus / "cpu2").mkdir()  # no thermal_throttle here
    (cpus / "possible").write_text("0-3,8\n")
    extra = defaults.masked_paths(str(tmp_path))[len(defaults.MASKED_PATHS):]
    assert extra == [f"/sys/devices/system/cpu/cpu{n}/thermal_throttle" for n in (0, 1, 3, 8)]


def test_unreadable_or_odd_cpu_lists_add_nothing(tmp_path: Path) -> None:
    assert defaults.masked_paths(str(tmp_path)) == list(defaults.MASKED_PATHS)
    cpus = tmp_path / "devices" / "system" / "cpu"
    (cpus / "cpu0" / "thermal_throttle").mkdir(parents=True)
    (cpus / "possible").write_text("²-3")
    assert defaults.masked_paths(str(tmp_path)) == list(defaults.MASKED_PATHS)
