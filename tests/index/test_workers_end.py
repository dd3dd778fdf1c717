"""Worker processes end with their parent, and a parent never waits forever on a dead worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")]


def _slow_tree(root: Path) -> Path:
    package = root / "vllm"
    package.mkdir(parents=True)
    for number in range(120):  # each about 0.1 s for the parser: workers are busy for seconds
        (package / f"m{number}.py").write_text("x = 0\n" + "# a comment line\n" * 2500)
    return root


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


def _start_build(tree: Path, tmp_path: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    script = (
        "import sys; from pathlib import Path; from phase17.index.symbolindex import build_index; "
        "from phase17.index.tree import Tree; build_index(Tree(Path(sys.argv[1])), rebuild=True)"
    )
    environment = {**os.environ, "PHASE17_CACHE_DIR": str(tmp_path / "cache")}
    build = subprocess.Popen([sys.executable, "-c", script, str(tree)], env=environment, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(workers := _children(build.pid)) < 2:
        time.sleep(0.05)
    assert len(workers) >= 2, "the build started no workers"
    time.sleep(0.5)  # parsing now
    return build, workers


def test_workers_end_when_their_parent_is_killed(tmp_path: Path):
    build, workers = _start_build(_slow_tree(tmp_path / "tree"), tmp_path)
    build.send_signal(signal.SIGKILL)
    build.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(map(_alive, workers)):
        time.sleep(0.05)
    assert not any(map(_alive, workers)), "workers outlived their killed parent"


@pytest.mark.parametrize("attempt", range(3))
def test_a_killed_worker_ends_the_build_with_one_line_not_a_hang(tmp_path: Path, attempt: int):
    build, workers = _start_build(_slow_tree(tmp_path / "tree"), tmp_path)
    os.kill(workers[attempt % len(workers)], signal.SIGKILL)
    try:
        _, stderr = build.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        build.kill()
        raise AssertionError("the build hung on a dead worker") from None
    assert build.returncode != 0
    assert b"a worker process ended abruptly while indexing" in stderr
