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

from phase17.drift.findings import REVIEWED, Finding, Status
from phase17.errors import MendError
from phase17.notes.sentences import sentences_citing
from phase17.notes.store import load_notes_if_present

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")
CONTEXT = 3  # lines around a cited line that still count as "under" it
# What a screen shows of an item (`review SYMBOL` shows it whole): the first hunks under the cited lines (for a
# sentence about the whole symbol with none under a cited line, its first hunk), each cut to the rows around the
# cited line or else its first change. What is left out is counted.
SHOWN_HUNKS = 2
SHOWN_ROWS = 6


@dataclass(frozen=True)
class Citing:
    """One note that cites the symbol: where, what it wrote, and the sentences naming it."""

    target: str
    note: str  # the prompt key, or a question's number
    cited: str | None  # the citation as written
    line: int | None
    sentences: tuple[str, ...]

    @property
    def label(self) -> str:
        """The note as the reader knows it: `cpu · edge case`, or `Q4`."""
        if self.target == "questions":
            return "Q" + self.note
        return f"{self.target} · {self.note.replace('_', ' ')}"


@dataclass(frozen=True)
class ReviewItem:
    anchor: str  # path::qualname as recorded
    status: Status  # one of REVIEWED
    recorded: str  # "path:start-end" as recorded
    now: str | None  # where it is now, for a changed symbol
    hunks: tuple[str, ...]  # the diff's hunks under the cited lines, then (a sentence about the whole symbol) the rest
    citing: tuple[Citing, ...]
    cosmetic: bool
    lines: tuple[int, ...] = ()  # the cited lines (recorded numbers)
    under_lines: int = 0  # how many of the hunks lie under the cited lines (they come first)

    def excerpt(self) -> tuple[tuple[tuple[str, int], ...], int]:
        """What a screen shows: the first hunks, each cut around the cited line (with how many of its rows are
        left out), and how many hunks are left out."""
        shown = self.hunks[: min(self.under_lines, SHOWN_HUNKS) or 1]
        return tuple(trimmed(hunk, self.lines) for hunk in shown), len(self.hunks) - len(shown)

    def to_data(self) -> dict[str, object]:
        return {
            "anchor": self.anchor,
            "status": self.status,
            "recorded": self.recorded,
            "now": self.now,
            "cosmetic": self.cosmetic,
            "hunks": list(self.hunks),
            "lines": list(self.lines),
            "citing": [
                {"target": c.target, "note": c.note, "cited": c.cited, "line": c.line, "sentences": list(c.sentences)}
                for c in self.citing
            ],
        }


def review_items(findings: Sequence[Finding], notes_dir: Path) -> list[ReviewItem]:
    """The items to review, in the order of the findings (notes file, then anchor); each sentence once."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        if finding.status in REVIEWED:
            groups.setdefault((finding.anchor, finding.recorded.fingerprint), []).append(finding)
    texts: dict[str, dict[str, str]] = {}
    items = []
    for (anchor, _), members in groups.items():
        first = members[0]
        citing = _once(tuple(_citing(finding, texts, notes_dir) for finding in members if finding.note is not None))
        lines = [line for finding in members if finding.line is not None for line in _cited_lines(finding)]
        whole = any(finding.line is None for finding in members if finding.note is not None)
        current = next((finding.current for finding in members if finding.current is not None), None)
        diff = first.diff or ""
        under = hunks_under(diff, lines) if citing and lines else ()
        rest = tuple(hunk for hunk in hunks_under(diff, None) if hunk not in under) if citing and whole else ()
        items.append(
            ReviewItem(
                anchor=anchor,
                status=first.status,
                recorded=f"{first.recorded.path}:{first.recorded.start}-{first.recorded.end}",
                now=f"{current.path}:{current.start}-{current.end}" if current is not None else None,
                # (a key symbol no sentence cites: no hunks, only the decision; its diff is `check --diff`'s)
                hunks=under + rest,
                citing=citing,
                cosmetic=first.cosmetic,
                lines=tuple(sorted(set(lines))),
                under_lines=len(under),
            )
        )
    return items


def items_naming(items: Sequence[ReviewItem], refs: Sequence[str]) -> list[ReviewItem]:
    """The items each REF names (its anchor, qualname or last name), in order; a REF naming none is an error that
    lists the names there are."""
    chosen = []
    for ref in refs:
        named = [item for item in items if ref in _names_of(item.anchor)]
        if not named:
            names = ", ".join(item.anchor.split("::", 1)[-1] for item in items) or "none: nothing to review"
            raise MendError(f"no item to review is named {ref!r}; the items: {names}.")
        chosen += [item for item in named if item not in chosen]
    return chosen


def _names_of(anchor: str) -> tuple[str, str, str]:
    qualname = anchor.split("::", 1)[-1]
    return anchor, qualname, qualname.rpartition(".")[2]


def _cited_lines(finding: Finding) -> range:
    """Every line a `file.py:LINE` or `file.py:A-B` citation names."""
    assert finding.line is not None
    return range(finding.line, max(finding.last_line or finding.line, finding.line) + 1)


def _once(citing: tuple[Citing, ...]) -> tuple[Citing, ...]:
    """Each sentence of each note once, under the first citation that holds it (a note citing a symbol three times
    in one sentence is one quote, not three)."""
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for item in citing:
        sentences = tuple(s for s in item.sentences if (item.target, item.note, s) not in seen)
        seen.update((item.target, item.note, s) for s in sentences)
        if sentences:
            kept.append(Citing(item.target, item.note, item.cited, item.line, sentences))
    return tuple(kept)


def _citing(finding: Finding, texts: dict[str, dict[str, str]], notes_dir: Path) -> Citing:
    """A citation finding's note and the sentences of it that cite the code."""
    if finding.target not in texts:
        notes = load_notes_if_present(notes_dir, finding.target)
        texts[finding.target] = dict(notes.notes) if notes else {}
    note = finding.note or ""
    text = texts[finding.target].get(note, "")
    return Citing(finding.target, note, finding.cited, finding.line, sentences_citing(text, finding.cited))


def trimmed(hunk: str, lines: Sequence[int], rows: int = SHOWN_ROWS) -> tuple[str, int]:
    """A hunk cut to at most `rows` rows: the first cited line it holds (its old line numbers) and the change
    nearest it, else its first change with a row of context; and how many rows were left out."""
    header, *body = hunk.splitlines()
    if len(body) <= rows:
        return hunk, 0
    match = _HUNK.match(header)
    old = int(match.group(1)) if match else 0
    positions: dict[int, int] = {}  # old line number -> row
    for row, line in enumerate(body):
        if not line.startswith("+"):
            positions[old] = row
            old += 1
    changes = [row for row, line in enumerate(body) if line[:1] in "+-"] or [0]
    cited = next((positions[line] for line in lines if line in positions), None)
    if cited is None:
        start = max(changes[0] - 1, 0)
    else:
        change = min(changes, key=lambda row: abs(row - cited))
        low, high = min(cited, change), max(cited, change)
        if high - low < rows:
            start = max(low - (rows - (high - low + 1)) // 2, 0)
        else:  # too far apart for one screen: the change, from the top of its block
            while change > 0 and body[change - 1][:1] in "+-":
                change -= 1
            start = change - 1
    start = min(start, len(body) - rows)
    shown = body[start : start + rows]
    return "\n".join([header, *shown]), len(body) - len(shown)


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
