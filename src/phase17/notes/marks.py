"""After a re-pin, a mark on each sentence whose cited code changed, moved into other code or is gone since the
sentence was written, until the reader reviews it: the exported notebook must not state an old truth plainly."""

from __future__ import annotations

from phase17.notes.sentences import sentences_citing
from phase17.notes.store import Citation, LastCheck, NotesFile
from phase17.upstream.checkout import same_commit


def marked_notes(notes: NotesFile, last: LastCheck | None, pin_commit: str) -> tuple[dict[str, str], int]:
    """Each note's text with `[unreviewed since v0.22.1]` after each such sentence (`[not checked since v0.22.1]`
    when no check has said which changed), and how many sentences were marked."""
    marks: dict[tuple[str, str], str] = {}  # (note, sentence) -> its mark: one a sentence, however many it cites
    for citation in notes.citations:
        mark = _mark(notes, citation, last, pin_commit)
        if mark is not None:
            for sentence in sentences_citing(notes.notes.get(citation.note, ""), citation.cited):
                marks.setdefault((citation.note, sentence), mark)
    texts = dict(notes.notes)
    for (note, sentence), mark in marks.items():
        texts[note] = texts[note].replace(sentence, f"{sentence} [{mark}]", 1)
    return texts, len(marks)


def _mark(notes: NotesFile, citation: Citation, last: LastCheck | None, pin_commit: str) -> str | None:
    anchor = citation.anchor
    recorded = anchor.commit or notes.pin.commit
    if anchor.retired or same_commit(recorded, pin_commit):
        return None  # retired on purpose, or written (or reviewed) at the pin
    release = notes.pin.tag if same_commit(recorded, notes.pin.commit) else recorded[:9]
    if last is None or last.unreviewed is None:
        return f"not checked since {release}"
    if (notes.name, citation.note, citation.cited, anchor.fingerprint) in last.unreviewed:
        return f"unreviewed since {release}"
    return None
