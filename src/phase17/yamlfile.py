"""The one home of YAML: strict, line-aware loading (PyYAML) and comment-keeping, atomic writing (ruamel.yaml).

Loading uses PyYAML's safe loader only, refuses aliases (no "billion laughs"), duplicate keys, deep nesting and
oversized files, and remembers the line of every key and item so shape errors can say `path:line`. Writing goes
through ruamel.yaml's round-trip mode: a file the reader edited by hand keeps its comments, key order and quoting,
and only the values that changed are rewritten (issue 14), the way pre-commit's autoupdate rewrites only `rev:`.
"""

from __future__ import annotations

import bisect
import io
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from phase17.errors import InvalidFileError

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
        except ValueError:  # thousands of digits: Python refuses to read it, and so do we (issue 15)
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


def parse_yaml(text: str, path: str, line_offset: int = 0) -> Any:
    """Parse one YAML document strictly; every error is an InvalidFileError starting with `path:line:`.

    `line_offset` shifts reported lines, for YAML embedded in a larger file (the pin's fenced block).
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_YAML_BYTES:
        raise InvalidFileError(f"{path}:1: file is larger than {MAX_YAML_BYTES // 1024 // 1024} MiB")
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


def read_yaml_text(path: Path, shown: str) -> str:
    """A YAML file's text, refusing oversized and non-UTF-8 files with `shown:line:`, and links out of its folder,
    FIFOs and devices before reading a byte (safefiles)."""
    from phase17.errors import UnreadableSourceError
    from phase17.safefiles import read_limited

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


def write_text_atomically(path: Path, text: str) -> None:
    """Write through a temp file in the same folder, fsync, then rename: a reader sees old or new, never half.

    Raises OSError (disk full, read-only, permission) with the old file untouched. A symlink at `path` is
    replaced by the new file, never written through.
    """
    write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """write_text_atomically for bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        mode = path.lstat().st_mode & 0o777 if path.exists() and not path.is_symlink() else 0o644
        os.chmod(temp_name, mode)
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
