"""Speed figures for phase17 on the real pinned upstream; prints them, asserts nothing.

Run from the project root after `phase17 fetch`:  python benchmarks/bench.py
Each figure is the median wall time of several runs of the real command (a fresh process each time).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [
    ("second fetch (verified, nothing downloaded)", ["fetch"]),
    ("pin (verify upstream/ against the pin)", ["pin"]),
    ("read interface --json", ["read", "interface", "--json"]),
    ("read cuda (rendered, no pager)", ["read", "cuda", "--no-pager"]),
    ("resolve Platform.get_attn_backend_cls (whole tree)", ["resolve", "Platform.get_attn_backend_cls", "--json"]),
    ("outline cuda", ["outline", "cuda"]),
    ("list", ["list"]),
    ("check (every shipped anchor)", ["check"]),
]


def main(runs: int = 5) -> None:
    if not (ROOT / "upstream").is_dir():
        sys.exit("upstream/ is missing: run phase17 fetch first")
    print(f"phase17 benchmarks, median of {runs} runs, {sys.platform}, Python {sys.version.split()[0]}")
    for label, arguments in COMMANDS:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "phase17", *arguments], cwd=ROOT, capture_output=True, check=False
            )
            times.append(time.perf_counter() - started)
            if result.returncode not in (0, 1):
                sys.exit(f"{label}: exit {result.returncode}: {result.stderr.decode()[-400:]}")
        print(f"  {label:55s} {statistics.median(times):6.2f} s  (min {min(times):.2f}, max {max(times):.2f})")


if __name__ == "__main__":
    main()
