"""The one home of YAML: strict, line-aware loading (PyYAML) and comment-keeping rendering (ruamel.yaml).

Loading uses PyYAML's safe loader only (yamlparse.py), refuses aliases (no "billion laughs"), duplicate keys, deep
nesting and oversized files, and remembers the line of every key and item so shape errors can say `path:line`.
A text read once is kept, parsed, in the user cache: the next command reads it back without loading PyYAML, whose
import alone is a tenth of a warm command (issue 12). Writing goes
through ruamel.yaml's round-trip mode: a file the reader edited by hand keeps its comments, key order and quoting,
and only the values that changed are rewritten (issue 14), the way pre-commit's autoupdate rewrites only `rev:`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from phase17.errors import InvalidFileError, UnreadableSourceError
from phase17.safety.files import read_limited, write_text_atomically

MAX_YAML_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 32
WIDTH = 100
_STR_TAG = "tag:yaml.org,2002:str"


class LineDict(dict[str, Any]):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A sequence that remembers its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


def parse_yaml(text: str, path: str, line_offset: int = 0) -> Any:
    """Parse one YAML document strictly; every error is an InvalidFileError starting with `path:line:`.

    `line_offset` shifts reported lines, for YAML embedded in a larger file (the pin's fenced block). A text
    parsed before (same text, same offset, same loader code) is read back from the parse cache.
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_YAML_BYTES:
        raise InvalidFileError(f"{path}:1: file is larger than {MAX_YAML_BYTES // 1024 // 1024} MiB")
    from phase17.cache import cache_root, code_digest

    key = hashlib.sha256(
        f"{code_digest('yamlfile.py', 'yamlparse.py')}\0{line_offset}\0".encode()
        + text.encode("utf-8", "surrogatepass")
    ).hexdigest()
    kept = cache_root() / "parsed" / key
    try:
        # read_limited: a FIFO or link planted in the cache is refused, not read
        return _from_kept(json.loads(read_limited(kept, 8 * MAX_YAML_BYTES)))
    except (OSError, ValueError, LookupError, TypeError, RecursionError, UnreadableSourceError):
        pass  # not kept yet, or not readable as kept: parse it
    from phase17.yamlparse import parse_strictly

    data = parse_strictly(text, path, line_offset)
    try:
        encoded = json.dumps(_to_kept(data), separators=(",", ":"))
    except _NotKept:
        return data  # a value JSON cannot carry back exactly (a date, bytes): parsed again next time
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(kept, encoded)
        from phase17.cache import prune

        prune(kept.parent)
    except OSError:
        pass  # a read-only cache only costs speed
    return data


class _NotKept(Exception):
    """A parsed value the parse cache cannot give back exactly."""


def _to_kept(value: Any) -> Any:
    """Parsed YAML as JSON, lines included: {"m": line, "k": [[key, key line, value], ...]} for a mapping,
    {"s": line, "i": [[item line, value], ...]} for a sequence; text, numbers, booleans and null as they are."""
    if isinstance(value, LineDict):
        return {"m": value.line, "k": [[key, value.key_lines[key], _to_kept(item)] for key, item in value.items()]}
    if isinstance(value, LineList):
        return {
            "s": value.line,
            "i": [[line, _to_kept(item)] for line, item in zip(value.item_lines, value, strict=True)],
        }
    if value is None or type(value) in (str, int, float, bool):
        return value
    raise _NotKept(type(value).__name__)


def _from_kept(value: Any) -> Any:
    if isinstance(value, dict):
        if "m" in value:
            mapping = LineDict()
            mapping.line = int(value["m"])
            mapping.key_lines = {}
            for key, line, item in value["k"]:
                mapping[str(key)] = _from_kept(item)
                mapping.key_lines[str(key)] = int(line)
            return mapping
        sequence = LineList(_from_kept(item) for _, item in value["i"])
        sequence.line = int(value["s"])
        sequence.item_lines = [int(line) for line, _ in value["i"]]
        return sequence
    if isinstance(value, list):
        raise TypeError("a bare list is not a kept value")
    return value


def read_yaml_text(path: Path, shown: str) -> str:
    """A YAML file's text, refusing oversized and non-UTF-8 files with `shown:line:`, and links out of its folder,
    FIFOs and devices before reading a byte (safefiles)."""
    try:
        raw = read_limited(path, MAX_YAML_BYTES, root=path.parent)
    except FileNotFoundError:
        raise InvalidFileError(f"{shown}: file not found") from None
    except UnreadableSourceError as error:
        if error.reason.startswith("larger than"):
            raise InvalidFileError(f"{shown}:1: file is larger than {MAX_YAML_BYTES // 1024 // 1024} MiB") from None
        raise InvalidFileError(f"{shown}: {error.reason}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InvalidFileError(f"{shown}:{line}: not valid UTF-8 (byte {error.start})") from None


def read_yaml_file(path: Path, shown: str) -> Any:
    """Read and strictly parse a UTF-8 YAML file; errors name the file (as `shown`) and the line."""
    return parse_yaml(read_yaml_text(path, shown), shown)


# ---------------------------------------------------------------- writing


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
