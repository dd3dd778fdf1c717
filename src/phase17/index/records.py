"""The records the index hands out and is handed: sites found, what a refresh did, `phase17 index`'s summary, what git
said of a checkout, and a file's row as stored."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from phase17.progress import ProgressReporter


@dataclass(frozen=True)
class IndexedSite:
    """Where a definition is: its file and first line. A lookup then parses the few files found for the rest."""

    path: str
    qualname: str
    start_line: int


@dataclass
class RefreshReport:
    """What one refresh did: files seen, parsed (new content), reused (known content), and the unreadable."""

    files: int = 0
    parsed: int = 0
    reused: int = 0
    removed: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)
    rebuilt_because: str | None = None


@dataclass(frozen=True)
class IndexSummary:
    """`phase17 index`'s answer: where the index is and what it holds."""

    location: str
    files: int
    definitions: int
    contents: int  # distinct file contents stored (the tree's, and earlier versions')
    parsed: int
    reused: int
    unreadable: dict[str, str]
    rebuilt_because: str | None
    seconds: float

    def to_data(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "files": self.files,
            "definitions": self.definitions,
            "contents": self.contents,
            "parsed": self.parsed,
            "reused": self.reused,
            "unreadable": [{"path": path, "reason": reason} for path, reason in sorted(self.unreadable.items())],
            "rebuilt_because": self.rebuilt_because,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class GitView:
    """What git said of a checkout in this command: HEAD's tree and the paths whose content may not be HEAD's."""

    tree: str
    differing: tuple[str, ...]


class StoredFile(NamedTuple):
    """A file's row as the index keeps it: its stat key when last checked, its content's blob (None when it could
    not be read), why it could not, and the content's digest."""

    size: int | None
    mtime_ns: int | None
    inode: int | None
    checked_ns: int
    blob: int | None
    problem: str | None
    digest: str | None
    ctime_ns: int | None


class Needle(NamedTuple):
    """What a derived answer looks for, as bytes: a file holding none of `words` (or, with a `pattern`, no match
    of it) answers `empty` unasked (read in this process, no worker sent it): `usages get_device_name` reads the
    few files that name it."""

    words: tuple[bytes, ...]
    empty: Any
    pattern: re.Pattern[bytes] | None = None  # searched in the files that hold a word

    def absent(self, data: bytes) -> bool:
        if not any(word in data for word in self.words):
            return True
        return self.pattern is not None and self.pattern.search(data) is None


class TreeState(Protocol):
    """What the index reads of the Tree it belongs to, when it needs it: the root, what git said of the tree in
    this command (trusted instead of a walk), and who draws progress when many files must be read first."""

    root: Path
    git_view: GitView | None
    reporter_factory: Callable[[], ProgressReporter]
