"""The `berth` CLI of this checkout, on a state root and run root of a test's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.runtime import REPO


class BerthCli:
    def __init__(self, base: Path) -> None:
        self.state, self.run = base / "state", base / "run"
        self.prefix = [sys.executable, str(REPO / "bin" / "berth"), "--state-root", str(self.state),
                       "--run-root", str(self.run)]

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=120, check=False)
        if check:
            assert result.returncode == 0, f"berth {' '.join(args)}: {result.stderr}"
        return result

    def inspect(self, name: str) -> dict:
        return json.loads(self("inspect", "--json", name).stdout)[name]

    def monitor_pid(self) -> int | None:
        """The running monitor's pid, from its pid file (None when none runs)."""
        try:
            return int((self.run / "monitor.pid").read_text())
        except (OSError, ValueError):
            return None
