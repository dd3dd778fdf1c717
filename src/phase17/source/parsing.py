"""tree-sitter's one home: the Python grammar, the shipped queries, parses, and the text of a node.

Imported on first parse: a command that parses nothing never loads tree-sitter.
"""

from __future__ import annotations

import ast
import re
import time
import warnings
from collections.abc import Iterator
from functools import cache, lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING

from phase17.errors import Phase17Error

if TYPE_CHECKING:
    import tree_sitter


@lru_cache(maxsize=1)
def _language() -> tree_sitter.Language:
    import tree_sitter  # imported on first parse: commands that parse nothing never load it
    import tree_sitter_python

    return tree_sitter.Language(tree_sitter_python.language())


@cache
def load_query(name: str) -> tree_sitter.Query:
    """Compile a shipped .scm query; a broken query file is a packaging bug, so it raises as is."""
    import tree_sitter

    text = (files("phase17.source") / "queries" / f"{name}.scm").read_text(encoding="utf-8")
    return tree_sitter.Query(_language(), text)


def run_captures(query: tree_sitter.Query, node: tree_sitter.Node) -> dict[str, list[tree_sitter.Node]]:
    """Captures by name. The bindings moved captures from Query (<0.23) to QueryCursor (>=0.23); this absorbs it."""
    import tree_sitter

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


def identifiers_named(tree: tree_sitter.Tree, source: bytes, name: str) -> list[tree_sitter.Node]:
    """Every identifier node spelled `name` in `tree`, the parse of `source` (code only: comments and strings hold
    no identifiers), in order.

    Found where the bytes spell the name as a whole word, by asking the tree what stands there: a query would
    hand every identifier of the file to Python to compare, and most files hold thousands."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return []
    word = name.encode()
    found = []
    for match in re.finditer(rb"(?<![A-Za-z0-9_])" + word + rb"(?![A-Za-z0-9_])", source):
        node = tree.root_node.named_descendant_for_byte_range(match.start(), match.end())
        if node is not None and node.type == "identifier" and node.start_byte == match.start() and node.text == word:
            found.append(node)
    return found


# tree-sitter-python's scanner takes time quadratic in a run of comment lines that follows code (10,000 such lines
# parse in 3 s, 40,000 in 50 s; upstream knows it), so a file is parsed under a time bound and, past it, skipped
# with a line that says so. Real files are far from it: the pinned tree's largest parses in 10 ms.
PARSE_SECONDS = 10.0
_BOUNDED_FROM = 32 * 1024  # smaller files are parsed as they are (under a second even at their worst)


class ParseTooSlowError(Phase17Error):
    """The parser ran past PARSE_SECONDS on one file (the index reports the file as skipped; elsewhere, one line)."""


def parse_tree(source: bytes) -> tree_sitter.Tree:
    import tree_sitter

    parser = tree_sitter.Parser(_language())
    if len(source) < _BOUNDED_FROM:
        return parser.parse(source)
    deadline = time.monotonic() + PARSE_SECONDS
    try:
        # (the bound needs the source read in chunks: tree-sitter asks for progress only then)
        bounded = parser.parse(
            lambda offset, _: source[offset : offset + (1 << 20)],
            progress_callback=lambda *_: time.monotonic() > deadline,
        )
    except ValueError:  # "Parsing failed": the callback stopped it
        raise ParseTooSlowError(
            f"skipped: the Python parser took over {PARSE_SECONDS:g} s (a very long run of comment lines?)"
        ) from None
    # A tree read by chunks holds no source, and Node.text on it can crash the process (py-tree-sitter 0.26):
    # parsed again from the bytes, reusing every node of the first parse (as fast as one parse of a real file).
    return parser.parse(source, old_tree=bounded)


def node_text(node: tree_sitter.Node) -> str:
    """A node's source text (undecodable bytes replaced)."""
    return decode_text(node.text or b"")


def one_line(node: tree_sitter.Node) -> str:
    """A node's text on one line, its whitespace collapsed and none inside brackets (a wrapped condition or value
    reads as written)."""
    return re.sub(r"([(\[{])\s+|\s+([)\]}])", r"\1\2", " ".join(node_text(node).split()))


def if_branches(node: tree_sitter.Node) -> list[tuple[tree_sitter.Node, list[str]]]:
    """The blocks of an `if` statement, in order, each with the conditions under which it runs, one line each:
    the if's test; for an elif, `not (...)` of each earlier test, then its own; for the else, those negations
    alone. A test missing from a broken parse reads "?"."""
    condition = node.child_by_field_name("condition")
    test = one_line(condition) if condition is not None else "?"
    branches: list[tuple[tree_sitter.Node, list[str]]] = []
    consequence = node.child_by_field_name("consequence")
    if consequence is not None:
        branches.append((consequence, [test]))
    negated = [f"not ({test})"]
    for clause in node.children_by_field_name("alternative"):
        body = clause.child_by_field_name("consequence") or clause.child_by_field_name("body")
        if clause.type == "elif_clause":
            tested = clause.child_by_field_name("condition")
            other = one_line(tested) if tested is not None else "?"
            if body is not None:
                branches.append((body, [*negated, other]))
            negated.append(f"not ({other})")
        elif body is not None:
            branches.append((body, list(negated)))
    return branches


def parameter_names(function: tree_sitter.Node) -> list[str]:
    """The names of a function definition's parameters, in order (`self` and `cls` included; `*args` as `args`)."""
    parameters = function.child_by_field_name("parameters")
    names = []
    for parameter in parameters.named_children if parameters is not None else []:
        named = parameter if parameter.type == "identifier" else parameter.child_by_field_name("name")
        if named is None and parameter.named_children:
            named = parameter.named_children[0]
        if named is not None and named.type == "identifier":
            names.append(node_text(named))
    return names


def decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def string_value(text: str) -> str | None:
    """The value of a Python string literal as written (None when it is not one, or an f-string)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # upstream's own invalid escapes ("\(") are not ours to report
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def python_expression(text: str) -> ast.expr | None:
    """One expression's `ast`, for the small evaluators that read a literal or a gate; None when it is no
    expression, or nested too deeply for the parser (a 200,000-deep one raises MemoryError or RecursionError)."""
    try:
        return ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def descendants(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Every node below `node` (and `node`), with a list for a stack: deep code never exhausts Python's stack."""
    stack = [node]
    while stack:
        current = stack.pop()
        stack.extend(current.children)
        yield current


_IMPORTS = ("import_statement", "import_from_statement", "aliased_import", "dotted_name")


def in_import(node: tree_sitter.Node) -> bool:
    """Is `node` a name written in an import statement (`from x import y`), not a use of it?"""
    parent = node.parent
    while parent is not None and parent.type in _IMPORTS:
        if parent.type in ("import_statement", "import_from_statement"):
            return True
        parent = parent.parent
    return False
