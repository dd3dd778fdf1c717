"""Where each definition of a parsed file is: classes, defs at any depth (so `function.inner` works) and names
bound by assignments at module or class level (unpacking targets and `type` aliases included), also inside
`if`/`try`/`with` blocks, which belong to the enclosing scope. Lines are 1-based; nothing here reads files.

A clean tree is walked statement by statement; a tree with errors is read by a query, which recovers more.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeVar

from phase17.source.parsing import load_query, node_text, parse_tree, run_captures

if TYPE_CHECKING:
    import tree_sitter


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
class Site:
    """Where a definition is, without its signature, docstring or fingerprint: what the symbol index keeps.

    A first pass finds every site (cheap); a Symbol's text-derived fields are computed only for the sites a
    command shows or checks.
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
    return [site for site, _ in sites_and_nodes(tree, source, definition_site, assignment_site)]


class SiteName(NamedTuple):
    """A definition's qualified name and first line: what the symbol index keeps of it. Which files hold a name
    is what a whole-tree lookup asks; the few files found are then parsed whole (names first)."""

    qualname: str
    start_line: int
    def_line: int
    start_byte: int


def definition_names(source: bytes, tree: tree_sitter.Tree | None = None) -> list[SiteName]:
    """definition_sites' qualified names and first lines, in the same order, without kinds or last lines."""
    tree = tree if tree is not None else parse_tree(source)
    return [site for site, _ in sites_and_nodes(tree, source, _named_definition, _named_assignment)]


def _named_definition(node: tree_sitter.Node, qualname: str, scope: str, *, in_class: bool) -> SiteName:
    outer = _decorated(node)
    return SiteName(qualname, outer.start_point.row + 1, node.start_point.row + 1, outer.start_byte)


def _named_assignment(statement: tree_sitter.Node, qualname: str, scope: str, *, in_class: bool) -> SiteName:
    row = statement.start_point.row + 1
    return SiteName(qualname, row, row, statement.start_byte)


_AnySite = TypeVar("_AnySite", "Site", SiteName)


def sites_and_nodes(
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
    captures = run_captures(load_query("python-definitions"), root)
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


def definition_site(node: tree_sitter.Node, qualname: str, scope: str, *, in_class: bool) -> Site:
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


def assignment_site(statement: tree_sitter.Node, qualname: str, scope: str, *, in_class: bool) -> Site:
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


def enclosing_qualname(sites: Sequence[Site], byte: int) -> str:
    """The qualified name of the innermost def or class around `byte` among `sites`, "" at module level."""
    inside = [
        site
        for site in sites
        if site.kind not in ("assignment", "attribute") and site.start_byte <= byte < site.end_byte
    ]
    return min(inside, key=lambda site: site.end_byte - site.start_byte).qualname if inside else ""
