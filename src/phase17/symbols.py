"""Find Python definitions by qualified name with tree-sitter (its one home): never by a stored line number.

A definition is a class, a def (at any depth, so `function.inner` works), or a name assigned at module or class
level, including inside `if`/`try`/`with` blocks, which belong to the enclosing scope. Lines are 1-based.
"""

from __future__ import annotations

import ast
import bisect
import hashlib
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

import tree_sitter
import tree_sitter_python

from phase17.errors import SymbolNotFoundError, UnreadableSourceError

SymbolKind = Literal[
    "class", "function", "method", "property", "classmethod", "staticmethod", "async function", "assignment", "attribute"
]
MAX_SOURCE_BYTES = 8 * 1024 * 1024  # larger "Python" files are generated data, not reading material
_PROPERTY_DECORATORS = re.compile(r"^(?:[\w.]*\.)?(?:property|cached_property)$|^\w+\.(?:setter|getter|deleter)$")
_SKIPPED_DIRECTORIES = {".git", "__pycache__", ".mypy_cache", ".pytest_cache", "node_modules"}


@dataclass(frozen=True)
class Symbol:
    """One definition as it is now: where it is, what it is, and a fingerprint of its code."""

    path: str  # posix path relative to the upstream root
    qualname: str
    kind: SymbolKind
    start_line: int  # the first decorator's line, else the def line
    def_line: int
    end_line: int
    start_byte: int
    end_byte: int
    signature: str
    docstring: str | None  # its first line
    fingerprint: str  # ignores whitespace, comments and quote style: a reformat is not a change
    scope: str = ""  # qualname of the enclosing class or function, "" at module level

    @property
    def ref(self) -> str:
        return f"{self.path}::{self.qualname}"

    @property
    def name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]

    @property
    def line_count(self) -> int:
        return self.end_line - self.start_line + 1


@dataclass(frozen=True)
class OutlineNode:
    """A definition and the definitions nested in it."""

    symbol: Symbol
    children: tuple[OutlineNode, ...] = ()


@dataclass(frozen=True)
class Unreadable:
    """A file that was passed over, and why (reported once, never fatal)."""

    path: str
    reason: str


@dataclass
class ScanResult:
    """Definitions found over several files, and the files that could not be read."""

    symbols: list[Symbol] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)


# ---------------------------------------------------------------- tree-sitter, in one place


@lru_cache(maxsize=1)
def _language() -> tree_sitter.Language:
    return tree_sitter.Language(tree_sitter_python.language())


@lru_cache(maxsize=None)
def load_query(name: str) -> tree_sitter.Query:
    """Compile a shipped .scm query; a broken query file is a packaging bug, so it raises as is."""
    text = (files("phase17") / "queries" / f"{name}.scm").read_text(encoding="utf-8")
    return tree_sitter.Query(_language(), text)


def _run_captures(query: tree_sitter.Query, node: tree_sitter.Node) -> dict[str, list[tree_sitter.Node]]:
    """Captures by name. The bindings moved captures from Query (<0.23) to QueryCursor (>=0.23); this absorbs it."""
    cursor_type = getattr(tree_sitter, "QueryCursor", None)
    if cursor_type is not None:
        return dict(cursor_type(query).captures(node))
    captured = query.captures(node)  # type: ignore[attr-defined]
    if isinstance(captured, dict):
        return captured
    grouped: dict[str, list[tree_sitter.Node]] = {}
    for found, name in captured:
        grouped.setdefault(name, []).append(found)
    return grouped


def _parse(source: bytes) -> tree_sitter.Tree:
    return tree_sitter.Parser(_language()).parse(source)


# ---------------------------------------------------------------- one file


def parse_definitions(source: bytes, path: str) -> list[Symbol]:
    """Every definition in `source`, in source order. Never raises on bad source: it keeps what tree-sitter recovers."""
    tree = _parse(source)
    captures = _run_captures(load_query("python-definitions"), tree.root_node)
    fingerprints = _Fingerprinter(tree.root_node)
    found: dict[tuple[int, str], Symbol] = {}
    for capture in ("definition.class", "definition.function"):
        for node in captures.get(capture, []):
            symbol = _definition_symbol(node, source, path, fingerprints)
            if symbol is not None:
                found[(symbol.start_byte, symbol.qualname)] = symbol
    for name_node in captures.get("name.definition.assignment", []):
        symbol = _assignment_symbol(name_node, path, fingerprints)
        if symbol is not None:
            found.setdefault((symbol.start_byte, symbol.qualname), symbol)
    return sorted(found.values(), key=lambda symbol: (symbol.start_byte, symbol.def_line, symbol.qualname))


def _scope_of(node: tree_sitter.Node) -> tuple[list[tuple[str, str]], bool]:
    """The enclosing (kind, name) pairs, outermost first, and whether node sits inside a function body."""
    chain: list[tuple[str, str]] = []
    in_function = False
    parent = node.parent
    while parent is not None:
        if parent.type in ("class_definition", "function_definition"):
            name = parent.child_by_field_name("name")
            chain.append((parent.type, _text(name) if name is not None else "?"))
            in_function = in_function or parent.type == "function_definition"
        parent = parent.parent
    chain.reverse()
    return chain, in_function


def _definition_symbol(node: tree_sitter.Node, source: bytes, path: str, fingerprints: _Fingerprinter) -> Symbol | None:
    name_node = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if name_node is None or name_node.is_missing:
        return None
    chain, _ = _scope_of(node)
    scope = ".".join(name for _, name in chain)
    name = _text(name_node)
    outer = node.parent if node.parent is not None and node.parent.type == "decorated_definition" else node
    decorators = [_text(child).lstrip("@").strip() for child in outer.children if child.type == "decorator"]
    kind = _kind_of(node, decorators, in_class=bool(chain) and chain[-1][0] == "class_definition")
    end_row = _last_token_row(node)
    return Symbol(
        path=path,
        qualname=f"{scope}.{name}" if scope else name,
        kind=kind,
        start_line=outer.start_point.row + 1,
        def_line=node.start_point.row + 1,
        end_line=end_row + 1,
        start_byte=outer.start_byte,
        end_byte=outer.end_byte,
        signature=_signature(node, body, source),
        docstring=_docstring(body),
        fingerprint=fingerprints.of(outer.start_byte, outer.end_byte),
        scope=scope,
    )


def _kind_of(node: tree_sitter.Node, decorators: list[str], *, in_class: bool) -> SymbolKind:
    if node.type == "class_definition":
        return "class"
    is_async = any(child.type == "async" for child in node.children)
    if not in_class:
        return "async function" if is_async else "function"
    for decorator in decorators:
        bare = decorator.split("(", 1)[0].strip()
        if bare in ("classmethod", "builtins.classmethod"):
            return "classmethod"
        if bare in ("staticmethod", "builtins.staticmethod"):
            return "staticmethod"
        if _PROPERTY_DECORATORS.match(bare):
            return "property"
    return "method"


def _assignment_symbol(name_node: tree_sitter.Node, path: str, fingerprints: _Fingerprinter) -> Symbol | None:
    statement = name_node.parent
    while statement is not None and statement.type in ("assignment", "pattern_list", "tuple_pattern"):
        statement = statement.parent
    if statement is None or statement.type != "expression_statement":
        return None  # an assignment inside an expression or a for/with target: not a definition
    chain, in_function = _scope_of(statement)
    if in_function:
        return None  # locals are not definitions a reader looks up
    scope = ".".join(name for _, name in chain)
    name = _text(name_node)
    first_line = _text(statement).splitlines()[0] if statement.end_byte > statement.start_byte else name
    return Symbol(
        path=path,
        qualname=f"{scope}.{name}" if scope else name,
        kind="attribute" if chain else "assignment",
        start_line=statement.start_point.row + 1,
        def_line=statement.start_point.row + 1,
        end_line=_last_token_row(statement) + 1,
        start_byte=statement.start_byte,
        end_byte=statement.end_byte,
        signature=first_line.strip()[:160],
        docstring=None,
        fingerprint=fingerprints.of(statement.start_byte, statement.end_byte),
        scope=scope,
    )


def _last_token_row(node: tree_sitter.Node) -> int:
    """The row of the last token that is not a comment: tree-sitter lets a block swallow trailing comments."""
    current = node
    while current.child_count:
        children = [child for child in current.children if child.type != "comment" and child.end_byte > child.start_byte]
        if not children:
            break
        current = children[-1]
    row = current.end_point.row
    if current.end_point.column == 0 and row > current.start_point.row:
        row -= 1  # a token that ends with its newline belongs to the line before
    return max(row, node.start_point.row)


def _signature(node: tree_sitter.Node, body: tree_sitter.Node | None, source: bytes) -> str:
    """The def or class line up to its colon, comments dropped and a wrapped signature joined onto one line."""
    end = body.start_byte if body is not None else node.end_byte
    pieces: list[str] = []
    cursor = node.start_byte
    for comment in _descendants_of_type(node, "comment", end):
        pieces.append(_decode(source[cursor : comment.start_byte]))
        cursor = comment.end_byte
    pieces.append(_decode(source[cursor:end]))
    text = " ".join(line.strip() for line in "".join(pieces).splitlines())
    text = re.sub(r"([(\[])\s+", r"\1", text)
    text = re.sub(r",?\s+([)\]])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def _descendants_of_type(node: tree_sitter.Node, kind: str, before: int) -> Iterator[tree_sitter.Node]:
    for child in node.children:
        if child.start_byte >= before:
            return
        if child.type == kind:
            yield child
        else:
            yield from _descendants_of_type(child, kind, before)


def _docstring(body: tree_sitter.Node | None) -> str | None:
    if body is None:
        return None
    statements = [child for child in body.named_children if child.type != "comment"]
    if not statements or statements[0].type != "expression_statement" or statements[0].named_child_count != 1:
        return None
    string = statements[0].named_children[0]
    if string.type != "string":
        return None
    value = _string_value(_text(string))
    if value is None:
        return None
    lines = [line.strip() for line in value.strip().splitlines() if line.strip()]
    return lines[0] if lines else None


def _string_value(text: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # upstream's own invalid escapes ("\(") are not ours to report
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


class _Fingerprinter:
    """Fingerprints of byte ranges of one parsed file, from one token walk (definitions nest; tokens are shared).

    Whitespace, comments, trailing commas and quote style do not count: a reformat is not a change.
    """

    def __init__(self, root: tree_sitter.Node) -> None:
        self._starts: list[int] = []
        self._tokens: list[str] = []
        cursor = root.walk()
        while True:
            node = cursor.node
            assert node is not None
            leaf = node.type in ("comment", "string") or node.child_count == 0
            if leaf and node.type != "comment":
                self._starts.append(node.start_byte)
                self._tokens.append(_normalized_token(node))
            if not leaf and cursor.goto_first_child():
                continue
            while not cursor.goto_next_sibling():
                if not cursor.goto_parent():
                    return

    def of(self, start_byte: int, end_byte: int) -> str:
        low = bisect.bisect_left(self._starts, start_byte)
        high = bisect.bisect_left(self._starts, end_byte)
        tokens = self._tokens[low:high]
        kept = [
            token
            for index, token in enumerate(tokens)
            if not (token == "," and index + 1 < len(tokens) and tokens[index + 1] in (")", "]", "}"))  # a "magic trailing comma"
        ]
        return hashlib.sha256("\x1f".join(kept).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _normalized_token(node: tree_sitter.Node) -> str:
    text = _text(node)
    if node.type == "string" and not re.match(r"^[A-Za-z]*[fF]", text):
        value = _string_value(text)
        if value is not None:
            return repr(value)
    return text


def _text(node: tree_sitter.Node) -> str:
    return _decode(node.text or b"")


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- outline


def build_outline(symbols: Sequence[Symbol]) -> list[OutlineNode]:
    """Nest a file's definitions by their byte ranges: methods under classes, inner defs under functions."""

    def build(items: list[Symbol]) -> list[OutlineNode]:
        nodes: list[OutlineNode] = []
        index = 0
        while index < len(items):
            head = items[index]
            inner: list[Symbol] = []
            index += 1
            while index < len(items) and items[index].start_byte < head.end_byte and head.kind not in ("assignment", "attribute"):
                inner.append(items[index])
                index += 1
            nodes.append(OutlineNode(symbol=head, children=tuple(build(inner))))
        return nodes

    return build(sorted(symbols, key=lambda symbol: (symbol.start_byte, -symbol.end_byte)))


# ---------------------------------------------------------------- files and trees


def read_source(path: Path) -> bytes:
    """The bytes of a Python file, or a Phase17Error saying why it cannot be read as one."""
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise UnreadableSourceError(str(path), f"larger than {MAX_SOURCE_BYTES // 1024 // 1024} MiB, not read")
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableSourceError(str(path), f"cannot read ({error.strerror})") from None
    if b"\0" in data:
        raise UnreadableSourceError(str(path), "binary content (NUL bytes), not Python source")
    return data


@lru_cache(maxsize=256)
def _cached_definitions(path: str, relative: str, size: int, mtime_ns: int, inode: int) -> tuple[Symbol, ...]:
    return tuple(parse_definitions(read_source(Path(path)), relative))


def file_definitions(upstream: Path, relative: str) -> list[Symbol]:
    """The definitions of one file under upstream/, by its path relative to upstream/ (cached on size, mtime, inode).

    The inode is in the key because a swapped-in tree can hold a file of the same size and mtime.
    """
    path = _inside(upstream, relative)
    try:
        status = path.stat()
    except FileNotFoundError:
        raise SymbolNotFoundError(f"{relative}: no such file in {upstream}") from None
    if not path.is_file():
        raise SymbolNotFoundError(f"{relative}: not a file in {upstream}")
    return list(_cached_definitions(str(path), relative, status.st_size, status.st_mtime_ns, status.st_ino))


def _inside(upstream: Path, relative: str) -> Path:
    """upstream/relative, refusing paths and symlinks that lead outside upstream/."""
    root = upstream.resolve()
    path = (upstream / relative).resolve()
    if path != root and root not in path.parents:
        raise UnreadableSourceError(relative, "symlink out of upstream/, not followed")
    return upstream / relative


def python_files(upstream: Path, under: str = "") -> Iterator[str]:
    """Paths (relative, posix, sorted) of the .py files below upstream/under, never following symlinks out."""
    start = upstream / under if under else upstream
    if start.is_file():
        yield under
        return
    for folder, folders, names in os.walk(start):
        folders[:] = sorted(name for name in folders if name not in _SKIPPED_DIRECTORIES)
        for name in sorted(names):
            if name.endswith(".py"):  # links out of upstream/ are yielded too, and refused when read
                yield (Path(folder) / name).relative_to(upstream).as_posix()


def scan_definitions(upstream: Path, paths: Iterable[str], must_contain: Sequence[bytes] = ()) -> ScanResult:
    """Definitions of many files; a file lacking any of `must_contain` is skipped unparsed (a cheap pre-filter)."""
    result = ScanResult()
    root = upstream.resolve()
    for relative in paths:
        full = upstream / relative
        if full.is_symlink() and root not in full.resolve().parents:
            result.unreadable.append(Unreadable(relative, "symlink out of upstream/, not followed"))
            continue
        if must_contain:
            try:
                raw = full.read_bytes()
            except OSError as error:
                result.unreadable.append(Unreadable(relative, error.strerror or "unreadable"))
                continue
            if not all(needle in raw for needle in must_contain):
                continue
        try:
            result.symbols.extend(file_definitions(upstream, relative))
        except UnreadableSourceError as error:
            result.unreadable.append(Unreadable(relative, error.reason))
    return result


# ---------------------------------------------------------------- references


@dataclass(frozen=True)
class Ref:
    """A reference as a reader writes it: `path::qualname` or a bare `qualname`."""

    qualname: str
    path: str | None = None

    def __str__(self) -> str:
        return f"{self.path}::{self.qualname}" if self.path else self.qualname


_QUALNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def parse_ref(text: str) -> Ref:
    """Split `path::qualname` (pytest style) or take a bare qualname; reject anything else with a hint."""
    text = text.strip()
    path, separator, qualname = text.rpartition("::")
    if not separator:
        path, qualname = "", text
    path = path.strip().lstrip("./") if path.startswith("./") else path.strip()
    if not _QUALNAME.match(qualname):
        raise SymbolNotFoundError(
            f"{text!r} is not a symbol reference; write Class.method or path/to/file.py::Class.method."
        )
    return Ref(qualname=qualname, path=path or None)


def find_symbol(upstream: Path, ref: Ref, within: Sequence[str] = ()) -> ScanResult:
    """Every definition named `ref`: in its file, else in `within` (files or folders), else across upstream/."""
    if ref.path:
        paths: Iterable[str] = [ref.path] if (upstream / ref.path).is_file() else python_files(upstream, ref.path)
        if not (upstream / ref.path).exists():
            raise SymbolNotFoundError(f"{ref.path}: no such file or folder in {upstream}")
    elif within:
        paths = [path for place in within for path in python_files(upstream, place)]
    else:
        paths = python_files(upstream)
    needles = tuple(part.encode() for part in set(ref.qualname.split(".")))
    scan = scan_definitions(upstream, paths, must_contain=needles)
    scan.symbols = [symbol for symbol in scan.symbols if symbol.qualname == ref.qualname]
    return scan


def find_symbol_near(upstream: Path, ref: Ref, near: Sequence[str]) -> ScanResult:
    """Every definition named `ref`, looked up in `near` first and across upstream/ only if none is there."""
    if ref.path or not near:
        return find_symbol(upstream, ref)
    nearby = find_symbol(upstream, ref, within=near)
    return nearby if nearby.symbols else find_symbol(upstream, ref)


def source_text(upstream: Path, relative: str) -> str:
    """A whole file under upstream/ as text (undecodable bytes replaced), with read_source's guards."""
    return _decode(read_source(_inside(upstream, relative)))


def source_lines(upstream: Path, symbol: Symbol) -> list[str]:
    """The lines start_line..end_line of a symbol, as text (undecodable bytes replaced)."""
    lines = source_text(upstream, symbol.path).split("\n")
    return [line.rstrip("\r") for line in lines[symbol.start_line - 1 : symbol.end_line]]
