"""The records a strict YAML load returns: mappings and sequences that remember the line of every key and item,
so that a shape error can say `path:line`; and the bounds every load keeps to."""

from __future__ import annotations

from typing import Any

MAX_YAML_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 32


class LineDict(dict[str, Any]):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A sequence that remembers its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]
