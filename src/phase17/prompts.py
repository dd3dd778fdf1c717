"""The three sentences of every lab note, spelled once: the schema, the reading list and the notes read them here."""

from __future__ import annotations

from typing import Literal, get_args

PromptKey = Literal["data_structure", "invariant", "edge_case"]
PROMPT_KEYS: tuple[PromptKey, ...] = get_args(PromptKey)
