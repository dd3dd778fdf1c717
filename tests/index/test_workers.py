"""workers: the files of a tree read, named and parsed in worker processes, with the results of doing it here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phase17.index import workers
from phase17.source.files import blob_digest


def test_workers_are_started_only_for_the_cores_this_process_may_use(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert workers._worker_pool(5000) is None  # one allowed core, however many the machine has
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 5}, raising=False)
    pool = workers._worker_pool(5000)
    assert pool is not None
    try:
        assert pool._max_workers == 2
    finally:
        pool.shutdown()
    assert workers._worker_pool(workers.PARALLEL_FROM - 1) is None  # a few files: read here


def test_workers_give_what_reading_here_gives_in_the_same_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    for number in range(70):
        (tmp_path / f"m{number}.py").write_text(
            f"class Made{number}:\n    def run(self):\n        pass\n" * (number % 5)
        )
    (tmp_path / "binary.py").write_bytes(b"\0")
    (tmp_path / "gone.py").symlink_to(tmp_path / "nowhere.py")
    paths = sorted(path.name for path in tmp_path.iterdir())
    known = {blob_digest((tmp_path / "m3.py").read_bytes())}

    with workers.parsed_files(tmp_path, paths, known.__contains__, known) as parsed:
        in_workers = list(parsed)
    here = [workers.file_sites(tmp_path, path, known.__contains__) for path in paths]

    assert in_workers == here
    by_path = dict(zip(paths, here, strict=True))
    assert by_path["m3.py"].rows is None and by_path["m3.py"].digest in known  # known: named, not parsed
    assert by_path["m4.py"].rows is not None and ("Made4.run", "run", 5) in by_path["m4.py"].rows
    assert by_path["binary.py"].digest is None and "binary" in str(by_path["binary.py"].problem)
    assert by_path["gone.py"].digest is None and by_path["gone.py"].problem
