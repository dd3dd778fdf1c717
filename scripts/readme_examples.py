"""Capture each README example's output from the real pinned upstream, so the README never shows made-up output.

Run from the project root after `phase17 fetch`:
    python scripts/readme_examples.py          # rewrite the README's examples section
    python scripts/readme_examples.py --check  # exit 1 if the README differs from what the commands print now

The commands run in a scratch copy of the project (its notes start from the shipped templates), at 100 columns,
without colour, reading this project's upstream/ through --upstream.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- examples:start -->", "<!-- examples:end -->"
MAX_LINES = 24
EXAMPLES = [
    ["list"],
    ["resolve", "get_max_threads"],
    ["resolve", "get_attn_backend_cls"],
    ["usages", "current_platform", "--attr", "supports_fp8"],
    ["contract", "--platforms", "CpuPlatform,CudaPlatformBase", "--members", "device_type|dist_backend|get_attn"],
    ["gates", "--platforms", "CpuPlatform,CudaPlatformBase"],
    ["effects", "--platforms", "CpuPlatform"],
    ["callers", "Platform.check_and_update_config", "--depth", "2"],
    ["plugins"],
    ["read", "cpu", "--symbol", "CpuPlatform.get_attn_backend_cls"],
    ["outline", "plugins"],
    ["notebook", "cpu", "--invariant", "`CpuPlatform.check_and_update_config` forces the mp executor."],
    ["answer", "4", "The CPU backend refuses MLA attention; see cpu.py:83."],
    ["check"],
    ["pin"],
]


def capture(upstream: Path) -> str:
    """The examples section: each command and what it prints (stdout, then stderr), cut after MAX_LINES lines."""
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "phase17"
        project.mkdir()
        shutil.copy2(ROOT / "UPSTREAM_PIN.md", project)
        (project / "annotations").mkdir()
        for name, text in shipped_notes().items():  # as committed: a reader's own notes never change the output
            (project / "annotations" / name).write_bytes(text)
        environment = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "PHASE17_UPSTREAM": str(upstream)}
        blocks = []
        # What a reader sees day to day: the symbol index is there, and the instruments' answers are kept (their
        # first runs draw progress bars).
        warm = (
            ["index"],
            ["usages", "current_platform"],
            ["contract"],
            ["plugins"],
            ["gates"],
            ["callers", "Platform.check_and_update_config", "--depth", "2"],
        )
        for warming in warm:
            subprocess.run(
                [sys.executable, "-m", "phase17", *warming], cwd=project, env=environment, capture_output=True
            )
        for command in EXAMPLES:
            run = subprocess.run(
                [sys.executable, "-m", "phase17", *command],
                cwd=project,
                env=environment,
                capture_output=True,
                text=True,
            )
            output = (run.stdout + run.stderr).replace(str(upstream), "upstream")
            text = [line.rstrip() for line in output.rstrip("\n").splitlines()]
            if len(text) > MAX_LINES:
                text = [*text[:MAX_LINES], f"… ({len(text) - MAX_LINES} more lines)"]
            shown = " ".join(f"'{word}'" if re.search(r"[\s`|;&<>*?()$]", word) else word for word in command)
            blocks.append(
                f"```console\n$ phase17 {shown}\n" + "\n".join(text) + f"\n```\nExit code {run.returncode}.\n"
            )
    return "\n".join(blocks)


def shipped_notes() -> dict[str, bytes]:
    """The notes files as this checkout's HEAD has them (the shipped templates), whatever the reader wrote since;
    without git, the files as they are."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--", "annotations/*.yaml"], capture_output=True, text=True
    )
    if listed.returncode != 0 or not listed.stdout.strip():
        return {path.name: path.read_bytes() for path in sorted((ROOT / "annotations").glob("*.yaml"))}
    return {
        Path(path).name: subprocess.run(
            ["git", "-C", str(ROOT), "show", f"HEAD:{path}"], capture_output=True, check=True
        ).stdout
        for path in listed.stdout.split()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of rewriting")
    parser.add_argument("--upstream", type=Path, default=ROOT / "upstream", help="the pinned tree (default upstream/)")
    options = parser.parse_args()
    if not (options.upstream / "vllm").is_dir():
        print(f"{options.upstream} has no vllm/: run phase17 fetch first", file=sys.stderr)
        return 2
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    before, rest = readme.split(START, 1)
    _, after = rest.split(END, 1)
    updated = f"{before}{START}\n{capture(options.upstream.resolve())}{END}{after}"
    if options.check:
        if updated != readme:
            import difflib

            print("README examples differ from what the commands print now; run python scripts/readme_examples.py")
            print("".join(difflib.unified_diff(readme.splitlines(True), updated.splitlines(True), "README.md", "now")))
            return 1
        return 0
    (ROOT / "README.md").write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
