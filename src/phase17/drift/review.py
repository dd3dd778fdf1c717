"""After a re-pin: which of the reader's sentences may no longer be true, each beside the code change under it.

`check` says which anchors changed; a reader's question is which of their sentences is still true. A review
item is one changed (or deleted) symbol: the sentences of every note that cites it, the hunks of its diff
under the cited lines (a few lines of context), and where the code is now. A symbol many notes cite is one
item, its diff shown once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from phase17.drift.findings import Finding, Status
from phase17.notes.store import load_notes_if_present

# What a review asks about: code that changed, or is gone. (Moved code is mended by `check --fix`.)
REVIEWED: tuple[Status, ...] = ("changed", "missing", "deleted")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"'])")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")
CONTEXT = 3  # lines around a cited line that still count as "under" it


@dataclass(frozen=True)
class Citing:
    """One note that cites the symbol: where, what it wrote, and the sentences naming it."""

    target: str
    note: str  # the prompt key, or a question's number
    cited: str | None  # the citation as written
    line: int | None
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class ReviewItem:
    anchor: str  # path::qualname as recorded
    status: Status  # one of REVIEWED
    recorded: str  # "path:start-end" as recorded
    now: str | None  # where it is now, for a changed symbol
    hunks: tuple[str, ...]  # the diff's hunks under the cited lines (all of them when no line is cited)
    citing: tuple[Citing, ...]
    cosmetic: bool

    def to_data(self) -> dict[str, object]:
        return {
            "anchor": self.anchor,
            "status": self.status,
            "recorded": self.recorded,
            "now": self.now,
            "cosmetic": self.cosmetic,
            "hunks": list(self.hunks),
            "citing": [
                {"target": c.target, "note": c.note, "cited": c.cited, "line": c.line, "sentences": list(c.sentences)}
                for c in self.citing
            ],
        }


def review_items(findings: Sequence[Finding], notes_dir: Path) -> list[ReviewItem]:
    """The items to review, in the order of the findings (notes file, then anchor)."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        if finding.status in REVIEWED:
            groups.setdefault((finding.anchor, finding.recorded.fingerprint), []).append(finding)
    texts: dict[str, dict[str, str]] = {}
    items = []
    for (anchor, _), members in groups.items():
        first = members[0]
        citing = tuple(_citing(finding, texts, notes_dir) for finding in members if finding.note is not None)
        lines = [finding.line for finding in members if finding.line is not None]
        whole = any(finding.line is None for finding in members if finding.note is not None)
        current = next((finding.current for finding in members if finding.current is not None), None)
        items.append(
            ReviewItem(
                anchor=anchor,
                status=first.status,
                recorded=f"{first.recorded.path}:{first.recorded.start}-{first.recorded.end}",
                now=f"{current.path}:{current.start}-{current.end}" if current is not None else None,
                # (a key symbol no sentence cites: no hunks, only the decision; its diff is `check --diff`'s)
                hunks=hunks_under(first.diff or "", None if whole else lines) if citing else (),
                citing=citing,
                cosmetic=first.cosmetic,
            )
        )
    return items


def _citing(finding: Finding, texts: dict[str, dict[str, str]], notes_dir: Path) -> Citing:
    """A citation finding's note and the sentences of it that cite the code."""
    if finding.target not in texts:
        notes = load_notes_if_present(notes_dir, finding.target)
        texts[finding.target] = dict(notes.notes) if notes else {}
    note = finding.note or ""
    text = texts[finding.target].get(note, "")
    return Citing(finding.target, note, finding.cited, finding.line, sentences_citing(text, finding.cited))


def sentences_citing(text: str, cited: str | None) -> tuple[str, ...]:
    """The sentences of a note that hold the citation (the whole note when none does, or nothing is cited)."""
    sentences = [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]
    chosen = [sentence for sentence in sentences if cited and cited in sentence]
    return tuple(chosen or ([text.strip()] if text.strip() else []))


def hunks_under(diff: str, lines: Sequence[int] | None) -> tuple[str, ...]:
    """The hunks of a unified diff (recorded -> current, in file lines) that touch `lines` within CONTEXT lines;
    every hunk when `lines` is None (a note about the whole symbol). The file headers are left out."""
    hunks: list[list[str]] = []
    for line in diff.splitlines():
        if line.startswith("@@"):
            hunks.append([line])
        elif hunks:
            hunks[-1].append(line)
    chosen = []
    for hunk in hunks:
        match = _HUNK.match(hunk[0])
        if match is None:
            continue
        start = int(match.group(1))
        length = int(match.group(2)) if match.group(2) is not None else 1
        if lines is None or any(start - CONTEXT <= line <= start + max(length, 1) - 1 + CONTEXT for line in lines):
            chosen.append("\n".join(hunk))
    return tuple(chosen)
