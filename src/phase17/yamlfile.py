"""The one home of pyyaml: strict, line-aware loading and atomic, order-keeping writing.

Loading uses the safe loader only, refuses aliases (no "billion laughs"), duplicate keys, deep nesting and
oversized files, and remembers the line of every mapping key so shape errors can say `path:line`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from phase17.errors import YamlFileError

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


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases, duplicate keys or unbounded nesting."""

    def __init__(self, stream: str, path: str, line_offset: int = 0) -> None:
        super().__init__(stream)
        self._path = path
        self._depth = 0
        self._offset = line_offset + 1  # marks are 0-based

    def _line(self, mark: yaml.Mark) -> int:
        return int(mark.line) + self._offset

    def _fail(self, mark: yaml.Mark | None, message: str) -> YamlFileError:
        line = self._line(mark) if mark is not None else self._offset
        return YamlFileError(f"{self._path}:{line}: {message}")

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise self._fail(event.start_mark, "YAML aliases (*name) are not allowed in phase17 files")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise self._fail(self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                                  f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        result = LineDict()
        result.line = self._line(node.start_mark)
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise self._fail(key_node.start_mark, f"key {key!r} must be a string")
            if key in result:
                raise self._fail(key_node.start_mark, f"duplicate key {key!r}")
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = self._line(key_node.start_mark)
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = self._line(node.start_mark)
        result.item_lines = [self._line(child.start_mark) for child in node.value]
        return result


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping
)
_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _StrictLoader.construct_sequence
)


def parse_yaml(text: str, path: str, line_offset: int = 0) -> Any:
    """Parse one YAML document strictly; every error is a YamlFileError starting with `path:line:`.

    `line_offset` shifts reported lines, for YAML embedded in a larger file (the pin's fenced block).
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_YAML_BYTES:
        raise YamlFileError(f"{path}:1: file is larger than {MAX_YAML_BYTES // 1024 // 1024} MiB")
    try:
        loader = _StrictLoader(text, path, line_offset)
    except yaml.reader.ReaderError as error:  # a character YAML forbids (NUL, other controls)
        line = text[: error.position].count("\n") + 1 + line_offset
        raise YamlFileError(f"{path}:{line}: character {error.character!r} is not allowed in YAML") from None
    try:
        return loader.get_single_data()
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1 + line_offset
        raise YamlFileError(f"{path}:{line}: character {error.character!r} is not allowed in YAML") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = (mark.line + 1 if mark else 0) + line_offset
        problem = error.problem or error.context or "malformed YAML"
        if error.context and error.problem and error.context_mark is not None:
            problem += f" ({error.context} at line {error.context_mark.line + 1 + line_offset})"
        raise YamlFileError(f"{path}:{line}: {problem}") from None
    except yaml.YAMLError as error:
        raise YamlFileError(f"{path}:{1 + line_offset}: {error}") from None
    finally:
        loader.dispose()


def read_yaml_file(path: Path, display: str | None = None) -> Any:
    """Read and strictly parse a UTF-8 YAML file; errors name the file (as `display`) and the line."""
    shown = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise YamlFileError(f"{shown}: file not found") from None
    except OSError as error:
        raise YamlFileError(f"{shown}: cannot read ({error.strerror})") from None
    if len(raw) > MAX_YAML_BYTES:
        raise YamlFileError(f"{shown}:1: file is larger than {MAX_YAML_BYTES // 1024 // 1024} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise YamlFileError(f"{shown}:{line}: not valid UTF-8 (byte {error.start})") from None
    return parse_yaml(text, shown)


class _Dumper(yaml.SafeDumper):
    """SafeDumper whose strings always load back the same (found by the property tests)."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    # PyYAML writes NEL and the Unicode line/paragraph separators raw in plain or single-quoted scalars and
    # reads them back as line breaks; the double-quoted style escapes them (\N, \L, \P).
    style = '"' if any(char in text for char in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def dump_yaml(data: Any) -> str:
    """Dump plain data in its own key order, unicode kept, wide lines unwrapped; load(dump(x)) == x for text."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


def write_text_atomically(path: Path, text: str) -> None:
    """Write through a temp file in the same folder, fsync, then rename: a reader sees old or new, never half.

    Raises OSError (disk full, read-only, permission) with the old file untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temp_name, path.stat().st_mode & 0o777)
        else:
            os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # Some filesystems refuse fsync on folders; the rename is still atomic.
    finally:
        os.close(descriptor)
