"""One upstream tree as a command reads it: its root folder, what git said of it in this command, who draws progress
when its index must read many files, its symbol index (opened on first use) and the files' definitions parsed so
far. A command opens one Tree for upstream/ (and one for each release it compares with) and hands it down; nothing
about a tree is kept anywhere else, so a new Tree sees the files as they are now."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phase17.progress import ProgressReporter, SilentReporter

if TYPE_CHECKING:
    from phase17.index.records import GitView
    from phase17.index.store import SymbolIndex


class Tree:
    """An upstream tree: `tree / "pkg/module.py"` is a path in it, `tree.root` the folder itself."""

    def __init__(
        self,
        root: Path,
        *,
        reporter_factory: Callable[[], ProgressReporter] = SilentReporter,
        git_view: GitView | None = None,
    ) -> None:
        self.root = root
        self.reporter_factory = reporter_factory
        self.git_view = git_view
        self.index: SymbolIndex | None = None  # opened by the first lookup (symbolindex.py)
        self.definitions: dict[Any, Any] = {}  # each file's definitions by its stat key (lookup.py)

    @property
    def name(self) -> str:
        return self.root.name

    def __truediv__(self, relative: str | os.PathLike[str]) -> Path:
        return self.root / relative

    def __fspath__(self) -> str:
        return os.fspath(self.root)

    def __str__(self) -> str:
        return str(self.root)

    def __repr__(self) -> str:
        return f"Tree({str(self.root)!r})"

    def close(self) -> None:
        """Close the index (a new lookup opens it again)."""
        if self.index is not None:
            self.index.close()
            self.index = None
