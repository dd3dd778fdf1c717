"""PyYAML's strict loaders behind load.parse_yaml: imported only for a text not read before.

The safe loader only, with no aliases (no "billion laughs"), duplicate keys or deep nesting; every key and item
remembers its line so shape errors can say `path:line`. libyaml parses when PyYAML has it, and the pure-Python
loader gives any problem its exact words.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import yaml

from phase17.errors import InvalidFileError
from phase17.yamlio.lines import MAX_DEPTH, LineDict, LineList

_NEWLINE = re.compile("\n")


class _StrictChecks:
    """What both loaders refuse (duplicate keys, non-text keys, unreadable numbers), and lines as an editor counts
    them: YAML also breaks lines at U+2028, U+2029 and NEL, so a mark's line is worked out from its position."""

    def _setup(self, text: str, path: str, line_offset: int) -> None:
        self._path = path
        self._offset = line_offset + 1
        self._newlines = [match.start() for match in _NEWLINE.finditer(text)]  # where each line ends, scanned in C

    def _line(self, mark: yaml.Mark) -> int:
        return bisect.bisect_left(self._newlines, int(mark.index)) + self._offset

    def _fail(self, mark: yaml.Mark | None, message: str) -> InvalidFileError:
        line = self._line(mark) if mark is not None else self._offset
        return InvalidFileError(f"{self._path}:{line}: {message}")

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:
        result = LineDict()
        result.line = self._line(node.start_mark)
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[attr-defined]
            if not isinstance(key, str):
                raise self._fail(key_node.start_mark, f"key {key!r} must be a string")
            if key in result:
                raise self._fail(key_node.start_mark, f"duplicate key {key!r}")
            result[key] = self.construct_object(value_node, deep=True)  # type: ignore[attr-defined]
            result.key_lines[key] = self._line(key_node.start_mark)
        return result

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return int(yaml.SafeLoader.construct_yaml_int(self, node))  # type: ignore[arg-type]
        except ValueError:  # thousands of digits: Python refuses to read it, and so do we
            raise self._fail(node.start_mark, "a number too long to read") from None

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
        result = LineList(self.construct_object(child, deep=True) for child in node.value)  # type: ignore[attr-defined]
        result.line = self._line(node.start_mark)
        result.item_lines = [self._line(child.start_mark) for child in node.value]
        return result


class _StrictLoader(_StrictChecks, yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader without aliases, duplicate keys or unbounded nesting: it gives every error its exact words."""

    def __init__(self, stream: str, path: str, line_offset: int = 0) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._setup(stream, path, line_offset)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise self._fail(event.start_mark, "YAML aliases (*name) are not allowed in phase17 files")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise self._fail(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_FAST_LOADER_BASE: Any = getattr(yaml, "CSafeLoader", None)  # libyaml, when PyYAML was built with it


class _FastLoader(_StrictChecks, _FAST_LOADER_BASE or yaml.SafeLoader):  # type: ignore[misc]
    """libyaml's parser (ten times faster) with the same checks. It composes in C, so aliases and nesting are
    checked on the finished nodes; any problem at all is handed to _StrictLoader for its exact message."""

    def __init__(self, stream: str, path: str, line_offset: int = 0) -> None:
        _FAST_LOADER_BASE.__init__(self, stream)
        self._setup(stream, path, line_offset)


_loader: Any
for _loader in (_StrictLoader, _FastLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _loader.construct_mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _loader.construct_sequence)
    _loader.add_constructor("tag:yaml.org,2002:int", _loader.construct_yaml_int)


def _plain_tree(node: yaml.Node, seen: set[int], depth: int = 1) -> bool:
    """No node reached twice (an alias) and no deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH or id(node) in seen:
        return False
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        return all(
            _plain_tree(key, seen, depth + 1) and _plain_tree(value, seen, depth + 1) for key, value in node.value
        )
    if isinstance(node, yaml.SequenceNode):
        return all(_plain_tree(child, seen, depth + 1) for child in node.value)
    return True


def _fast_parse(text: str, path: str, line_offset: int) -> tuple[bool, Any]:
    """(True, data) when libyaml reads `text` with no problem; (False, None) to let _StrictLoader say what it is.

    Deep flow nesting (`[[[[...`) would recurse in C without a limit, so such text never reaches libyaml.
    """
    if _FAST_LOADER_BASE is None or text.count("[") + text.count("{") > 4 * MAX_DEPTH:
        return False, None
    loader = _FastLoader(text, path, line_offset)
    try:
        node = loader.get_single_node()
        if node is None or not _plain_tree(node, set()):
            return False, None
        return True, loader.construct_document(node)
    except (yaml.YAMLError, InvalidFileError):
        return False, None
    finally:
        loader.dispose()


def parse_strictly(text: str, path: str, line_offset: int = 0) -> Any:
    """Parse one YAML document strictly; every error is an InvalidFileError starting with `path:line:`.

    `line_offset` shifts reported lines, for YAML embedded in a larger file (the pin's fenced block).
    """
    parsed, data = _fast_parse(text, path, line_offset)
    if parsed:
        return data
    try:
        loader = _StrictLoader(text, path, line_offset)
    except yaml.reader.ReaderError as error:  # a character YAML forbids (NUL, other controls)
        raise _reader_error(error, text, path, line_offset) from None
    try:
        return loader.get_single_data()
    except yaml.reader.ReaderError as error:
        raise _reader_error(error, text, path, line_offset) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = (_editor_line(text, mark.index) if mark else 1) + line_offset
        problem = error.problem or error.context or "malformed YAML"
        if error.context and error.problem and error.context_mark is not None:
            problem += f" ({error.context} at line {_editor_line(text, error.context_mark.index) + line_offset})"
        raise InvalidFileError(f"{path}:{line}: {problem}") from None
    except yaml.YAMLError as error:
        raise InvalidFileError(f"{path}:{1 + line_offset}: {error}") from None
    finally:
        loader.dispose()


def _editor_line(text: str, index: int) -> int:
    """The 1-based line of character `index`, counting newlines only (not U+2028, NEL or a form feed)."""
    return text.count("\n", 0, max(index, 0)) + 1


def _reader_error(error: yaml.reader.ReaderError, text: str, path: str, line_offset: int) -> InvalidFileError:
    line = _editor_line(text, error.position) + line_offset
    code = error.character if isinstance(error.character, int) else ord(str(error.character)[:1] or "\0")
    return InvalidFileError(f"{path}:{line}: character U+{code:04X} is not allowed in YAML")
