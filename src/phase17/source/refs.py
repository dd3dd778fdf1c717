"""References as readers write them: `Class.method`, `function.inner`, `NAME`, or `path/to/file.py::Class.method`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from phase17.errors import BadReferenceError
from phase17.safety.text import clipped, has_controls, shown_name


@dataclass(frozen=True)
class Ref:
    """A reference as a reader writes it: `path::qualname` or a bare `qualname`."""

    qualname: str
    path: str | None = None

    def __str__(self) -> str:
        return f"{self.path}::{self.qualname}" if self.path else self.qualname


MAX_REF_CHARACTERS = 1000  # far past any real path::qualified.name
_QUALNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def parse_ref(text: str) -> Ref:
    """Split `path::qualname` (pytest style) or take a bare qualname; reject anything else with a hint."""
    text = text.strip()
    if len(text) > MAX_REF_CHARACTERS:
        raise BadReferenceError(
            f"{clipped(text)!r} is not a symbol reference (over {MAX_REF_CHARACTERS} characters); "
            "write Class.method or path/to/file.py::Class.method."
        )
    if "\n" in text or has_controls(text):  # no file phase17 reads is named so, and it would forge output lines
        raise BadReferenceError(
            f"{shown_name(clipped(text))!r} is not a symbol reference (it holds a line break or a control "
            "character); write Class.method or path/to/file.py::Class.method."
        )
    path, separator, qualname = text.rpartition("::")
    if not separator:
        path, qualname = "", text
    path = path.strip().lstrip("./") if path.startswith("./") else path.strip()
    if not _QUALNAME.match(qualname):
        raise BadReferenceError(
            f"{clipped(text)!r} is not a symbol reference; write Class.method or path/to/file.py::Class.method."
        )
    return Ref(qualname=qualname, path=path or None)
