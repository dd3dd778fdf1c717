"""A file's definitions as phase17 shows and checks them: each Symbol with its signature, first docstring line and
fingerprints, and the outline that nests them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phase17.source.fingerprints import FINGERPRINT_PREFIX, Fingerprinter
from phase17.source.parsing import decode_text, node_text, parse_tree, string_value
from phase17.source.sites import SymbolKind, assignment_site, definition_site, sites_and_nodes

if TYPE_CHECKING:
    import tree_sitter


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
    fingerprint: str  # ignores whitespace, comments and quote style (a reformat is not a change), keeps blocks
    scope: str = ""  # qualname of the enclosing class or function, "" at module level
    legacy_fingerprint: str = ""  # the same without block structure, as phase17 recorded it before
    logic_fingerprint: str = ""  # the same without docstrings: equal when only docstrings or comments changed
    opening_fingerprint: str = ""  # the same as it was recorded while the start of its class body counted

    def has_fingerprint(self, recorded: str) -> bool:
        """Is `recorded` this code's fingerprint? A record made before fingerprints kept blocks (no prefix) is
        compared the old way, so existing notes stay ok; `check --fix` rewrites it in the new form."""
        if recorded.startswith(FINGERPRINT_PREFIX):
            return recorded in (self.fingerprint, self.opening_fingerprint or self.fingerprint)
        return bool(self.legacy_fingerprint) and recorded == self.legacy_fingerprint

    @property
    def ref(self) -> str:
        return f"{self.path}::{self.qualname}"

    @property
    def name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]

    def to_record(self) -> list[object]:
        """Everything but the path, compactly: how the symbol index stores a file's definitions."""
        return [
            self.qualname,
            self.kind,
            self.start_line,
            self.def_line,
            self.end_line,
            self.start_byte,
            self.end_byte,
            self.signature,
            self.docstring,
            self.fingerprint,
            self.scope,
            self.legacy_fingerprint,
            self.logic_fingerprint,
            self.opening_fingerprint,
        ]

    @classmethod
    def from_record(cls, path: str, record: list[Any]) -> Symbol:
        return cls(path, *record)

    def to_data(self) -> dict[str, object]:
        """The JSON record of a definition (resolve --json, read --json)."""
        return {
            "path": self.path,
            "qualname": self.qualname,
            "ref": self.ref,
            "kind": self.kind,
            "start_line": self.start_line,
            "def_line": self.def_line,
            "end_line": self.end_line,
            "start_byte": self.start_byte,
            "end_byte": self.end_byte,
            "signature": self.signature,
            "docstring": self.docstring,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class OutlineNode:
    """A definition and the definitions nested in it."""

    symbol: Symbol
    children: tuple[OutlineNode, ...] = ()


def parse_definitions(source: bytes, path: str) -> list[Symbol]:
    """Every definition in `source`, in source order. Never raises on bad source: it keeps what tree-sitter recovers."""
    tree = parse_tree(source)
    fingerprints = Fingerprinter(tree.root_node)
    symbols = []
    for site, node in sites_and_nodes(tree, source, definition_site, assignment_site):
        if site.kind in ("assignment", "attribute"):
            first_line = node_text(node).splitlines()[0] if node.end_byte > node.start_byte else site.qualname
            signature, docstring = first_line.strip()[:160], None
        else:
            body = node.child_by_field_name("body")
            signature, docstring = _signature(node, body, source), _docstring(body)
        symbols.append(
            Symbol(
                path=path,
                qualname=site.qualname,
                kind=site.kind,
                start_line=site.start_line,
                def_line=site.def_line,
                end_line=site.end_line,
                start_byte=site.start_byte,
                end_byte=site.end_byte,
                signature=signature,
                docstring=docstring,
                fingerprint=fingerprints.of(site.start_byte, site.end_byte),
                scope=site.scope,
                legacy_fingerprint=fingerprints.of(site.start_byte, site.end_byte, blocks=False),
                logic_fingerprint=fingerprints.of(site.start_byte, site.end_byte, docstrings=False),
                opening_fingerprint=fingerprints.of(site.start_byte, site.end_byte, opening=True) if site.scope else "",
            )
        )
    return symbols


def _signature(node: tree_sitter.Node, body: tree_sitter.Node | None, source: bytes) -> str:
    """The def or class line up to its colon, comments dropped and a wrapped signature joined onto one line."""
    end = body.start_byte if body is not None else node.end_byte
    pieces: list[str] = []
    cursor = node.start_byte
    for comment in _descendants_of_type(node, "comment", end):
        pieces.append(decode_text(source[cursor : comment.start_byte]))
        cursor = comment.end_byte
    pieces.append(decode_text(source[cursor:end]))
    text = " ".join(line.strip() for line in "".join(pieces).splitlines())
    text = re.sub(r"([(\[])\s+", r"\1", text)
    text = re.sub(r",?\s+([)\]])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def _descendants_of_type(node: tree_sitter.Node, kind: str, before: int) -> Iterator[tree_sitter.Node]:
    """Nodes of `kind` under `node` that start before `before`, in order; a loop, not recursion, so that valid
    but deeply nested code (a 3,000-term default value) never exhausts Python's stack."""
    stack = list(reversed(node.children))
    while stack:
        child = stack.pop()
        if child.start_byte >= before:
            continue
        if child.type == kind:
            yield child
        else:
            stack.extend(reversed(child.children))


def _docstring(body: tree_sitter.Node | None) -> str | None:
    if body is None:
        return None
    statements = [child for child in body.named_children if child.type != "comment"]
    if not statements or statements[0].type != "expression_statement" or statements[0].named_child_count != 1:
        return None
    string = statements[0].named_children[0]
    if string.type != "string":
        return None
    value = string_value(node_text(string))
    if value is None:
        return None
    lines = [line.strip() for line in value.strip().splitlines() if line.strip()]
    return lines[0] if lines else None


def build_outline(symbols: Sequence[Symbol]) -> list[OutlineNode]:
    """Nest a file's definitions by their byte ranges: methods under classes, inner defs under functions."""

    def build(items: list[Symbol]) -> list[OutlineNode]:
        nodes: list[OutlineNode] = []
        index = 0
        while index < len(items):
            head = items[index]
            inner: list[Symbol] = []
            index += 1
            while (
                index < len(items)
                and items[index].start_byte < head.end_byte
                and head.kind not in ("assignment", "attribute")
            ):
                inner.append(items[index])
                index += 1
            nodes.append(OutlineNode(symbol=head, children=tuple(build(inner))))
        return nodes

    return build(sorted(symbols, key=lambda symbol: (symbol.start_byte, -symbol.end_byte)))
