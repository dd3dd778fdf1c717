"""index/: the persistent symbol index, re-used by content, rebuilt whenever it cannot be trusted."""

from __future__ import annotations

import gc
import os
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from helpers import RecordingReporter
from phase17.index import gitview, store, symbolindex, workers
from phase17.index.database import index_location, row_check
from phase17.index.lookup import file_definitions, python_files
from phase17.index.symbolindex import build_index, find_sites
from phase17.index.tree import Tree


def _sites_by_parse(upstream: Path) -> set[tuple[str, str, int]]:
    return {
        (path, symbol.qualname, symbol.start_line)
        for path in python_files(Tree(upstream))
        for symbol in file_definitions(Tree(upstream), path)
    }


def _sites_by_index(upstream: Path | Tree) -> set[tuple[str, str, int]]:
    index = store.SymbolIndex.open(upstream if isinstance(upstream, Tree) else Tree(upstream))
    try:
        return {
            (found.path, found.qualname, found.start_line)
            for qualname in {name for _, name in index.qualnames()}
            for found in index.sites(qualname=qualname)
        }
    finally:
        index.close()


def test_the_index_holds_what_parsing_finds_and_a_second_run_parses_nothing(plain_upstream: Path):
    first = build_index(Tree(plain_upstream))
    assert first.parsed == first.contents > 5 and first.rebuilt_because == "no index yet"
    assert _sites_by_index(plain_upstream) == _sites_by_parse(plain_upstream)
    second = build_index(Tree(plain_upstream))
    assert (second.parsed, second.reused, second.rebuilt_because) == (0, 0, None)
    assert second.definitions == first.definitions


def test_only_new_content_is_parsed_and_known_content_is_reused(plain_upstream: Path):
    build_index(Tree(plain_upstream))
    cpu = plain_upstream / "vllm" / "platforms" / "cpu.py"
    cpu.write_text(cpu.read_text() + "\nclass AddedLater:\n    pass\n")
    (plain_upstream / "vllm" / "copy_of_interface.py").write_bytes(
        (plain_upstream / "vllm" / "platforms" / "interface.py").read_bytes()
    )
    (plain_upstream / "vllm" / "platforms" / "cuda.py").unlink()
    summary = build_index(Tree(plain_upstream))
    assert (summary.parsed, summary.reused) == (1, 1)
    sites, _ = find_sites(Tree(plain_upstream), qualname="AddedLater")
    assert [site.path for site in sites] == ["vllm/platforms/cpu.py"]
    assert find_sites(Tree(plain_upstream), qualname="CudaPlatformBase")[0] == []
    assert len(find_sites(Tree(plain_upstream), qualname="Platform")[0]) == 2


def test_many_files_are_parsed_by_worker_processes_with_the_same_result(plain_upstream: Path):
    for number in range(60):
        (plain_upstream / f"generated_{number}.py").write_text(
            f"class Made{number}:\n    def method(self):\n        x = {number}\n"
        )
    summary = build_index(Tree(plain_upstream))
    assert summary.parsed >= 60
    assert _sites_by_index(plain_upstream) == _sites_by_parse(plain_upstream)


def test_workers_parse_only_contents_the_index_does_not_hold(plain_upstream: Path, monkeypatch: pytest.MonkeyPatch):
    for number in range(60):
        (plain_upstream / f"generated_{number}.py").write_text(f"class Made{number}:\n    pass\n")
    build_index(Tree(plain_upstream))
    for number in range(60):  # every file touched (so read again), one changed, one a copy of another
        path = plain_upstream / f"generated_{number}.py"
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    (plain_upstream / "generated_0.py").write_text("class Changed:\n    pass\n")
    (plain_upstream / "generated_1.py").write_text("class Made2:\n    pass\n")
    monkeypatch.setattr(workers, "site_rows", _refuses_made)  # a parse of a known content kills its worker
    again = build_index(Tree(plain_upstream))
    assert (again.parsed, again.reused) == (1, 59)
    assert [site.path for site in find_sites(Tree(plain_upstream), qualname="Made2")[0]] == [
        "generated_1.py",
        "generated_2.py",
    ]


def test_the_bar_counts_every_changed_file_once_parsed_reused_or_unreadable(plain_upstream: Path):
    for number in range(60):
        (plain_upstream / f"generated_{number}.py").write_text(f"class Made{number}:\n    pass\n")
    for number in range(5):  # the same content five times: parsed once, counted five times
        (plain_upstream / f"same_{number}.py").write_text("class Same:\n    pass\n")
    (plain_upstream / "binary.py").write_bytes(b"\0\0")
    reporter = RecordingReporter()
    summary = build_index(Tree(plain_upstream), reporter=reporter)
    kinds = [kind for kind, _ in reporter.events]
    assert kinds[0] == "start" and kinds[-1] == "finish" and "start" not in kinds[1:]
    advanced = sum(amount for kind, amount in reporter.events if kind == "advance")
    assert advanced == summary.files  # the four copies of Same are neither parsed nor re-used from before
    assert summary.parsed == summary.files - 1 - 4 and "binary.py" in summary.unreadable


class _WatchingCollector(RecordingReporter):
    """Notes, at each file stored, whether the cycle collector is on."""

    def __init__(self, interrupt_on: str | None = None, after: int = 0) -> None:
        super().__init__(interrupt_on, after)
        self.collecting: list[bool] = []

    def advance(self, amount: int) -> None:
        self.collecting.append(gc.isenabled())
        super().advance(amount)


def test_a_build_pauses_the_cycle_collector_only_while_it_stores_rows(plain_upstream: Path):
    assert gc.isenabled()
    watching = _WatchingCollector()
    build_index(Tree(plain_upstream), reporter=watching)
    assert watching.collecting and not any(watching.collecting)
    assert gc.isenabled()  # on again after the build
    (plain_upstream / "vllm" / "added.py").write_text("class Added:\n    pass\n")
    with pytest.raises(KeyboardInterrupt):
        build_index(Tree(plain_upstream), reporter=_WatchingCollector(interrupt_on="indexing"))
    assert gc.isenabled()  # and after one that was stopped


def test_an_interrupted_parallel_build_stops_its_workers_and_keeps_the_last_index(plain_upstream: Path):
    import multiprocessing

    build_index(Tree(plain_upstream))
    for number in range(200):
        (plain_upstream / f"generated_{number}.py").write_text(f"class Made{number}:\n    pass\n" * 50)
    with pytest.raises(KeyboardInterrupt):
        build_index(Tree(plain_upstream), reporter=RecordingReporter(interrupt_on="indexing", after=3))
    assert multiprocessing.active_children() == []
    with sqlite3.connect(index_location(plain_upstream)) as connection:  # read as it is, without a refresh
        kept = connection.execute("SELECT count(*) FROM files WHERE path LIKE 'generated_%'").fetchone()[0]
    assert kept == 0  # nothing of the interrupted run was kept
    assert build_index(Tree(plain_upstream)).parsed == 200


def test_a_bulk_build_stopped_after_it_made_its_name_index_again_keeps_the_last_index(
    plain_upstream: Path, monkeypatch: pytest.MonkeyPatch
):
    for path in plain_upstream.rglob("*.py"):  # old enough to be trusted by their stat keys: only new files are read
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns - 10_000_000_000))
    build_index(Tree(plain_upstream))
    monkeypatch.setattr(store, "_BULK_FROM", 100)  # 200 files: a bulk build, its name index made at the 188th
    for number in range(200):
        (plain_upstream / f"generated_{number}.py").write_text(f"class Made{number}:\n    pass\n")
    reporter = RecordingReporter(interrupt_on="indexing", after=198)
    with pytest.raises(KeyboardInterrupt):
        build_index(Tree(plain_upstream), reporter=reporter)
    assert [event for event in reporter.events if event[0] == "start"] == [
        ("start", "indexing 200 files of plain-upstream/")
    ]
    assert sum(kind == "advance" for kind, _ in reporter.events) == 198  # 197 files in: past the name index's remaking
    with sqlite3.connect(index_location(plain_upstream)) as connection:
        assert connection.execute("SELECT count(*) FROM files WHERE path LIKE 'generated_%'").fetchone()[0] == 0
        assert connection.execute("SELECT name FROM sqlite_master WHERE name = 'sites_by_bucket'").fetchone()
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = build_index(Tree(plain_upstream))  # a bulk build that ends: its name index is there
    assert again.parsed == 200 and find_sites(Tree(plain_upstream), qualname="Made199")[0][0].path == "generated_199.py"
    with sqlite3.connect(index_location(plain_upstream)) as connection:
        assert connection.execute("SELECT name FROM sqlite_master WHERE name = 'sites_by_bucket'").fetchone()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda path: path.write_bytes(b"not a database at all" * 100), "not an SQLite file"),
        (lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]), ("truncated", "unreadable")),
        (lambda path: path.write_bytes(b""), "not an SQLite file"),
        (lambda path: _set_meta(path, "root", "/somewhere/else"), "made for another root"),
        (lambda path: _set_meta(path, "phase17", "an older phase17"), "made for another phase17"),
        (lambda path: _set_meta(path, "format", "phase17-symbol-index-0"), "made for another format"),
        (lambda path: _drop_table(path, "files"), "unreadable"),
    ],
)
def test_an_index_that_cannot_be_trusted_is_rebuilt_never_read(plain_upstream: Path, damage, reason):
    build_index(Tree(plain_upstream))
    location = index_location(plain_upstream)
    damage(location)
    summary = build_index(Tree(plain_upstream))
    assert summary.rebuilt_because is not None and summary.rebuilt_because.startswith(reason)
    assert _sites_by_index(plain_upstream) == _sites_by_parse(plain_upstream)


def _set_meta(path: Path, key: str, value: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))


def _drop_table(path: Path, table: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(f"DROP TABLE {table}")


def test_a_checkout_keeps_its_index_in_git_and_a_plain_tree_in_the_cache(plain_upstream: Path, tmp_path: Path):
    assert index_location(plain_upstream).is_relative_to(tmp_path / "cache" / "indexes")
    (plain_upstream / ".git").mkdir()
    assert index_location(plain_upstream) == plain_upstream / ".git" / "phase17" / "symbols.sqlite3"


def test_fifos_devices_links_out_and_loops_are_reported_and_never_read(plain_upstream: Path, tmp_path: Path):
    platforms = plain_upstream / "vllm" / "platforms"
    os.mkfifo(platforms / "pipe.py")
    os.symlink("/dev/zero", platforms / "zero.py")
    outside = tmp_path / "outside.py"
    outside.write_text("class Outside:\n    pass\n")
    os.symlink(outside, platforms / "escape.py")
    os.symlink(platforms / "loop_b.py", platforms / "loop_a.py")
    os.symlink(platforms / "loop_a.py", platforms / "loop_b.py")
    finished = threading.Event()

    def build() -> None:
        build_index(Tree(plain_upstream))
        finished.set()

    worker = threading.Thread(target=build, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert finished.is_set(), "the index build hung on a FIFO or a loop"
    _, unreadable = find_sites(Tree(plain_upstream), qualname="Outside")
    assert unreadable == {
        "vllm/platforms/pipe.py": "not a regular file (a FIFO, device or folder), not read",
        "vllm/platforms/zero.py": "symlink out of upstream/, not followed",
        "vllm/platforms/escape.py": "symlink out of upstream/, not followed",
        "vllm/platforms/loop_a.py": unreadable["vllm/platforms/loop_a.py"],
        "vllm/platforms/loop_b.py": unreadable["vllm/platforms/loop_b.py"],
    }
    assert unreadable["vllm/platforms/loop_a.py"].startswith("cannot read")


def test_an_unwritable_index_folder_still_answers_from_memory(plain_upstream: Path, tmp_path: Path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("PHASE17_CACHE_DIR", str(blocked))
    summary = build_index(Tree(plain_upstream))
    assert summary.location == ":memory:" and summary.definitions > 10


# ---------------------------------------------------------------- trusting git's status instead of a walk


def _checkout(plain_upstream: Path) -> Path:
    from helpers import git

    git(plain_upstream, "init", "-q")
    git(plain_upstream, "add", "-A")
    git(plain_upstream, "commit", "-qm", "the tree")
    return plain_upstream


def _trust_git(upstream: Path) -> Tree:
    """The tree as a command opens it: with what git says of it now."""
    from phase17.upstream import gitrepo

    tree = Tree(upstream)
    symbolindex.use_git_view(tree, gitrepo.head_commit(upstream).tree, gitrepo.worktree_status(upstream).differing)
    return tree


def _never_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_: object) -> None:
        raise AssertionError("walked the whole tree although git said what differs")

    monkeypatch.setattr(store, "walk", refused)


def test_with_git_status_in_hand_a_clean_checkout_is_looked_up_without_walking_it(
    plain_upstream: Path, monkeypatch: pytest.MonkeyPatch
):
    upstream = _checkout(plain_upstream)
    expected = _sites_by_parse(upstream)
    first = _trust_git(upstream)
    _never_walk(monkeypatch)
    assert _sites_by_index(first) == expected  # first time: HEAD's tree listed by git, every blob parsed
    second = _trust_git(upstream)
    before = sqlite3.connect(index_location(upstream)).execute("SELECT value FROM meta WHERE key = 'clean_tree'")
    assert before.fetchone() is not None
    assert _sites_by_index(second) == expected  # then: nothing read at all


def test_what_git_says_differs_is_looked_at_modified_untracked_ignored_and_deleted(
    plain_upstream: Path, monkeypatch: pytest.MonkeyPatch
):
    upstream = _checkout(plain_upstream)
    _sites_by_index(_trust_git(upstream))  # the clean tree, indexed through git
    cpu = upstream / "vllm" / "platforms" / "cpu.py"
    cpu.write_text(cpu.read_text().replace("class CpuPlatform", "class RenamedCpuPlatform"))
    (upstream / "vllm" / "untracked.py").write_text("def brand_new():\n    pass\n")
    (upstream / ".gitignore").write_text("generated/\n")
    (upstream / "generated").mkdir()
    (upstream / "generated" / "made.py").write_text("class MadeByABuild:\n    pass\n")
    (upstream / "vllm" / "platforms" / "cuda.py").unlink()
    tree = _trust_git(upstream)
    walked: list[str] = []
    walk = gitview.walk

    def only_the_ignored_folder(tree: Path, under: str):  # git lists an ignored folder whole: it is walked
        walked.append(under)
        return walk(tree, under)

    monkeypatch.setattr(gitview, "walk", only_the_ignored_folder)
    through_git = _sites_by_index(tree)
    assert walked == ["generated"]
    assert through_git == _sites_by_parse(upstream)
    assert find_sites(tree, qualname="RenamedCpuPlatform")[0][0].path == "vllm/platforms/cpu.py"
    assert find_sites(tree, qualname="CpuPlatform")[0] == []
    assert find_sites(tree, qualname="brand_new")[0][0].path == "vllm/untracked.py"
    assert find_sites(tree, qualname="MadeByABuild")[0][0].path == "generated/made.py"
    assert find_sites(tree, qualname="CudaPlatformBase")[0] == []


def test_a_view_of_git_belongs_to_its_tree_and_a_tree_id_that_is_no_id_is_ignored(plain_upstream: Path):
    upstream = _checkout(plain_upstream)
    tree = Tree(upstream)
    symbolindex.use_git_view(tree, "HEAD; rm -rf /", [])
    assert tree.git_view is None
    listed = [".tours/", "node_modules/pkg/x.py", "vllm/__pycache__/y.py", "README.md", "build/", "vllm/z.py"]
    symbolindex.use_git_view(tree, "a" * 40, listed)
    assert tree.git_view is not None and tree.git_view.differing == ("build/", "vllm/z.py")  # what the walk reads
    assert symbolindex.tree_index(tree).tree is tree  # the index reads the view from its tree
    assert Tree(upstream).git_view is None  # the next command's tree: a later edit is never hidden behind it


def test_a_checkout_is_indexed_through_git_with_stat_keys_and_walked_only_to_rebuild(
    plain_upstream: Path, monkeypatch: pytest.MonkeyPatch
):
    upstream = _checkout(plain_upstream)

    def seen_through_git() -> Tree:  # as every command reading a checkout opens it
        tree = Tree(upstream)
        symbolindex.view_through_git(tree)
        return tree

    assert build_index(seen_through_git()).parsed > 5
    walked = build_index(Tree(upstream))  # no view: a walk, which finds the stat keys the rows git vouched for got
    assert (walked.parsed, walked.reused) == (0, 0)
    _never_walk(monkeypatch)
    assert build_index(seen_through_git()).parsed == 0  # git says nothing changed: nothing is read or walked
    cpu = upstream / "vllm" / "platforms" / "cpu.py"
    cpu.write_text(cpu.read_text() + "\nclass AddedLater:\n    pass\n")
    tree = seen_through_git()
    again = build_index(tree)
    assert (again.parsed, again.reused) == (1, 0)
    assert find_sites(tree, qualname="AddedLater")[0][0].path == "vllm/platforms/cpu.py"
    monkeypatch.undo()
    rebuilt = build_index(seen_through_git(), rebuild=True)  # a rebuild walks the tree itself
    assert rebuilt.parsed == rebuilt.contents and rebuilt.definitions == again.definitions


def test_a_worker_that_dies_is_one_clear_error_and_nothing_of_the_run_is_kept(
    plain_upstream: Path, monkeypatch: pytest.MonkeyPatch
):
    from phase17.errors import WorkerError

    for number in range(60):
        (plain_upstream / f"generated_{number}.py").write_text(f"class Made{number}:\n    pass\n")
    monkeypatch.setattr(workers, "site_rows", _dies_on_made7)
    with pytest.raises(WorkerError, match="ended abruptly while indexing"):
        build_index(Tree(plain_upstream))
    with sqlite3.connect(index_location(plain_upstream)) as connection:
        assert connection.execute("SELECT count(*) FROM files").fetchone()[0] == 0

    def question(path: str, content: bytes) -> int:
        if b"Made7:" in content:
            os._exit(9)
        return len(content)

    monkeypatch.setattr(workers, "site_rows", _PARSE)
    with pytest.raises(WorkerError, match="ended abruptly while scanning"):
        symbolindex.derived_answers(Tree(plain_upstream), "lengths", [""], question)


_PARSE = workers.site_rows


def _dies_on_made7(data: bytes):
    """The index's parse, run in forked workers (so named at module level), except that it dies on one content."""
    if b"Made7:" in data:
        os._exit(9)  # as the kernel's out-of-memory killer would end it
    return _PARSE(data)


def _refuses_made(data: bytes):
    """The index's parse, except that a content the index already holds ends the worker."""
    if b"class Made" in data:
        os._exit(9)
    return _PARSE(data)


def _age(path: Path, seconds: int = 10) -> None:
    """Set a file's mtime back, as a checkout or an extracted archive leaves it: old enough to be trusted."""
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns - seconds * 1_000_000_000))


def test_a_content_replaced_with_the_same_size_and_mtime_is_read_again(plain_upstream: Path):
    cpu = plain_upstream / "vllm" / "platforms" / "cpu.py"
    for path in plain_upstream.rglob("*.py"):
        _age(path)
    build_index(Tree(plain_upstream))
    assert find_sites(Tree(plain_upstream), qualname="CpuPlatform")[0]
    before = cpu.stat()
    text = cpu.read_text()
    cpu.write_text(text.replace("class CpuPlatform", "class CpuPlatfor_"))  # same size, inode kept
    os.utime(cpu, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the mtime set back (cp -p, an editor)
    after = cpu.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    assert find_sites(Tree(plain_upstream), qualname="CpuPlatform")[0] == []
    assert find_sites(Tree(plain_upstream), qualname="CpuPlatfor_")[0][0].path == "vllm/platforms/cpu.py"


@pytest.mark.parametrize(("checked_after_seconds", "read_again"), [(1, True), (10, False)])
def test_a_file_checked_within_the_racy_window_of_its_change_is_read_again(
    plain_upstream: Path, checked_after_seconds: int, read_again: bool
):
    """A change in the same instant as the check cannot be told apart by the stat key: git's racily-clean rule."""
    cpu = plain_upstream / "vllm" / "platforms" / "cpu.py"
    for path in plain_upstream.rglob("*.py"):
        _age(path)
    build_index(Tree(plain_upstream))
    cpu.write_text(cpu.read_text().replace("class CpuPlatform", "class CpuPlatfor_"))
    now = cpu.stat()
    # The row as a check made just then would have stored it: the new stat key, checked `checked_after` later.
    with sqlite3.connect(index_location(plain_upstream)) as connection:
        path = "vllm/platforms/cpu.py"
        blob, problem = connection.execute("SELECT blob, problem FROM files WHERE path = ?", (path,)).fetchone()
        checked_ns = now.st_mtime_ns + checked_after_seconds * 1_000_000_000
        key = (now.st_size, now.st_mtime_ns, now.st_ino, checked_ns, blob, problem, now.st_ctime_ns)
        connection.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (path, *key, row_check(path, *key))
        )
    found = {site.qualname for site in find_sites(Tree(plain_upstream), name="CpuPlatfor_")[0]}
    assert (found == {"CpuPlatfor_"}) is read_again


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE sites SET qualname = qualname || 'z', name = name || 'z' WHERE name = 'get_attn_backend_cls'",
        "UPDATE sites SET start_line = start_line + 1 WHERE name = 'get_attn_backend_cls'",
        "UPDATE files SET blob = blob + 1 WHERE path = 'vllm/platforms/cpu.py'",
        "UPDATE blobs SET digest = 'f' || substr(digest, 2)",
    ],
)
def test_a_changed_index_row_means_a_rebuild_never_a_wrong_answer(plain_upstream: Path, damage: str):
    build_index(Tree(plain_upstream))
    truth = find_sites(Tree(plain_upstream), name="get_attn_backend_cls")[0]
    assert truth
    with closing(sqlite3.connect(index_location(plain_upstream))) as connection, connection:
        assert connection.execute(damage).rowcount > 0
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]  # SQLite sees nothing wrong
    assert find_sites(Tree(plain_upstream), name="get_attn_backend_cls")[0] == truth
    assert find_sites(Tree(plain_upstream), name="get_attn_backend_clsz")[0] == []


def test_a_changed_kept_answer_is_computed_again(plain_upstream: Path):
    from phase17.index.symbolindex import derived_answers

    def count_lines(path: str, content: bytes) -> int:
        return content.count(b"\n")

    truth, _ = derived_answers(Tree(plain_upstream), "lines-1", ("",), count_lines)
    with sqlite3.connect(index_location(plain_upstream)) as connection:
        connection.execute("UPDATE derived SET data = '999999'")
    assert derived_answers(Tree(plain_upstream), "lines-1", ("",), count_lines)[0] == truth


def test_a_rebuild_waits_for_another_writer_instead_of_deleting_its_file(plain_upstream: Path):
    import threading

    from phase17.index.database import connect, expected_meta

    build_index(Tree(plain_upstream))
    location, expected = index_location(plain_upstream), expected_meta(plain_upstream)
    first, _ = connect(location, expected, rebuild=False)
    first.execute("BEGIN IMMEDIATE")  # another phase17, in the middle of its build
    first.execute("INSERT INTO meta VALUES ('busy', 'yes')")
    done: list[str | None] = []
    second = threading.Thread(target=lambda: done.append(connect(location, expected, rebuild=True)[1]))
    second.start()
    second.join(timeout=0.3)
    assert second.is_alive() and done == []  # waiting for the first one's transaction...
    first.execute("COMMIT")  # ...which still commits (a deleted file made this a disk I/O error)
    second.join(timeout=30)
    assert done == ["asked to rebuild"]
    assert find_sites(Tree(plain_upstream), qualname="CpuPlatform")[0]


def test_an_index_on_a_full_disk_answers_from_memory(plain_upstream: Path, monkeypatch):
    from phase17.index import database

    build_index(Tree(plain_upstream))

    class FullDisk(sqlite3.Connection):  # every write of rows fails as SQLite fails on a full disk
        def executemany(self, *args, **kwargs):
            raise sqlite3.OperationalError("database or disk is full")

    def full(location: Path):
        return sqlite3.connect(location, isolation_level=None, check_same_thread=False, factory=FullDisk)

    monkeypatch.setattr(database, "_opened", full)
    cpu = plain_upstream / "vllm" / "platforms" / "cpu.py"
    cpu.write_text(cpu.read_text() + "\n\ndef added_after_the_disk_filled():\n    pass\n")
    found, _ = find_sites(Tree(plain_upstream), name="added_after_the_disk_filled")
    assert [site.path for site in found] == ["vllm/platforms/cpu.py"]
    summary = build_index(Tree(plain_upstream))
    assert summary.location == ":memory:" and "cannot be written" in str(summary.rebuilt_because)


def test_a_file_the_parser_would_take_minutes_on_is_skipped_with_a_line_saying_so(plain_upstream: Path, monkeypatch):
    from phase17.source import parsing

    monkeypatch.setattr(parsing, "PARSE_SECONDS", 0.3)
    slow = plain_upstream / "vllm" / "slow.py"
    slow.write_text("x = 0\n" + "# a comment line\n" * 12_000)  # unbounded: about 5 s here, growing as its square
    started = time.monotonic()
    found, unreadable = find_sites(Tree(plain_upstream), qualname="CpuPlatform")
    assert found and time.monotonic() - started < 3
    assert unreadable == {
        "vllm/slow.py": "skipped: the Python parser took over 0.3 s (a very long run of comment lines?)"
    }


def test_a_rebuild_between_a_refresh_deciding_and_writing_is_seen_by_the_refresh(plain_upstream: Path, monkeypatch):
    # Another process's `index --rebuild` lands after this one has looked at the files but before it writes: the
    # ids it read then are the old index's. (It was sqlite3.IntegrityError: UNIQUE constraint failed: blobs.id.)
    from phase17.index import database

    build_index(Tree(plain_upstream))
    cpu = plain_upstream / "vllm" / "platforms" / "cpu.py"
    cpu.write_text(cpu.read_text() + "\n\ndef written_while_another_rebuilt():\n    pass\n")
    (plain_upstream / "vllm" / "platforms" / "extra.py").write_text("class Extra:\n    pass\n")
    real = database.transaction

    def rebuilt_first(connection):
        monkeypatch.setattr(store, "transaction", real)  # (once)
        other = store.SymbolIndex.open(Tree(plain_upstream), rebuild=True)  # what the other phase17 process did
        other.refresh(("",))
        other.close()
        return real(connection)

    monkeypatch.setattr(store, "transaction", rebuilt_first)
    monkeypatch.setattr(store, "PARALLEL_FROM", 1)  # every blob id read up front, as when many files changed
    build_index(Tree(plain_upstream))  # `phase17 index`, which has no second try to hide a failure behind
    found, _ = find_sites(Tree(plain_upstream), name="written_while_another_rebuilt")
    assert [site.path for site in found] == ["vllm/platforms/cpu.py"]
    assert [site.path for site in find_sites(Tree(plain_upstream), qualname="Extra")[0]] == ["vllm/platforms/extra.py"]
    assert find_sites(Tree(plain_upstream), qualname="Platform.get_attn_backend_cls")[0]
