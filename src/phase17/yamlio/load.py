"""Strict, line-aware loading of YAML (PyYAML's safe loader, in strict.py): aliases (no "billion laughs"),
duplicate keys, deep nesting and oversized files are refused, and the line of every key and item is kept so shape
errors can say `path:line`. A text read once is kept, parsed, in the user cache: the next command reads it back
without loading PyYAML, whose import alone is a tenth of a warm command.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from phase17.errors import InvalidFileError, UnreadableSourceError, WriteError
from phase17.safety.files import read_limited, safe_folder, write_text_atomically
from phase17.yamlio.lines import MAX_YAML_BYTES, LineDict, LineList


def parse_yaml(text: str, path: str, line_offset: int = 0) -> Any:
    """Parse one YAML document strictly; every error is an InvalidFileError starting with `path:line:`.

    `line_offset` shifts reported lines, for YAML embedded in a larger file (the pin's fenced block). A text
    parsed before (same text, same offset, same loader code) is read back from the parse cache.
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_YAML_BYTES:
        raise InvalidFileError(f"{path}:1: file is larger than {MAX_YAML_BYTES // 1024 // 1024} MiB")
    from phase17.cache import cache_root, code_digest

    key = hashlib.sha256(
        f"{code_digest()}\0{line_offset}\0".encode() + text.encode("utf-8", "surrogatepass")
    ).hexdigest()
    kept = cache_root() / "parsed" / key
    try:
        # read_limited: a FIFO or link planted in the cache is refused, not read
        entry = json.loads(read_limited(kept, 8 * MAX_YAML_BYTES))
        # An entry names the text it is the parse of and carries a digest of itself: a parse of another text
        # (a file copied or moved within the cache) or a damaged one is parsed again, never used.
        if entry["key"] == key and entry["check"] == _entry_check(key, entry["data"]):
            return _from_kept(json.loads(entry["data"]))
    except (OSError, ValueError, LookupError, TypeError, RecursionError, UnreadableSourceError):
        pass  # not kept yet, or not readable as kept: parse it
    from phase17.yamlio.strict import parse_strictly

    data = parse_strictly(text, path, line_offset)
    try:
        encoded = json.dumps(_to_kept(data), separators=(",", ":"))
        encoded = json.dumps({"key": key, "data": encoded, "check": _entry_check(key, encoded)})
    except _NotKept:
        return data  # a value JSON cannot carry back exactly (a date, bytes): parsed again next time
    try:
        safe_folder(kept.parent, cache_root())
        write_text_atomically(kept, encoded)
        from phase17.cache import prune

        prune(kept.parent)
    except (OSError, WriteError):  # (a cache folder linked out is not used)
        pass  # a read-only cache only costs speed
    return data


def _entry_check(key: str, data: str) -> str:
    return hashlib.sha256(f"{key}\0{data}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


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
    FIFOs and devices before reading a byte (safety/files.py)."""
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
