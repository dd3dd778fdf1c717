"""Whole-tree answers kept between commands: a question about the whole tree (gates, effects, every name for a
did-you-mean) keeps its answer in the user cache under a digest of the tree's contents and of the code that
answered, so a second command on the same tree reads one small file instead of asking every file again."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from phase17.cache import cache_root, code_digest, prune
from phase17.errors import UnreadableSourceError, WriteError
from phase17.index.tree import Tree
from phase17.safety.files import read_limited, safe_folder, write_text_atomically

MAX_ANSWER_BYTES = 16 * 1024 * 1024


def remembered(
    upstream: Tree, kind: str, under: Sequence[str], compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """`compute()`'s answer for the tree as it is now, kept: computed again only when a file below `under`, or the
    instruments' code, has changed. A kept file that does not name its own key is not trusted."""
    from phase17.index.symbolindex import content_digest

    key = hashlib.sha256("\0".join([kind, code_digest(), *under, content_digest(upstream, under)]).encode()).hexdigest()
    kept = cache_root() / "answers" / f"{key[:32]}.json"
    try:
        stored = json.loads(read_limited(kept, MAX_ANSWER_BYTES))
        if isinstance(stored, dict) and stored.get("key") == key and isinstance(stored.get("answer"), dict):
            answer: dict[str, Any] = stored["answer"]
            return answer
    except (OSError, ValueError, UnreadableSourceError):
        pass  # not kept yet, or not readable as kept: compute it
    answer = compute()
    try:
        safe_folder(kept.parent, cache_root())
        write_text_atomically(kept, json.dumps({"key": key, "answer": answer}, separators=(",", ":")))
        prune(kept.parent)
    except (OSError, WriteError):  # (a cache folder linked out is not used)
        pass  # a read-only cache only costs speed
    return answer
