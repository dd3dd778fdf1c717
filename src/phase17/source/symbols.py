"""Python definitions read with tree-sitter (its one home), and the references readers write to name them.

A definition is a class, a def (at any depth, so `function.inner` works), or a name bound by an assignment at
module or class level (unpacking targets and `type` aliases included), also inside `if`/`try`/`with` blocks,
which belong to the enclosing scope. Lines are 1-based. Nothing here reads files: see sourcetree.
"""

from __future__ import annotations

import ast
import bisect
import hashlib
import operator
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

if TYPE_CHECKING:
    import tree_sitter

FINGERPRINT_PREFIX = "b:"  # fingerprints that keep the block structure (issue 15: indentation is syntax)
SymbolKind = Literal[
    "class",
    "function",
    "method",
    "property",
    "classmethod",
    "staticmethod",
    "async function",
    "assignment",
    "attribute",
]
_PROPERTY_DECORATORS = re.compile(r"^(?:[\w.]*\.)?(?:property|cached_property)$|^\w+\.(?:setter|getter|deleter)$")
_BINDING_PATTERNS = ("pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern", "parenthesized_expression")


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

    def has_fingerprint(self, recorded: str) -> bool:
        """Is `recorded` this code's fingerprint? A record made before fingerprints kept blocks (no prefix) is
        compared the old way, so existing notes stay ok; `check --fix` rewrites it in the new form."""
        if recorded.startswith(FINGERPRINT_PREFIX):
            return recorded == self.fingerprint
        return bool(self.legacy_fingerprint) and recorded == self.legacy_fingerprint

    @property
    def ref(self) -> str:
        return f"{self.path}::{self.qualname}"

    @property
    def name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]

    @property
    def line_count(self) -> int:
        return self.end_line - self.start_line + 1

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


# ---------------------------------------------------------------- tree-sitter, in one place


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


def _run_captures(query: tree_sitter.Query, node: tree_sitter.Node) -> dict[str, list[tree_sitter.Node]]:
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


def identifiers_named(tree: tree_sitter.Tree, name: str) -> list[tree_sitter.Node]:
    """Every identifier node spelled `name` (code only: comments and strings hold no identifiers), in order."""
    import tree_sitter

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return []
    query = _identifier_query(name)
    cursor_type = getattr(tree_sitter, "QueryCursor", None)
    captured = cursor_type(query).captures(tree.root_node) if cursor_type else query.captures(tree.root_node)  # type: ignore[attr-defined]
    nodes = captured.get("name", []) if isinstance(captured, dict) else [node for node, _ in captured]
    return sorted(
        (node for node in nodes if node.text == name.encode()),  # the predicate again, for older bindings
        key=lambda node: node.start_byte,
    )


@lru_cache(maxsize=32)
def _identifier_query(name: str) -> tree_sitter.Query:
    import tree_sitter

    return tree_sitter.Query(_language(), f'((identifier) @name (#eq? @name "{name}"))')


def parse_tree(source: bytes) -> tree_sitter.Tree:
    import tree_sitter

    return tree_sitter.Parser(_language()).parse(source)


# ---------------------------------------------------------------- one file


@dataclass(frozen=True)
class Site:
    """Where a definition is, without its signature, docstring or fingerprint: what the symbol index keeps.

    A first pass finds every site (cheap); a Symbol's text-derived fields are computed only for the sites a
    command shows or checks (issue 12).
    """

    qualname: str
    kind: SymbolKind
    start_line: int
    def_line: int
    end_line: int
    start_byte: int
    end_byte: int
    scope: str


def definition_sites(source: bytes, tree: tree_sitter.Tree | None = None) -> list[Site]:
    """Every definition in `source`, in source order: names, kinds and lines only (`tree`: its parse, if made)."""
    tree = tree if tree is not None else parse_tree(source)
    return [site for site, _ in _sites(tree, source, _definition_site, _assignment_site)]


class SiteName(NamedTuple):
    """A definition's qualified name and first line: what the symbol index keeps of it. Which files hold a name
    is what a whole-tree lookup asks; the few files found are then parsed whole (issue 12: names first)."""

    qualname: str
    start_line: int
    def_line: int
    start_byte: int


def definition_names(source: bytes, tree: tree_sitter.Tree | None = None) -> list[SiteName]:
    """definition_sites' qualified names and first lines, in the same order, without kinds or last lines."""
    tree = tree if tree is not None else parse_tree(source)
    return [site for site, _ in _sites(tree, source, _named_definition, _named_assignment)]


def _named_definition(node: tree_sitter.Node, qualname: str, scope: str, *, in_class: bool) -> SiteName:
    outer = _decorated(node)
    return SiteName(qualname, outer.start_point.row + 1, node.start_point.row + 1, outer.start_byte)


def _named_assignment(statement: tree_sitter.Node, qualname: str, scope: str, *, in_class: bool) -> SiteName:
    row = statement.start_point.row + 1
    return SiteName(qualname, row, row, statement.start_byte)


def parse_definitions(source: bytes, path: str) -> list[Symbol]:
    """Every definition in `source`, in source order. Never raises on bad source: it keeps what tree-sitter recovers."""
    tree = parse_tree(source)
    fingerprints = _Fingerprinter(tree.root_node)
    symbols = []
    for site, node in _sites(tree, source, _definition_site, _assignment_site):
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
            )
        )
    return symbols


_AnySite = TypeVar("_AnySite", "Site", SiteName)


def _sites(
    tree: tree_sitter.Tree,
    source: bytes,
    definition_site: Callable[..., _AnySite],
    assignment_site: Callable[..., _AnySite],
) -> list[tuple[_AnySite, tree_sitter.Node]]:
    """Each definition's site (made by `definition_site` or `assignment_site`: a Site, or a SiteName) and its node
    (the class or def, or the assignment statement), in source order."""
    root = tree.root_node
    recovered = root.has_error or root.type != "module"  # an ERROR root does not always say has_error
    found = (_sites_by_query if recovered else _sites_in_blocks)(root, source, definition_site, assignment_site)
    return sorted(found.values(), key=lambda item: (item[0].start_byte, item[0].def_line, item[0].qualname))


# Sites by (first byte, qualified name): an assignment binding one name twice (`a = a = 1`) is one site.
_Found = dict[tuple[int, str], tuple[_AnySite, "tree_sitter.Node"]]

# What holds statements in a tree without errors: a definition or an assignment is a statement, so it is in one
# of these (or in a class or function body, walked apart), never inside an expression.
_STATEMENT_HOLDERS = frozenset(
    {
        "module",
        "block",
        "decorated_definition",
        "if_statement",
        "elif_clause",
        "else_clause",
        "for_statement",
        "while_statement",
        "try_statement",
        "except_clause",
        "except_group_clause",
        "finally_clause",
        "with_statement",
        "match_statement",
        "case_clause",
    }
)


# The words `def` and `class` (\b on both sides), each written to begin with its letters so that re can look
# for them as plain text first: twice as fast as \b(?:def|class)\b over every function body.
_DEF_WORD = re.compile(rb"def(?!\w)(?<!\wdef)")
_CLASS_WORD = re.compile(rb"class(?!\w)(?<!\wclass)")


def _sites_in_blocks(
    root: tree_sitter.Node,
    source: bytes,
    definition_site: Callable[..., _AnySite],
    assignment_site: Callable[..., _AnySite],
) -> _Found[_AnySite]:
    """The sites of a tree without errors, found by walking statements only (never an expression: five times
    faster than the query, which visits every node), each scope carried down the walk. A function body is walked
    only if its text has the word `def` or `class`; assignments in it are locals, not definitions."""
    def_word, class_word = _DEF_WORD.search, _CLASS_WORD.search
    found: _Found[_AnySite] = {}
    holders = _STATEMENT_HOLDERS
    # (a statement holder, its scope, whether a class holds it directly, whether any definition holds it,
    # whether it is outside every function)
    stack: list[tuple[tree_sitter.Node, str, bool, bool, bool]] = [(root, "", False, False, True)]
    while stack:
        node, scope, in_class, nested, outside_functions = stack.pop()
        for child in node.children:
            kind = child.type
            if kind in holders:
                stack.append((child, scope, in_class, nested, outside_functions))
            elif kind == "class_definition" or kind == "function_definition":
                name_field = child.child_by_field_name("name")
                qualname = _qualified(scope, node_text(name_field) if name_field is not None else "?")
                if name_field is not None and not name_field.is_missing:
                    site = definition_site(child, qualname, scope, in_class=in_class)
                    found[(site.start_byte, site.qualname)] = (site, child)
                body = child.child_by_field_name("body")
                if body is None:
                    continue
                if kind == "class_definition":
                    stack.append((body, qualname, True, True, outside_functions))
                elif def_word(source, body.start_byte, body.end_byte) or class_word(
                    source, body.start_byte, body.end_byte
                ):
                    stack.append((body, qualname, False, True, False))
            elif not outside_functions:
                continue  # a local: not a definition a reader looks up
            elif kind == "expression_statement" or kind == "type_alias_statement":
                for name_node in _assigned_names(child):
                    site = assignment_site(child, _qualified(scope, node_text(name_node)), scope, in_class=nested)
                    found.setdefault((site.start_byte, site.qualname), (site, child))
    return found


def _assigned_names(statement: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The names an expression statement assigns (`a = b = 1`, `x, y = pair`, `n: int = 0`), or the alias a type
    alias statement names; nothing for any other statement."""
    if statement.type == "type_alias_statement":
        left = statement.child_by_field_name("left")
        alias = left.named_children[0] if left is not None and left.named_children else None
        if left is not None and left.type == "type" and alias is not None and alias.type == "identifier":
            return [alias]
        return []
    return [
        name
        for assignment in statement.named_children
        for left in _chained_targets(assignment)
        for name in _bound_names(left)
    ]


def _sites_by_query(
    root: tree_sitter.Node,
    source: bytes,
    definition_site: Callable[..., _AnySite],
    assignment_site: Callable[..., _AnySite],
) -> _Found[_AnySite]:
    """The same as _sites_in_blocks for a tree with errors, where recovery can leave a definition anywhere: the
    query finds it at any depth, and scopes come from nesting byte ranges with a stack (one pass, no parents)."""
    definitions, statements = _found_by_query(root)
    events: list[tuple[int, int, int, tree_sitter.Node]] = [
        (node.start_byte, -node.end_byte, 0, node) for node in definitions
    ]
    events += [(statement.start_byte, -statement.end_byte, 1, statement) for statement, _ in statements.values()]
    events.sort(key=_EVENT_ORDER)
    # The enclosing definitions: (end_byte, is_class, the scope inside it, whether a function is among them).
    stack: list[tuple[int, bool, str, bool]] = []
    found: _Found[_AnySite] = {}
    for start, _, is_statement, node in events:
        while stack and stack[-1][0] <= start:
            stack.pop()
        scope, in_function = (stack[-1][2], stack[-1][3]) if stack else ("", False)
        if is_statement:
            if not in_function:  # locals are not definitions a reader looks up
                for name_node in statements[node.start_byte][1]:
                    qualname = _qualified(scope, node_text(name_node))
                    site = assignment_site(node, qualname, scope, in_class=bool(stack))
                    found.setdefault((site.start_byte, site.qualname), (site, node))
            continue
        name_field = node.child_by_field_name("name")
        qualname = _qualified(scope, node_text(name_field) if name_field is not None else "?")
        if name_field is not None and not name_field.is_missing:
            site = definition_site(node, qualname, scope, in_class=bool(stack) and stack[-1][1])
            found[(site.start_byte, site.qualname)] = (site, node)
        is_class = node.type == "class_definition"
        stack.append((node.end_byte, is_class, qualname, in_function or not is_class))
    return found


_EVENT_ORDER = operator.itemgetter(0, 1, 2)  # start, then the longer first, then definitions before statements
_Statements = dict[int, tuple["tree_sitter.Node", list["tree_sitter.Node"]]]  # start byte: statement, names bound


def _chained_targets(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """The left side of each assignment of `A = B = value` (nothing for an expression that assigns nothing)."""
    while node.type == "assignment":
        left = node.child_by_field_name("left")
        if left is not None:
            yield left
        right = node.child_by_field_name("right")
        if right is None:
            return
        node = right


def _found_by_query(root: tree_sitter.Node) -> tuple[list[tree_sitter.Node], _Statements]:
    """The class and function definitions anywhere in the tree, and the statements that assign names."""
    captures = _run_captures(load_query("python-definitions"), root)
    definitions = captures.get("definition.class", []) + captures.get("definition.function", [])
    statements: _Statements = {}
    bound = [name for left in captures.get("name.definition.assignment", []) for name in _bound_names(left)]
    for name_node in bound + captures.get("name.definition.type_alias", []):
        statement = _statement_of(name_node)
        if statement is not None:
            statements.setdefault(statement.start_byte, (statement, []))[1].append(name_node)
    return definitions, statements


def _statement_of(name_node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The statement that binds `name_node`, or None for an assignment inside an expression or a for/with target."""
    statement = name_node.parent
    while statement is not None and statement.type in ("assignment", "type", *_BINDING_PATTERNS):
        statement = statement.parent
    if statement is None or statement.type not in ("expression_statement", "type_alias_statement"):
        return None
    return statement


def _bound_names(target: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """The names an assignment target binds: itself, or each name inside an unpacking pattern (never `a.b`, `a[i]`);
    a loop, not recursion, however deep the pattern nests."""
    stack = [target]
    while stack:
        node = stack.pop()
        if node.type == "identifier":
            yield node
        elif node.type in _BINDING_PATTERNS:
            stack.extend(reversed(node.named_children))


def _qualified(scope: str, name: str) -> str:
    return f"{scope}.{name}" if scope else name


def _decorated(node: tree_sitter.Node) -> tree_sitter.Node:
    """The definition with its decorators (the decorated_definition around it), or the definition itself."""
    parent = node.parent
    return parent if parent is not None and parent.type == "decorated_definition" else node


def _definition_site(node: tree_sitter.Node, qualname: str, scope: str, *, in_class: bool) -> Site:
    outer = _decorated(node)
    decorators = (
        [_decorator_text(child) for child in outer.children if child.type == "decorator"] if outer is not node else []
    )
    return Site(
        qualname=qualname,
        kind=_kind_of(node, decorators, in_class=in_class),
        start_line=outer.start_point.row + 1,
        def_line=node.start_point.row + 1,
        end_line=_last_token_row(node) + 1,
        start_byte=outer.start_byte,
        end_byte=outer.end_byte,
        scope=scope,
    )


def _assignment_site(statement: tree_sitter.Node, qualname: str, scope: str, *, in_class: bool) -> Site:
    return Site(
        qualname=qualname,
        kind="attribute" if in_class else "assignment",
        start_line=statement.start_point.row + 1,
        def_line=statement.start_point.row + 1,
        end_line=_last_token_row(statement) + 1,
        start_byte=statement.start_byte,
        end_byte=statement.end_byte,
        scope=scope,
    )


def _decorator_text(decorator: tree_sitter.Node) -> str:
    """A decorator's expression, without the `@` or a comment after it (`@staticmethod  # why`)."""
    expressions = [child for child in decorator.named_children if child.type != "comment"]
    return node_text(expressions[0]).strip() if expressions else node_text(decorator).lstrip("@").strip()


def _kind_of(node: tree_sitter.Node, decorators: list[str], *, in_class: bool) -> SymbolKind:
    if node.type == "class_definition":
        return "class"
    first = node.child(0)  # `async` can only open the definition
    is_async = first is not None and first.type == "async"
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


def _last_token_row(node: tree_sitter.Node) -> int:
    """The row of the last token that is not a comment: tree-sitter lets a block swallow trailing comments."""
    start_row = node.start_point.row
    if node.end_point.row == start_row:
        return start_row  # one line: its last token is on it
    current = node
    while count := current.child_count:  # from the last child back, one node at a time (no list of children)
        index = count - 1
        child: tree_sitter.Node | None = current.child(index)
        while child is not None and (child.type == "comment" or child.end_byte <= child.start_byte):
            index -= 1
            child = current.child(index) if index >= 0 else None
        if child is None:
            break
        current = child
    row = current.end_point.row
    if current.end_point.column == 0 and row > current.start_point.row:
        row -= 1  # a token that ends with its newline belongs to the line before
    return max(row, start_row)


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
    """Nodes of `kind` under `node` that start before `before`, in order; a loop, not recursion, so that valid
    but deeply nested code (a 3,000-term default value) never exhausts Python's stack (issue 15)."""
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


def string_value(text: str) -> str | None:
    """The value of a Python string literal as written (None when it is not one, or an f-string)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # upstream's own invalid escapes ("\(") are not ours to report
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


class _Fingerprinter:
    """Fingerprints of byte ranges of one parsed file, from one token walk (definitions nest; tokens are shared).

    Whitespace, comments, trailing commas and quote style do not count: a reformat is not a change. Where each
    block begins and ends does count: dedenting a line out of an `if` changes what the code does.
    """

    _OPEN, _CLOSE = "\x02block", "\x03block"

    def __init__(self, root: tree_sitter.Node) -> None:
        self._starts: list[int] = []
        self._tokens: list[str] = []
        self._opened_at: list[int] = []  # for a block's end: where the block began (else -1)
        self._docstring: list[bool] = []  # is the token a docstring (the first statement of a body, a string)
        cursor = root.walk()
        while True:
            node = cursor.node
            assert node is not None
            if node.type == "block":
                self._add(node.start_byte, self._OPEN)
            elif node.type in ("comment", "string") or node.child_count == 0:
                if node.type != "comment":
                    self._add(node.start_byte, _normalized_token(node), docstring=_is_docstring(node))
            if node.type not in ("comment", "string") and cursor.goto_first_child():
                continue
            while True:  # the node under the cursor is finished: close it, then move on
                done = cursor.node
                if done is not None and done.type == "block":
                    self._add(max(done.end_byte - 1, done.start_byte), self._CLOSE, opened_at=done.start_byte)
                if cursor.goto_next_sibling():
                    break
                if not cursor.goto_parent():
                    return

    def _add(self, start: int, token: str, opened_at: int = -1, docstring: bool = False) -> None:
        self._starts.append(start)
        self._tokens.append(token)
        self._opened_at.append(opened_at)
        self._docstring.append(docstring)

    def of(self, start_byte: int, end_byte: int, *, blocks: bool = True, docstrings: bool = True) -> str:
        """The fingerprint of the tokens in a byte range; `docstrings=False` leaves docstrings out (the code's
        logic alone: a docstring reflow is a cosmetic change)."""
        low = bisect.bisect_left(self._starts, start_byte)
        high = bisect.bisect_left(self._starts, end_byte)
        tokens = [
            token
            for token, opened_at, docstring in zip(
                self._tokens[low:high], self._opened_at[low:high], self._docstring[low:high], strict=True
            )
            if (blocks or token not in (self._OPEN, self._CLOSE))
            and (opened_at < 0 or opened_at >= start_byte)
            and (docstrings or not docstring)
        ]  # the end of an enclosing block that ends with this definition is not this definition's
        kept = [
            token
            for index, token in enumerate(tokens)
            if not (
                token == "," and index + 1 < len(tokens) and tokens[index + 1] in (")", "]", "}")
            )  # a "magic trailing comma"
        ]
        digest = hashlib.sha256("\x1f".join(kept).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"{FINGERPRINT_PREFIX}{digest}" if blocks else digest


def _is_docstring(node: tree_sitter.Node) -> bool:
    """A string that is a whole statement, the first of a module, class or function body."""
    statement = node.parent
    if statement is None or statement.type != "expression_statement" or statement.named_child_count != 1:
        return False
    body = statement.parent
    if body is None or body.type not in ("block", "module"):
        return False
    before = statement.prev_named_sibling
    while before is not None and before.type == "comment":
        before = before.prev_named_sibling
    return before is None


def _normalized_token(node: tree_sitter.Node) -> str:
    text = node_text(node)
    if node.type == "string" and not re.match(r"^[A-Za-z]*[fF]", text):
        value = string_value(text)
        if value is not None:
            return repr(value)
    return text


def node_text(node: tree_sitter.Node) -> str:
    """A node's source text (undecodable bytes replaced)."""
    return _decode(node.text or b"")


def enclosing_qualname(sites: Sequence[Site], byte: int) -> str:
    """The qualified name of the innermost def or class around `byte` among `sites`, "" at module level."""
    inside = [
        site
        for site in sites
        if site.kind not in ("assignment", "attribute") and site.start_byte <= byte < site.end_byte
    ]
    return min(inside, key=lambda site: site.end_byte - site.start_byte).qualname if inside else ""


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
