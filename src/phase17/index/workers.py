"""The work of reading upstream's files for the index: in worker processes when there are many (one per core
this process may use), else here, with the same results in the same order. Two kinds: naming and parsing each
file's content (parsed_files), and asking each file a command's question (answered). A worker that dies (killed,
out of memory) is one WorkerError, never a traceback, and ^C stops them all at once."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from phase17.errors import WorkerError
from phase17.progress import ProgressReporter
from phase17.source.files import blob_digest, read_or_reason
from phase17.source.parsing import ParseTooSlowError

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

PARALLEL_FROM = 48  # fewer files than this are read in this process: starting workers costs more


class FileSites(NamedTuple):
    """What one file gives the index: its content's blob id, or why it cannot be read; and the sites of a content
    not parsed yet (None when it was, or cannot be read)."""

    digest: str | None
    problem: str | None
    rows: list[tuple[str, str, int]] | None


def file_sites(upstream: Path, path: str, known: Callable[[str], bool]) -> FileSites:
    """Read one file, name its content, and find its sites when the content is not `known`: all of a file's work,
    done where it is read (a worker reads its own files: no content is copied through a pipe)."""
    data = read_or_reason(upstream, path)
    if isinstance(data, str):
        return FileSites(None, data, None)
    digest = blob_digest(data)
    if known(digest):
        return FileSites(digest, None, None)
    try:
        return FileSites(digest, None, site_rows(data))
    except ParseTooSlowError as error:
        return FileSites(None, str(error), None)


def site_rows(data: bytes) -> list[tuple[str, str, int]]:
    """(qualified name, last name part, first line) of each definition of a content: names only."""
    from phase17.source.sites import definition_names

    return [(site.qualname, site.qualname.rpartition(".")[2], site.start_line) for site in definition_names(data)]


class _InWorker:
    """What a worker process was started with (by _start_worker, in the worker only): the contents the index held
    then, which it skips parsing, and the question it answers of each file."""

    known: frozenset[str] = frozenset()
    question: Callable[[str, bytes], Any] | None = None


def _start_worker(known: frozenset[str], parent: int, question: Callable[[str, bytes], Any] | None) -> None:
    import gc

    _end_with(parent)

    gc.disable()  # a worker makes many small objects and no cycles: the collector would only scan them, again and again
    _InWorker.known, _InWorker.question = known, question


def _end_with(parent: int) -> None:
    """Have the kernel end this worker when its parent dies: a SIGKILL gives the parent no time to stop its
    workers, which would parse on for minutes (Linux's PR_SET_PDEATHSIG; elsewhere the pool's own checks)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the call above: nobody is left to ask
        os._exit(1)


def _file_sites_in_worker(item: tuple[str, str]) -> FileSites:
    return file_sites(Path(item[0]), item[1], _InWorker.known.__contains__)


def _usable_cores() -> int:
    """The cores this process may run on: its affinity where the system has one (a container or `taskset` may
    allow fewer than the machine has, and workers beyond them only take turns)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _worker_pool(
    files: int, *, known: Collection[str] = (), question: Callable[[str, bytes], Any] | None = None
) -> ProcessPoolExecutor | None:
    """Worker processes for work on `files` files, or None when this process should do it: few files, one core,
    or no fork to hand a `question` over. The workers start at the first submit, knowing the contents `known`
    and the question (a closure over what the command asked, which cannot be pickled: forked workers are
    handed it as it is)."""
    workers = min(_usable_cores(), 8)
    if files < PARALLEL_FROM or workers < 2:
        return None
    import multiprocessing  # (only here: importing it costs a warm command 8 ms)
    from concurrent.futures import ProcessPoolExecutor

    forks = "fork" in multiprocessing.get_all_start_methods()
    if question is not None and not forks:
        return None
    context = multiprocessing.get_context("fork" if forks else None)
    return ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(frozenset(known), os.getpid(), question)
    )


@contextmanager
def parsed_files(
    upstream: Path, paths: Sequence[str], known: Callable[[str], bool], stored: Collection[str]
) -> Iterator[Iterable[FileSites]]:
    """The FileSites of each file, in the paths' order: in worker processes when there are many, which skip the
    contents `stored` when they start; here, one at a time, skipping those `known` as the caller stores more.

    With workers, every file is handed out on entering, so they are parsing while the caller goes on (its bar
    loads rich: 50 ms). Leaving stops the workers, at once when an error or ^C ends the reading early."""
    pool = _worker_pool(len(paths), known=stored)
    if pool is None:
        yield (file_sites(upstream, path, known) for path in paths)
        return
    from concurrent.futures.process import BrokenProcessPool

    try:
        yield pool.map(_file_sites_in_worker, [(str(upstream), path) for path in paths], chunksize=16)
    except BrokenProcessPool:
        _stop_now(pool)
        raise _worker_lost("indexing") from None
    except BaseException:
        _stop_now(pool)
        raise
    finally:
        pool.shutdown(cancel_futures=True)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """End the workers at once (^C, an error): a worker stuck on a lock a killed one held would keep a waiting
    shutdown from ever returning. (The pool keeps its processes in a private mapping; absent, it waits as usual.)"""
    processes = list(getattr(pool, "_processes", {}).values())
    for process in processes:
        process.kill()
    for process in processes:
        process.join(5)
    pool.shutdown(wait=True)  # (the pool sees its workers gone and fails what was left: nothing is waited on)


def _worker_lost(doing: str) -> WorkerError:
    return WorkerError(
        f"a worker process ended abruptly while {doing} (killed, or out of memory); nothing of this run was stored. "
        "Run the command again."
    )


def _answer(item: tuple[str, str], question: Callable[[str, bytes], Any] | None = None) -> tuple[str, Any] | None:
    """One file's answer to the question (the worker's own, or `question` here), read by the process itself; None
    when it cannot be read."""
    upstream, path = item
    content = read_or_reason(Path(upstream), path)
    asked = question or _InWorker.question
    if isinstance(content, str) or asked is None:
        return None
    return path, asked(path, content)


def answered(
    upstream: Path, paths: list[str], question: Callable[[str, bytes], Any], reporter: Callable[[], ProgressReporter]
) -> Iterator[tuple[str, Any]]:
    """(path, question(path, content)) for each readable file: in forked workers, with the progress `reporter`
    makes, when there are many (the first `usages` or `contract` after a re-pin parses thousands of files), else
    here."""
    items = [(str(upstream), path) for path in paths]
    pool = _worker_pool(len(paths), question=question)
    if pool is None:
        yield from filter(None, (_answer(item, question) for item in items))
        return
    from concurrent.futures.process import BrokenProcessPool

    progress, started = reporter(), False
    try:
        results = pool.map(_answer, items, chunksize=8)  # the workers are forked now, with the question
        progress.start(f"scanning {len(paths)} files of {upstream.name}/", len(paths))
        started = True
        for result in results:
            progress.advance(1)
            if result is not None:
                yield result
    except BrokenProcessPool:
        _stop_now(pool)
        raise _worker_lost(f"scanning {upstream.name}/") from None
    except BaseException:
        _stop_now(pool)
        raise
    finally:
        pool.shutdown(cancel_futures=True)
        if started:
            progress.finish()
