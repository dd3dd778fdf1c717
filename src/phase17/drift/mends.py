"""Safe mends of notes files: rewrite anchors (the prose only when asked, --rewrite-lines), each file locked and
backed up, every rewritten anchor stamped with the commit its lines now belong to."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from phase17.errors import MendError
from phase17.index.lookup import find_symbol
from phase17.index.tree import Tree
from phase17.notes.store import Anchor, Citation, NotesFile, PinStamp, load_notes, locked, save_notes
from phase17.source.refs import parse_ref

if TYPE_CHECKING:
    from phase17.drift.findings import Finding

AnchorChange = Callable[[Anchor, "Finding"], Anchor]


@dataclass(frozen=True)
class Mend:
    """One anchor rewritten: which, and from what to what."""

    target: str
    anchor: str
    before: str
    after: str


def fix_moved(
    notes_dir: Path, findings: Sequence[Finding], stamp: PinStamp | None = None, *, rewrite_lines: bool = False
) -> list[Mend]:
    """Rewrite the recorded lines of anchors that only moved (same fingerprint) and of cited lines found again
    at another line. The reader's prose is untouched, unless `rewrite_lines`: then a `file.py:LINE` in it is
    rewritten to the line's new number."""
    # (a cited line moved into another definition is the reader's to re-cite: its anchor would not follow)
    moved = [f for f in findings if f.status == "moved" and f.current is not None and f.moved_into is None]
    unmoved = [finding for finding in findings if finding.status == "ok" and finding.current is not None]
    return _rewrite(
        notes_dir,
        moved + unmoved,  # an ok anchor's lines are the current commit's too: it takes that stamp
        stamp,
        _take_current,
        rewrite_lines=rewrite_lines,
    )


def accept_changed(
    notes_dir: Path, findings: Sequence[Finding], ref: str, stamp: PinStamp | None = None, *, cosmetic: bool = False
) -> list[Mend]:
    """Take the current lines and fingerprint of changed anchors once the reader has reviewed them: the anchor
    named `ref` (a reference, or a target's name for all of its changed anchors), or with `cosmetic` every
    change that is only docstrings or comments."""
    if cosmetic:
        chosen = [f for f in findings if f.status == "changed" and f.cosmetic]
    else:
        chosen = [f for f in findings if f.status == "changed" and (_names(f, ref) or f.target == ref)]
    if not chosen and not cosmetic:
        candidates = sorted({f.anchor for f in findings if f.status == "changed"})
        raise MendError(f"no changed anchor named {ref!r}; changed now: {', '.join(candidates) or 'none'}.")
    return _rewrite(
        notes_dir,
        chosen,
        stamp,
        _take_current,
    )


def relink_missing(
    notes_dir: Path,
    upstream: Tree,
    findings: Sequence[Finding],
    ref: str,
    new_ref: str,
    stamp: PinStamp | None = None,
) -> list[Mend]:
    """Point a missing anchor at another symbol, which must resolve to exactly one definition."""
    chosen = [f for f in findings if f.status in ("missing", "deleted") and _names(f, ref)]
    if not chosen:
        candidates = sorted({f.anchor for f in findings if f.status in ("missing", "deleted")})
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
        stamp,
        lambda anchor, finding: Anchor(
            symbol=target.ref,
            kind=target.kind,
            start=target.start_line,
            end=target.end_line,
            fingerprint=target.fingerprint,
        ),
    )


def retire_deleted(notes_dir: Path, findings: Sequence[Finding], ref: str) -> list[Mend]:
    """Keep a note whose code is gone: mark its anchor retired at the commit its recorded lines belong to (so the
    export still links there), and stop flagging it. The prose is untouched."""
    chosen = [f for f in findings if f.status in ("deleted", "missing") and _names(f, ref)]
    if not chosen:
        candidates = sorted({f.anchor for f in findings if f.status in ("deleted", "missing")})
        raise MendError(
            f"no deleted or missing anchor named {ref!r}; such anchors now: {', '.join(candidates) or 'none'}."
        )
    return _rewrite(notes_dir, chosen, None, lambda anchor, finding: replace(anchor, retired=anchor.commit))


def _take_current(anchor: Anchor, finding: Finding) -> Anchor:
    """The anchor at the symbol's current lines and code."""
    if finding.current is None:
        return anchor
    current = finding.current
    return replace(anchor, start=current.start, end=current.end, fingerprint=current.fingerprint)


def _names(finding: Finding, ref: str) -> bool:
    return ref in (finding.anchor, finding.qualname, finding.cited)


def _rewrite(
    notes_dir: Path,
    findings: Sequence[Finding],
    stamp: PinStamp | None,
    change: AnchorChange,
    *,
    rewrite_lines: bool = False,
) -> list[Mend]:
    """Apply `change` to the anchors of `findings`, file by file (locked, backed up). What is rewritten takes the
    current pin's commit (`stamp`) as the commit its lines belong to; when every anchor of a file then belongs to
    one commit, that commit becomes the file's pin stamp."""
    mends: list[Mend] = []
    for name in sorted({finding.target for finding in findings}):
        mine = [finding for finding in findings if finding.target == name]
        with locked(notes_dir, name):
            notes = load_notes(notes_dir, name)
            updated, done = _apply(notes, mine, change, stamp, rewrite_lines)
            if updated != notes:  # lines rewritten, or only the commit they belong to
                save_notes(notes_dir, updated, backup=True)
                mends.extend(done)
    return mends


def _apply(
    notes: NotesFile, findings: list[Finding], change: AnchorChange, stamp: PinStamp | None, rewrite_lines: bool
) -> tuple[NotesFile, list[Mend]]:
    done: list[Mend] = []
    texts = dict(notes.notes)

    def mended(anchor: Anchor, finding: Finding) -> Anchor:
        anchor = replace(anchor, commit=anchor.commit or notes.pin.commit)  # the commit its lines belong to, said
        new = change(anchor, finding)
        if stamp is not None and new.retired is None and (new != anchor or finding.status == "ok"):
            new = replace(new, commit=stamp.commit)
        if (new.symbol, new.start, new.end, new.fingerprint, new.retired) != (
            anchor.symbol,
            anchor.start,
            anchor.end,
            anchor.fingerprint,
            anchor.retired,
        ):
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
        finding = by_anchor.get(key)
        if finding is None:
            citations.append(citation)
            continue
        updated = replace(citation, anchor=mended(citation.anchor, finding))
        if finding.line_now is not None and finding.line_now != citation.line and updated.anchor != citation.anchor:
            shift = finding.line_now - (citation.line or finding.line_now)
            last = citation.last_line + shift if citation.last_line is not None else None
            updated = replace(updated, line=finding.line_now, last_line=last)
            if rewrite_lines:
                updated = _rewrite_prose(texts, updated, citation.line, finding.line_now)
        citations.append(updated)
    result = replace(notes, anchors=anchors, citations=tuple(citations), notes=texts)
    return _one_stamp(result, stamp), done


def _rewrite_prose(texts: dict[str, str], citation: Citation, old: int | None, new: int) -> Citation:
    """`file.py:OLD` (or `file.py:OLD-END`) becomes `file.py:NEW` (`file.py:NEW-END'`) in the note's text (only
    that citation, only when asked)."""
    written = re.fullmatch(r"(.*):(\d+)(?:-(\d+))?", citation.cited)
    if old is None or written is None or int(written.group(2)) != old:
        return citation
    end = f"-{int(written.group(3)) + new - old}" if written.group(3) else ""
    rewritten = f"{written.group(1)}:{new}{end}"
    pattern = re.compile(rf"(?<![\w/.]){re.escape(citation.cited)}(?!\d)")
    texts[citation.note] = pattern.sub(rewritten, texts.get(citation.note, ""))
    return replace(citation, cited=rewritten)


def _one_stamp(notes: NotesFile, stamp: PinStamp | None) -> NotesFile:
    """When every live anchor's lines belong to one commit, say it once, in the file's pin stamp."""
    everything = [*notes.anchors, *(citation.anchor for citation in notes.citations)]
    commits = {anchor.commit or notes.pin.commit for anchor in everything if anchor.retired is None}
    if len(commits) != 1:
        return notes
    (commit,) = commits
    tag = stamp.tag if stamp is not None and stamp.commit == commit else notes.pin.tag
    return replace(
        notes,
        pin=PinStamp(tag=tag, commit=commit),
        anchors=tuple(replace(anchor, commit=None) for anchor in notes.anchors),
        citations=tuple(replace(c, anchor=replace(c.anchor, commit=None)) for c in notes.citations),
    )
