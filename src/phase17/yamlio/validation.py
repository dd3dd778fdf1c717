"""Checking a loaded YAML file against the schema, once per content: verdicts are kept in the user cache.

Checking a file against the schema needs pydantic, whose import alone takes longer than the rest of a typical
command. A file's content that passed once passes again under the same schema, so `require_valid`
remembers "this content fits this model" as an empty marker named by a hash of the schema's source, the model
and the content. Any change to a file, or to the schema's code, is a new name: nothing stale is trusted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from phase17.cache import cache_root, code_digest, prune
from phase17.errors import WriteError
from phase17.safety.files import safe_folder


def require_valid(model: str, data: Any, shown: str, first_line: int = 1) -> None:
    """Raise the InvalidFileError `shown:line: where: what` of `data`'s first problem as schema.`model`; content
    that passed before (same schema code, same model, same data) is not checked again."""
    key = hashlib.sha256(
        code_digest().encode() + model.encode() + repr(data).encode("utf-8", "surrogatepass")
    ).hexdigest()
    folder = cache_root() / "verdicts"
    marker = folder / key
    if marker.is_file():
        return
    from phase17.yamlio import schema

    schema.validate(getattr(schema, model), data, shown, first_line)
    try:
        safe_folder(folder, cache_root())
        marker.touch()
        prune(folder)
    except (OSError, WriteError):  # (a cache folder linked out is not used)
        pass  # a read-only cache only costs speed
