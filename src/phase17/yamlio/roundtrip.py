"""Rendering YAML for phase17's notes files through ruamel.yaml's round-trip mode: a file the reader edited by hand
keeps its comments, key order and quoting, and only the values that changed are rewritten, the way pre-commit's
autoupdate rewrites only `rev:`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

WIDTH = 100
_STR_TAG = "tag:yaml.org,2002:str"


def _plain_resolves_to_str(text: str) -> bool:
    """Would PyYAML (YAML 1.1, which loads these files) read `text` back as a string if written plain?"""
    import yaml

    resolved = yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return bool(resolved == _STR_TAG)


def _round_trip() -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.representer import RoundTripRepresenter

    def represent_text(representer: RoundTripRepresenter, text: str) -> Any:
        # ruamel writes YAML 1.2, where `no` and `on` are strings; PyYAML reads 1.1, so quote what it would
        # not read as text. NEL and the Unicode line separators are escaped, never written raw.
        style = None
        if any(char in text for char in "\x85\u2028\u2029"):
            style = '"'
        elif not _plain_resolves_to_str(text):
            style = "'"
        return representer.represent_scalar(_STR_TAG, text, style=style)

    class Representer(RoundTripRepresenter):
        pass

    Representer.add_representer(str, represent_text)
    round_trip = YAML(typ="rt")
    round_trip.Representer = Representer
    round_trip.preserve_quotes = True
    round_trip.width = WIDTH
    round_trip.indent(mapping=2, sequence=2, offset=0)
    round_trip.allow_duplicate_keys = False
    return round_trip


def render_yaml(data: Mapping[str, Any], *, previous: str | None = None, header: str = "") -> str:
    """YAML text for `data`. With the `previous` text of the same file, only what changed is rewritten there:
    the reader's comments, key order and quoting of everything else survive. Without it, `header` comes first.
    """
    round_trip = _round_trip()
    document: Any = None
    if previous is not None:
        try:
            document = round_trip.load(previous)
        except Exception:  # a file the strict loader accepted but ruamel cannot: write it afresh
            document = None
    if isinstance(document, dict):
        document = _merge(document, data)
        prefix = ""
    else:
        document, prefix = _fresh(data), header
    buffer = io.StringIO()
    round_trip.dump(document, buffer)
    return prefix + buffer.getvalue()


def _fresh(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, str):
        return _styled(value)
    if isinstance(value, Mapping):
        return CommentedMap((key, _fresh(item)) for key, item in value.items())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return CommentedSeq(_fresh(item) for item in value)
    return value


def _styled(text: str) -> Any:
    """`text` with its style decided here, so ruamel never carries an old value's quotes onto a new value."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, PlainScalarString, SingleQuotedScalarString

    if any(char in text for char in "\x85\u2028\u2029"):
        return DoubleQuotedScalarString(text)  # written raw, PyYAML would read these back as line breaks
    if not _plain_resolves_to_str(text):
        return SingleQuotedScalarString(text)  # `no`, `on`, `1.0`: PyYAML reads YAML 1.1
    return PlainScalarString(text)


def _merge(old: Any, new: Any) -> Any:
    """`new`, built by reusing `old`'s nodes wherever they hold the same thing (so their comments stay)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(new, Mapping) and isinstance(old, CommentedMap):
        for key in [key for key in old if key not in new]:
            del old[key]
        for position, (key, value) in enumerate(new.items()):
            if key in old:
                old[key] = _merge(old[key], value)
            else:
                old.insert(min(position, len(old)), key, _fresh(value))
        return old
    if isinstance(new, Sequence) and not isinstance(new, str) and isinstance(old, CommentedSeq):
        unused = list(old)
        items = []
        for value in new:
            match = next((index for index, item in enumerate(unused) if _plain(item) == _plain(value)), None)
            if match is None:
                match = next((index for index, item in enumerate(unused) if _same_identity(item, value)), None)
            items.append(_merge(unused.pop(match), value) if match is not None else _fresh(value))
        old[:] = items
        return old
    if type(new) in (str, int, float, bool) and _plain(old) == new and type(_plain(old)) is type(new):
        return old  # the same value keeps its quoting and style
    return _fresh(new)


def _same_identity(old: Any, new: Any) -> bool:
    """Two list items are the same entry when they name the same symbol (an anchor moved, or was accepted)."""
    return (
        isinstance(old, Mapping)
        and isinstance(new, Mapping)
        and "symbol" in new
        and old.get("symbol") == new["symbol"]
        and old.get("cited") == new.get("cited")
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(item) for item in value]
    if isinstance(value, bool):
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value
