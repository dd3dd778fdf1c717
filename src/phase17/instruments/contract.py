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
from typing import TYPE_CHECKING, Any, Literal, get_args

from phase17.errors import SymbolNotFoundError, UsageError
from phase17.index.tree import Tree
from phase17.instruments.classes import ClassInfo, Member, last_name_part, load_classes

if TYPE_CHECKING:
    from phase17.instruments.backends import BackendChoice
from phase17.safety.text import clipped

CellStatus = Literal["value", "override", "inherited"]  # how a platform meets a member of the base
CELL_STATUSES: tuple[CellStatus, ...] = get_args(CellStatus)

BASE_NAME, BASE_PATH = "Platform", "vllm/platforms/interface.py"  # the guide's base class, the default
VALUE_WIDTH = 48  # a longer value is shortened with an ellipsis (--json keeps it whole)
# The dunders that are part of what a subclass meets: construction, and the run-time lookup of undeclared names.
_CONTRACT_DUNDERS = ("__init__", "__getattr__")


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
                    "form": member.form if member.kind == "method" else None,
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


# ---------------------------------------------------------------- the contract


def _class_named(classes: Sequence[ClassInfo], name: str, preferred_path: str | None) -> ClassInfo | None:
    """The class called `name` (its last name part), the one in `preferred_path` when there is one there."""
    named = [info for info in classes if info.name == last_name_part(name)]
    return next((info for info in named if info.path == preferred_path), named[0] if named else None)


def backends_shown(upstream: Tree, contract: Contract) -> dict[str, tuple[BackendChoice, ...]]:
    """The attention backends each shown class's `get_attn_backend_cls` names, when that member is shown: what a
    platform picks, rather than `override L74`."""
    from phase17.instruments.backends import HOOK, attention_backends

    if not any(member.name == HOOK for member, _ in contract.rows):
        return {}
    return attention_backends(upstream, [contract.base, *contract.platforms])


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
    upstream: Tree,
    base: str = BASE_NAME,
    base_path: str | None = BASE_PATH,
    under: Sequence[str] = ("vllm",),
    members: str | None = None,
    platforms: Sequence[str] = (),
) -> Contract:
    """The matrix of `base`'s members against every subclass below `under` (or the ones named in `platforms`)."""
    classes, aliases = load_classes(upstream, under, related_to=(last_name_part(base),))
    root = _class_named(classes, base, base_path)
    if root is None:
        raise SymbolNotFoundError(
            f"{base}: no class of that name below {', '.join(under)}; try phase17 resolve {base}."
        )
    by_name: dict[str, list[ClassInfo]] = {}
    for info in classes:
        by_name.setdefault(info.name, []).append(info)
    children: dict[str, list[ClassInfo]] = {}  # a base's last name part -> the classes naming it, in tree order
    for info in classes:
        for base_name in dict.fromkeys(last_name_part(base) for base in info.bases):
            children.setdefault(base_name, []).append(info)
    subclasses: list[ClassInfo] = []
    known = {root.name}
    frontier = [root.name]
    while frontier:  # breadth first: the direct subclasses in path order, then theirs
        for info in children.get(frontier.pop(0), []):
            if info is not root and info.name not in known:
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
        if member.name.startswith("__") and member.name.endswith("__") and member.name not in _CONTRACT_DUNDERS:
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
    queue = [last_name_part(base) for base in info.bases]
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
            queue += [last_name_part(base) for base in parent.bases]
    return root, root.member(name)


def declared_members(
    upstream: Tree, base: str = BASE_NAME, base_path: str | None = BASE_PATH, under: Sequence[str] = ("vllm",)
) -> tuple[frozenset[str], bool]:
    """Every member name that `base` or any subclass of it declares, and whether `base` defines `__getattr__`
    (then any other attribute is looked up at run time)."""
    contract = build_contract(upstream, base, base_path, under=under)
    names = {member.name for info in (contract.base, *contract.platforms) for member in info.members}
    return frozenset(names), contract.base.member("__getattr__") is not None


def shorten(value: str, width: int = VALUE_WIDTH) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


@dataclass(frozen=True)
class Difference:
    member: str
    kind: str
    summary: str
    line: int


def compare(
    upstream: Tree, platform: str, base: str = BASE_NAME, under: Sequence[str] = ("vllm",), members: str | None = None
) -> tuple[ClassInfo, ClassInfo, list[Difference]]:
    """`platform`'s own members against `base`'s (those matching `members`): each override or value, with a
    one-line summary of what differs."""
    pattern = member_pattern(members)
    classes, _ = load_classes(upstream, under, related_to=(last_name_part(platform), last_name_part(base)))
    sub = _class_named(classes, platform, None)
    if sub is None:
        raise SymbolNotFoundError(f"{platform}: no class of that name below {', '.join(under)}.")
    root = _class_named(classes, base, BASE_PATH)
    if root is None:
        raise SymbolNotFoundError(f"{base}: no class of that name below {', '.join(under)}.")
    differences = []
    for member in sub.members:
        if pattern is not None and not pattern.search(member.name):
            continue
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
            differences.append(
                Difference(member.name, member.label, f"added {shorten(member.signature, 80)}", member.line)
            )
            continue
        notes = []
        if original.form != member.form:
            notes.append(f"{original.label} -> {member.label}")
        if original.signature != member.signature:
            notes.append(f"signature {shorten(original.signature, 40)} -> {shorten(member.signature, 40)}")
        if member.returns is not None and member.returns != original.returns:
            notes.append(f"returns {member.returns}" + (f" (base: {original.returns})" if original.returns else ""))
        differences.append(
            Difference(member.name, member.label, "; ".join(notes) or "body overridden, same signature", member.line)
        )
    return sub, root, differences


def contract_markdown(contract: Contract) -> str:
    """The matrix as a Markdown table, to paste into a note or the exported notebook."""
    from phase17.safety.markdown import escaped_text

    def cell(text: str) -> str:  # a value from the tree is text in the table, never markup or HTML
        return escaped_text(text.replace("\n", " "))

    names = [info.name for info in contract.platforms]
    lines = [
        f"| member | {cell(contract.base.name)} | " + " | ".join(map(cell, names)) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for member, cells in contract.rows:
        base_text = shorten(member.value or "(annotated)") if member.kind == "attribute" else member.label
        row = [cell(member.name), cell(base_text)] + [cell(cells[name].text) for name in names]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
