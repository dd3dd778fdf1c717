"""Safe mends of notes files: rewrite only anchors (never the reader's prose), each file locked and backed up."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from phase17.annotations import Anchor, NotesFile, load_notes, locked, save_notes
from phase17.errors import MendError
from phase17.refs import parse_ref
from phase17.sourcetree import find_symbol

if TYPE_CHECKING:
    from phase17.drift import Finding

AnchorChange = Callable[[Anchor, "Finding"], Anchor]


@dataclass(frozen=True)
class Mend:
    """One anchor rewritten: which, and from what to what."""

    target: str
    anchor: str
    before: str
    after: str


def fix_moved(notes_dir: Path, findings: Sequence[Finding]) -> list[Mend]:
    """Rewrite the recorded lines of anchors that only moved (same fingerprint). The reader's prose is untouched."""
    moved = [finding for finding in findings if finding.status == "moved" and finding.current is not None]
    return _rewrite(
        notes_dir,
        moved,
        lambda anchor, finding: (
            replace(
                anchor, start=finding.current.start, end=finding.current.end, fingerprint=finding.current.fingerprint
            )
            if finding.current
            else anchor
        ),
    )


def accept_changed(notes_dir: Path, findings: Sequence[Finding], ref: str) -> list[Mend]:
    """Take the current lines and fingerprint of a changed anchor, once the reader has reviewed the change."""
    chosen = [f for f in findings if f.status == "changed" and _names(f, ref)]
    if not chosen:
        candidates = sorted({f.anchor for f in findings if f.status == "changed"})
        raise MendError(f"no changed anchor named {ref!r}; changed now: {', '.join(candidates) or 'none'}.")
    return _rewrite(
        notes_dir,
        chosen,
        lambda anchor, finding: (
            replace(
                anchor, start=finding.current.start, end=finding.current.end, fingerprint=finding.current.fingerprint
            )
            if finding.current
            else anchor
        ),
    )


def relink_missing(notes_dir: Path, upstream: Path, findings: Sequence[Finding], ref: str, new_ref: str) -> list[Mend]:
    """Point a missing anchor at another symbol, which must resolve to exactly one definition."""
    chosen = [f for f in findings if f.status == "missing" and _names(f, ref)]
    if not chosen:
        candidates = sorted({f.anchor for f in findings if f.status == "missing"})
        raise MendError(f"no missing anchor named {ref!r}; missing now: {', '.join(candidates) or 'none'}.")
    matches = find_symbol(upstream, parse_ref(new_ref)).symbols
    if len(matches) != 1:
        where = ", ".join(symbol.ref for symbol in matches[:4])
        raise MendError(
            f"{new_ref!r} names {len(matches)} definitions{': ' + where if where else ''}; give "
            "path::qualname of exactly one."
        )
    target = matches[0]
    return _rewrite(
        notes_dir,
        chosen,
        lambda anchor, finding: Anchor(
            symbol=target.ref,
            kind=target.kind,
            start=target.start_line,
            end=target.end_line,
            fingerprint=target.fingerprint,
        ),
    )


def _names(finding: Finding, ref: str) -> bool:
    return ref in (finding.anchor, finding.qualname, finding.cited)


def _rewrite(notes_dir: Path, findings: Sequence[Finding], change: AnchorChange) -> list[Mend]:
    mends: list[Mend] = []
    for name in sorted({finding.target for finding in findings}):
        mine = [finding for finding in findings if finding.target == name]
        with locked(notes_dir, name):
            notes = load_notes(notes_dir, name)
            updated, done = _apply(notes, mine, change)
            if done:
                save_notes(notes_dir, updated, backup=True)
                mends.extend(done)
    return mends


def _apply(notes: NotesFile, findings: list[Finding], change: AnchorChange) -> tuple[NotesFile, list[Mend]]:
    done: list[Mend] = []

    def mended(anchor: Anchor, finding: Finding) -> Anchor:
        new = change(anchor, finding)
        if new != anchor:
            done.append(
                Mend(
                    notes.name,
                    anchor.symbol,
                    f"{anchor.symbol} {anchor.start}-{anchor.end}",
                    f"{new.symbol} {new.start}-{new.end}",
                )
            )
        return new

    by_anchor = {(f.anchor, f.recorded.start, f.recorded.fingerprint, f.cited): f for f in findings}
    anchors = tuple(
        mended(anchor, by_anchor[(anchor.symbol, anchor.start, anchor.fingerprint, None)])
        if (anchor.symbol, anchor.start, anchor.fingerprint, None) in by_anchor
        else anchor
        for anchor in notes.anchors
    )
    citations = []
    for citation in notes.citations:
        key = (citation.anchor.symbol, citation.anchor.start, citation.anchor.fingerprint, citation.cited)
        citations.append(
            replace(citation, anchor=mended(citation.anchor, by_anchor[key])) if key in by_anchor else citation
        )
    return replace(notes, anchors=anchors, citations=tuple(citations)), done
