"""Putting a new tree in place of upstream/ in one atomic step, so a killed fetch leaves the old tree or the new."""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@contextmanager
def building_beside(upstream: Path) -> Iterator[Path]:
    """A temporary folder on upstream/'s filesystem, removed unless it was moved into place."""
    upstream.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{upstream.name}.tmp-", dir=upstream.parent))
    try:
        yield building
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)


def move_into_place(building: Path, upstream: Path) -> None:
    """Put the new tree in place in one atomic step where the OS allows it, so a kill leaves old or new.

    Linux's renameat2(RENAME_EXCHANGE) swaps the two folders atomically; elsewhere two renames are used and
    a kill between them is undone by the next fetch (sweep_stale_temporaries puts the old tree back).
    """
    if not upstream.exists():
        os.replace(building, upstream)
        return
    if _exchange(building, upstream):
        shutil.rmtree(building, ignore_errors=True)  # now holds the old tree
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{upstream.name}.old-", dir=upstream.parent))
    retired.rmdir()
    os.replace(upstream, retired)
    try:
        os.replace(building, upstream)
    except BaseException:
        os.replace(retired, upstream)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths with renameat2; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    return bool(result == 0)


def sweep_stale_temporaries(parent: Path, name: str) -> None:
    """Remove what an earlier, killed fetch left beside upstream/ (never upstream/ itself)."""
    if not parent.is_dir():
        return
    retired = sorted(parent.glob(f".{name}.old-*"))
    if retired and not (parent / name).exists():
        os.replace(retired[-1], parent / name)  # killed mid-swap: the old tree goes back first
    for leftover in parent.glob(f".{name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in parent.glob(f".{name}.old-*"):
        if (parent / name).exists():
            shutil.rmtree(leftover, ignore_errors=True)
