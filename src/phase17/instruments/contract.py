"""The contract a base class sets and how each subclass across the tree meets it: who overrides what, which
class attribute holds which value, what each subclass adds; read from upstream/ with tree-sitter, never run.

Every file's classes (bases, own members, literal values) and module-level aliases are read once per content
and kept in the symbol index. Subclasses are found by following base names through the whole tree, across
files (a base is matched by its last name part: `interface.Platform` is `Platform`), and names bound at import
time to one of several subclasses (`CudaPlatform = NvmlCudaPlatform if ... else NonNvmlCudaPlatform`) are shown
as aliases.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from phase17.cache import code_digest
from phase17.errors import SymbolNotFoundError, UsageError
from phase17.safety.text import clipped
from phase17.source.parsing import node_text, parse_tree

if TYPE_CHECKING:
    import tree_sitter

MemberKind = Literal["method", "attribute"]  # a def of any kind, or a name bound in the class body
CellStatus = Literal["value", "override", "inherited"]  # how a platform meets a member of the base
CELL_STATUSES: tuple[CellStatus, ...] = get_args(CellStatus)

BASE_NAME, BASE_PATH = "Platform", "vllm/platforms/interface.py"  # the guide's base class, the default
VALUE_WIDTH = 48  # a longer value is shortened with an ellipsis (--json keeps it whole)


@dataclass(frozen=True)
class Member:
    name: str
    kind: MemberKind
    line: int
    value: str | None = None  # an attribute's expression as written (None: annotated only)
    signature: str = ""
    returns: str | None = None  # a method whose body is one `return <literal>`: that literal
    expression: str | None = None  # a method whose body is one `return <expression>`: that expression, as written


@dataclass(frozen=True)
class ClassInfo:
    name: str
    path: str
    line: int
    end: int
    bases: tuple[str, ...]
    members: tuple[Member, ...]

    def member(self, name: str) -> Member | None:
        return next((member for member in self.members if member.name == name), None)


@dataclass(frozen=True)
class Cell:
    """How one platform meets one member: its own `value` or `override`, or `inherited` from `origin`."""

    status: CellStatus
    text: str
    origin: str = ""
    line: int | None = None

    def to_data(self) -> dict[str, Any]:
        return {"status": self.status, "text": self.text, "from": self.origin or None, "line": self.line}


@dataclass
class Contract:
    base: ClassInfo
    platforms: list[ClassInfo]
    aliases: dict[str, list[str]] = field(default_factory=dict)  # alias -> the subclasses it may name
    rows: list[tuple[Member, dict[str, Cell]]] = field(default_factory=list)
    added: dict[str, list[Member]] = field(default_factory=dict)  # platform -> members the base lacks

    def to_data(self) -> dict[str, Any]:
        return {
            "base": {"name": self.base.name, "path": self.base.path, "line": self.base.line},
            "platforms": [
                {"name": info.name, "path": info.path, "line": info.line, "bases": list(info.bases)}
                for info in self.platforms
            ],
            "aliases": self.aliases,
            "members": [
                {
                    "name": member.name,
                    "kind": member.kind,
                    "base_value": member.value,
                    "cells": {name: cell.to_data() for name, cell in cells.items()},
                }
                for member, cells in self.rows
            ],
            "added": {
                name: [{"name": m.name, "kind": m.kind, "line": m.line, "value": m.value} for m in members]
                for name, members in self.added.items()
            },
        }


# ---------------------------------------------------------------- reading classes, once per file content


def classes_of(path: str, source: bytes) -> dict[str, Any]:
    """A file's top-level and nested classes with their bases and own members, and its module-level aliases."""
    if b"class " not in source and b"=" not in source:
        return {"classes": [], "aliases": []}
    tree = parse_tree(source)
    classes = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        for child in node.children:
            target = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
            if target is not None and target.type == "class_definition":
                classes.append(_class_record(target))
                body = target.child_by_field_name("body")
                if body is not None:
                    stack.append(body)
            elif child.type in (
                "if_statement",
                "try_statement",
                "block",
                "else_clause",
                "elif_clause",
                "except_clause",
            ):
                stack.append(child)
    aliases = []
    for statement in tree.root_node.children:
        if statement.type != "expression_statement" or not statement.named_children:
            continue
        assignment = statement.named_children[0]
        left, right = assignment.child_by_field_name("left"), assignment.child_by_field_name("right")
        if assignment.type == "assignment" and left is not None and right is not None and left.type == "identifier":
            names = sorted({node_text(node) for node in _identifiers_in(right)})
            aliases.append({"name": node_text(left), "line": statement.start_point.row + 1, "names": names})
    return {"classes": classes, "aliases": aliases}


def _class_record(node: tree_sitter.Node) -> dict[str, Any]:
    name = node.child_by_field_name("name")
    arguments = node.child_by_field_name("superclasses")
    bases = [
        node_text(argument)
        for argument in (arguments.named_children if arguments is not None else [])
        if argument.type not in ("keyword_argument", "comment")
    ]
    members: list[dict[str, Any]] = []
    body = node.child_by_field_name("body")
    for statement in body.named_children if body is not None else []:
        definition = (
            statement.child_by_field_name("definition") if statement.type == "decorated_definition" else statement
        )
        if definition is not None and definition.type == "function_definition":
            members.append(_method_record(definition))
        elif statement.type == "expression_statement" and statement.named_children:
            assignment = statement.named_children[0]
            left = assignment.child_by_field_name("left") if assignment.type == "assignment" else None
            if left is not None and left.type == "identifier":
                right = assignment.child_by_field_name("right")
                members.append(
                    {
                        "name": node_text(left),
                        "kind": "attribute",
                        "line": statement.start_point.row + 1,
                        "value": " ".join(node_text(right).split()) if right is not None else None,
                    }
                )
    return {
        "name": node_text(name) if name is not None else "?",
        "line": node.start_point.row + 1,
        "end": node.end_point.row + 1,
        "bases": bases,
        "members": members,
    }


def _method_record(node: tree_sitter.Node) -> dict[str, Any]:
    name = node.child_by_field_name("name")
    parameters = node.child_by_field_name("parameters")
    returned = node.child_by_field_name("return_type")
    signature = node_text(parameters) if parameters is not None else "()"
    if returned is not None:
        signature += f" -> {node_text(returned)}"
    body = node.child_by_field_name("body")
    statements = [child for child in (body.named_children if body is not None else []) if child.type != "comment"]
    if statements and statements[0].type == "expression_statement" and statements[0].named_children:
        if statements[0].named_children[0].type == "string":
            statements = statements[1:]  # the docstring
    returns = expression = None
    if len(statements) == 1 and statements[0].type == "return_statement" and statements[0].named_children:
        value = statements[0].named_children[0]
        expression = " ".join(node_text(value).split())
        if value.type in ("string", "integer", "float", "true", "false", "none"):
            returns = node_text(value)
    return {
        "name": node_text(name) if name is not None else "?",
        "kind": "method",
        "line": node.start_point.row + 1,
        "signature": " ".join(signature.split()),
        "returns": returns,
        "expression": expression,
    }


def _identifiers_in(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if current.type == "identifier":
            found.append(current)
        stack.extend(current.children)
    return found


def _load(upstream: Path, under: Sequence[str]) -> tuple[list[ClassInfo], dict[str, list[tuple[str, list[str]]]]]:
    from phase17.index.symbolindex import derived_answers

    answers, _ = derived_answers(
        upstream, f"classes:{code_digest('instruments/contract.py', 'source/')}", under, classes_of
    )
    classes = [
        ClassInfo(
            name=item["name"],
            path=path,
            line=item["line"],
            end=item["end"],
            bases=tuple(item["bases"]),
            members=tuple(
                Member(
                    name=member["name"],
                    kind=member["kind"],
                    line=member["line"],
                    value=member.get("value"),
                    signature=member.get("signature", ""),
                    returns=member.get("returns"),
                    expression=member.get("expression"),
                )
                for member in item["members"]
            ),
        )
        for path, data in answers
        for item in data["classes"]
    ]
    aliases: dict[str, list[tuple[str, list[str]]]] = {}
    for path, data in answers:
        for alias in data["aliases"]:
            aliases.setdefault(alias["name"], []).append((path, alias["names"]))
    return classes, aliases


# ---------------------------------------------------------------- the contract


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1].split("[", 1)[0].strip()


def _class_named(classes: Sequence[ClassInfo], name: str, preferred_path: str | None) -> ClassInfo | None:
    """The class called `name` (its last name part), the one in `preferred_path` when there is one there."""
    named = [info for info in classes if info.name == _last(name)]
    return next((info for info in named if info.path == preferred_path), named[0] if named else None)


def member_pattern(members: str | None) -> re.Pattern[str] | None:
    """The --members regex, compiled; a bad one is a usage error that says what is wrong with it."""
    if not members:
        return None
    try:
        return re.compile(members)
    except re.error as error:
        raise UsageError(
            f"--members {clipped(members)!r} is not a regular expression ({error.msg} at position {error.pos}); "
            "write one like --members 'device|dist|attn'."
        ) from None


def build_contract(
    upstream: Path,
    base: str = BASE_NAME,
    base_path: str | None = BASE_PATH,
    under: Sequence[str] = ("vllm",),
    members: str | None = None,
    platforms: Sequence[str] = (),
) -> Contract:
    """The matrix of `base`'s members against every subclass below `under` (or the ones named in `platforms`)."""
    classes, aliases = _load(upstream, under)
    root = _class_named(classes, base, base_path)
    if root is None:
        raise SymbolNotFoundError(
            f"{base}: no class of that name below {', '.join(under)}; try phase17 resolve {base}."
        )
    by_name: dict[str, list[ClassInfo]] = {}
    for info in classes:
        by_name.setdefault(info.name, []).append(info)
    subclasses: list[ClassInfo] = []
    known = {root.name}
    frontier = [root.name]
    while frontier:
        current = frontier.pop(0)
        for info in classes:
            if info is not root and info.name not in known and current in {_last(b) for b in info.bases}:
                subclasses.append(info)
                known.add(info.name)
                frontier.append(info.name)
    if platforms:
        wanted = set(platforms)
        missing = wanted - {info.name for info in subclasses}
        if missing:
            raise SymbolNotFoundError(
                f"{', '.join(sorted(missing))}: not a subclass of {root.name} below {', '.join(under)}; "
                f"subclasses: {', '.join(info.name for info in subclasses)}."
            )
        subclasses = [info for info in subclasses if info.name in wanted]
    contract = Contract(base=root, platforms=subclasses)
    names = {info.name for info in subclasses}
    for alias, places in aliases.items():
        chosen = sorted({name for _, found in places for name in found if name in names})
        if alias not in names and len(chosen) >= 1 and alias != root.name:
            contract.aliases[alias] = chosen
    pattern = member_pattern(members)
    for member in root.members:
        if member.name.startswith("__") and member.name.endswith("__") and member.name not in ("__init__",):
            continue
        if pattern is not None and not pattern.search(member.name):
            continue
        cells = {info.name: _cell(info, member.name, root, by_name) for info in subclasses}
        contract.rows.append((member, cells))
    for info in subclasses:
        extra = [m for m in info.members if root.member(m.name) is None and not m.name.startswith("__")]
        if pattern is not None:
            extra = [m for m in extra if pattern.search(m.name)]
        if extra:
            contract.added[info.name] = extra
    return contract


def _cell(info: ClassInfo, name: str, root: ClassInfo, by_name: dict[str, list[ClassInfo]]) -> Cell:
    own = info.member(name)
    if own is not None:
        if own.kind == "attribute":
            return Cell("value", shorten(own.value or "(annotated)"), line=own.line)
        return Cell("override", f"override L{own.line}", line=own.line)
    parent, found = inherited_member(info, name, root, by_name)
    if parent is root or found is None:
        return Cell("inherited", "inherited", origin=root.name)
    shown = shorten(found.value or "") if found.kind == "attribute" else "override"
    return Cell(
        "inherited",
        f"inherited from {parent.name}" + (f": {shown}" if found.kind == "attribute" else ""),
        origin=parent.name,
        line=found.line,
    )


def inherited_member(
    info: ClassInfo, name: str, root: ClassInfo, by_name: dict[str, list[ClassInfo]]
) -> tuple[ClassInfo, Member | None]:
    """The nearest base of `info` that defines `name` (breadth first, in the order the bases are written), and
    that member; `root` (with its own member, or None) when no base below it does."""
    seen = {info.name}
    queue = [_last(base) for base in info.bases]
    while queue:
        parent_name = queue.pop(0)
        if parent_name in seen:
            continue
        seen.add(parent_name)
        if parent_name == root.name:
            break
        for parent in by_name.get(parent_name, []):
            found = parent.member(name)
            if found is not None:
                return parent, found
            queue += [_last(base) for base in parent.bases]
    return root, root.member(name)


def shorten(value: str, width: int = VALUE_WIDTH) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


@dataclass(frozen=True)
class Difference:
    member: str
    kind: str
    summary: str
    line: int


def compare(
    upstream: Path, platform: str, base: str = BASE_NAME, under: Sequence[str] = ("vllm",)
) -> tuple[ClassInfo, ClassInfo, list[Difference]]:
    """`platform`'s own members against `base`'s: each override or value, with a one-line summary of what differs."""
    classes, _ = _load(upstream, under)
    sub = _class_named(classes, platform, None)
    if sub is None:
        raise SymbolNotFoundError(f"{platform}: no class of that name below {', '.join(under)}.")
    root = _class_named(classes, base, BASE_PATH)
    if root is None:
        raise SymbolNotFoundError(f"{base}: no class of that name below {', '.join(under)}.")
    differences = []
    for member in sub.members:
        original = root.member(member.name)
        if member.kind == "attribute":
            before = shorten(original.value or "(annotated)") if original else "(not in the base)"
            differences.append(
                Difference(
                    member.name, "attribute", f"{before} -> {shorten(member.value or '(annotated)')}", member.line
                )
            )
            continue
        if original is None:
            differences.append(Difference(member.name, "method", f"added {shorten(member.signature, 80)}", member.line))
            continue
        notes = []
        if original.signature != member.signature:
            notes.append(f"signature {shorten(original.signature, 40)} -> {shorten(member.signature, 40)}")
        if member.returns is not None and member.returns != original.returns:
            notes.append(f"returns {member.returns}" + (f" (base: {original.returns})" if original.returns else ""))
        differences.append(
            Difference(member.name, "method", "; ".join(notes) or "body overridden, same signature", member.line)
        )
    return sub, root, differences


def contract_markdown(contract: Contract) -> str:
    """The matrix as a Markdown table, to paste into a note or the exported notebook."""
    from phase17.safety.text import neutralized

    def cell(text: str) -> str:
        return neutralized(text).replace("|", "\\|").replace("`", "'")

    names = [info.name for info in contract.platforms]
    lines = [
        f"| member | {contract.base.name} | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for member, cells in contract.rows:
        base_text = shorten(member.value or "(annotated)") if member.kind == "attribute" else "def"
        row = [cell(member.name), cell(base_text)] + [cell(cells[name].text) for name in names]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
