"""A note's sentences, and the ones that cite a piece of code: what `review` quotes and the export marks."""

from __future__ import annotations

import re

# A sentence ends at . ! or ? before a space and what starts a sentence (a capital, code in backticks, a quote or
# a parenthesis): "e.g. this" and "cpu.py:84." stay inside theirs.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"'])")


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def sentences_citing(text: str, cited: str | None) -> tuple[str, ...]:
    """The sentences of a note that hold the citation (the whole note when none does, or nothing is cited)."""
    # (whole names only: a sentence about `SubBase.x` cites neither `Base.x` nor `SubBase`)
    named = re.compile(rf"(?<![\w.]){re.escape(cited)}(?!\w|\.\w)") if cited else None
    chosen = [sentence for sentence in sentences(text) if named and named.search(sentence)]
    return tuple(chosen or ([text.strip()] if text.strip() else []))
