"""Where upstream code uses a name: each attribute read and call through a variable (`current_platform.is_cuda()`),
or each call and reference of a function or method name (its callers), read with tree-sitter.

Only code counts: a name inside a comment or a string is no identifier node, so it is never found. Files are
narrowed with a byte search before any is parsed. Receivers are not resolved (Python has no static types):
`x.check_and_update_config(...)` is a use of that method name whatever `x` is, and the receiver is shown.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, get_args

from phase17.cache import code_digest
from phase17.errors import BadReferenceError, SymbolNotFoundError
from phase17.index.lookup import Unreadable, editor_lines
from phase17.index.records import Needle
from phase17.index.tree import Tree
from phase17.source.parsing import identifiers_named, in_import, node_text, parse_tree
from phase17.source.sites import definition_sites, enclosing_qualname

if TYPE_CHECKING:
    import tree_sitter

PLATFORM_VARIABLE = "current_platform"  # the engine's handle on the Platform subclass chosen at start-up
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


_NOT_THE_VARIABLE = "(self's own)"  # self.NAME / cls.NAME: no use of the module's variable NAME

UsageMode = Literal["attributes", "callers"]  # uses of NAME.attr, or calls and references of the function NAME
USAGE_MODES: tuple[UsageMode, ...] = get_args(UsageMode)


@dataclass(frozen=True)
class Usage:
    """One use of the name: where, inside which definition, through what, and the line as written."""

    path: str
    line: int
    group: str  # the attribute used (variable mode) or the receiver it is used through (function mode)
    is_call: bool
    enclosing: str  # qualified name of the innermost enclosing def or class, "" at module level
    code: str
    through_attribute: bool = False  # NAME.attr (what makes NAME a variable rather than a function)
    as_variable: str = ""  # the group when NAME turns out to be a variable, if not `group`

    def to_data(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "group": self.group,
            "call": self.is_call,
            "in": self.enclosing,
            "code": self.code,
        }


@dataclass(frozen=True)
class UsageReport:
    """Every use found, grouped and counted (most used first), and the files that could not be read."""

    name: str
    mode: UsageMode
    usages: tuple[Usage, ...]
    files_searched: int
    unreadable: tuple[Unreadable, ...] = ()
    # Attributes the variable's class (or a subclass) declares; None when not checked. The others are served at
    # run time (Platform.__getattr__ hands them over from torch.<device_type>).
    declared: frozenset[str] | None = None
    served_by: str | None = None  # what serves an undeclared attribute, when a __getattr__ does

    def is_declared(self, group: str) -> bool | None:
        if self.declared is None or self.mode != "attributes" or group.startswith("("):
            return None  # not checked, or a plain reference of the name itself: "(referenced)", "(assigned)"
        return group in self.declared

    def _declared_data(self, group: str) -> dict[str, bool]:
        declared = self.is_declared(group)
        return {} if declared is None else {"declared": declared}

    def groups(self) -> list[tuple[str, int]]:
        counted = Counter(usage.group for usage in self.usages)
        return sorted(counted.items(), key=lambda item: (-item[1], item[0]))

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mode": self.mode,
            "files_searched": self.files_searched,
            "count": len(self.usages),
            "groups": [
                {"group": group, "count": count, **self._declared_data(group)} for group, count in self.groups()
            ],
            "usages": [{**usage.to_data(), **self._declared_data(usage.group)} for usage in self.usages],
            **({"served_by": self.served_by} if self.served_by else {}),
            "unreadable": [{"path": item.path, "reason": item.reason} for item in self.unreadable],
        }


def find_usages(
    upstream: Tree,
    name: str = "current_platform",
    under: Sequence[str] = ("vllm",),
    attribute: str | None = None,
    *,
    as_function: bool = False,
) -> UsageReport:
    """Every use of `name` in the .py files below `under`.

    A plain name (`current_platform`) is looked at as a variable: each `name.attr` and `name.attr(...)`, grouped
    by attribute, and its plain references. A dotted name (`Platform.get_attn_backend_cls`) or a name that is
    only ever used through attributes and calls is looked at as a function: each call and reference of its
    last part, grouped by the receiver (`current_platform`, `cls`, `self`); so is any name with `as_function`.
    `attribute` keeps one group.
    """
    if not _NAME.match(name):
        raise BadReferenceError(f"{name!r} is not a Python name; give one like current_platform or Class.method.")
    last = name.rsplit(".", 1)[-1]
    as_variable = "." not in name and not as_function
    needle = last.encode()

    def uses_of(path: str, source: bytes) -> list[Any]:
        if needle not in source:  # a byte search before any parse
            return []
        found, _ = _uses_in(source, path, last, as_variable=as_variable)
        return [[u.line, u.group, u.is_call, u.enclosing, u.code, u.through_attribute, u.as_variable] for u in found]

    from phase17.index.symbolindex import derived_answers

    answers, problems = derived_answers(
        upstream, f"uses:{code_digest()}:{as_variable}:{last}", under, uses_of, needle=Needle((needle,), [])
    )
    usages = [
        Usage(path, line, group, is_call, enclosing, code, through, variable)
        for path, rows in answers
        for line, group, is_call, enclosing, code, through, variable in rows
    ]
    unreadable = [Unreadable(path, reason) for path, reason in sorted(problems.items())]
    searched = len(answers)
    mode: UsageMode = "attributes" if as_variable and any(usage.through_attribute for usage in usages) else "callers"
    if mode == "attributes":
        usages = [
            replace(usage, group=usage.as_variable) if usage.as_variable else usage
            for usage in usages
            if usage.as_variable != _NOT_THE_VARIABLE
        ]
    if attribute is not None:
        usages = [usage for usage in usages if usage.group == attribute]
    declared, served_by = _platform_members(upstream, under) if name == PLATFORM_VARIABLE else (None, None)
    return UsageReport(
        name=name,
        mode=mode,
        usages=tuple(usages),
        files_searched=searched,
        unreadable=tuple(unreadable),
        declared=declared,
        served_by=served_by,
    )


def find_calls(upstream: Tree, name: str, under: Sequence[str] = ("vllm",)) -> list[Usage]:
    """Every call of the function or method `name` (by its last part, through any receiver) below `under`.

    Only the files where the name is followed by `(` are parsed: `VllmConfig` is named in 489 files of vllm/ and
    called in 5."""
    last = name.rsplit(".", 1)[-1]

    def calls_of(path: str, source: bytes) -> list[Any]:
        found, _ = _uses_in(source, path, last, as_variable=False)
        return [[u.line, u.group, u.enclosing, u.code] for u in found if u.is_call]

    from phase17.index.symbolindex import derived_answers

    answers, _ = derived_answers(
        upstream,
        f"calls:{code_digest()}:{last}",
        under,
        calls_of,
        needle=Needle((last.encode(),), [], call_pattern(last)),
    )
    return [
        Usage(path, line, group, True, enclosing, code)
        for path, rows in answers
        for line, group, enclosing, code in rows
    ]


def call_pattern(name: str) -> re.Pattern[bytes]:
    """`name` as a whole word, then what may stand before a call's parenthesis: spaces, line breaks,
    continuations, and whole comments (a comment runs to its line's end, so a `(` inside one is no call, and a
    run of `#` is read once, not tried every way it could be split)."""
    return re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(name.encode()) + rb"(?:\s|\\|#[^\n]*\n)*\(")


def _platform_members(upstream: Tree, under: Sequence[str]) -> tuple[frozenset[str] | None, str | None]:
    """What Platform and its subclasses declare, and what serves the rest (the platform's `__getattr__`)."""
    from phase17.instruments.contract import declared_members

    try:
        names, has_getattr = declared_members(upstream, under=under)
    except SymbolNotFoundError:  # a tree without vllm's Platform: nothing to tell
        return None, None
    return names, "Platform.__getattr__ (from torch.<device_type>)" if has_getattr else None


def _uses_in(source: bytes, path: str, name: str, *, as_variable: bool) -> tuple[list[Usage], int]:
    """The uses of `name` in one file, and how many were `name.attr` (what makes it a variable)."""

    tree = parse_tree(source)
    nodes = identifiers_named(tree, source, name)
    if not nodes:
        return [], 0
    lines = editor_lines(source.decode("utf-8", errors="replace"))
    sites = definition_sites(source, tree)
    found: list[Usage] = []
    through_attribute = 0
    for node in nodes:
        parent = node.parent
        if parent is None or _is_definition_name(node) or in_import(node):
            continue
        row = node.start_point.row
        code = lines[row].strip() if row < len(lines) else ""
        enclosing = enclosing_qualname(sites, node.start_byte)
        if as_variable and parent.type == "attribute" and parent.child_by_field_name("object") == node:
            attribute = parent.child_by_field_name("attribute")
            group = node_text(attribute) if attribute is not None else "?"
            found.append(Usage(path, row + 1, group, _is_called(parent), enclosing, code, True))
            through_attribute += 1
            continue
        if parent.type == "attribute" and parent.child_by_field_name("attribute") == node:
            receiver = parent.child_by_field_name("object")
            grand = parent.parent
            if as_variable and grand is not None and grand.type == "attribute":  # vllm.platforms.NAME.attr
                attribute = grand.child_by_field_name("attribute")
                group = node_text(attribute) if attribute is not None else "?"
                found.append(Usage(path, row + 1, group, _is_called(grand), enclosing, code, True))
                through_attribute += 1
                continue
            is_call = _is_called(parent)
            group = (node_text(receiver) if receiver is not None else "?")[:60]
            # as a variable, `vllm.platforms.current_platform` itself is the name reached through its module; but
            # `self.current_platform` is an attribute of its own (dropped then), while `cls.NAME(...)` of a method
            # is a call like any other
            own = receiver is not None and node_text(receiver) in ("self", "cls")
            as_variable_group = _NOT_THE_VARIABLE if own else _assigned_or_referenced(parent)
            found.append(Usage(path, row + 1, group, is_call, enclosing, code, as_variable=as_variable_group))
            continue
        is_call = _is_called(node)
        group = "(called by name)" if is_call else _assigned_or_referenced(node)
        found.append(Usage(path, row + 1, group, is_call, enclosing, code))
    return found, through_attribute


def _is_called(node: tree_sitter.Node) -> bool:
    """Is `node` the function part of a call (`node(...)`)?"""
    parent = node.parent
    return parent is not None and parent.type == "call" and parent.child_by_field_name("function") == node


def _assigned_or_referenced(node: tree_sitter.Node) -> str:
    parent = node.parent
    assigned = parent is not None and parent.type == "assignment" and parent.child_by_field_name("left") == node
    return "(assigned)" if assigned else "(referenced)"


def _is_definition_name(node: tree_sitter.Node) -> bool:
    """The name of a def or class, a keyword argument's or a parameter's name: not a use."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type in ("function_definition", "class_definition", "keyword_argument", "default_parameter"):
        return parent.child_by_field_name("name") == node
    return parent.type in ("parameters", "typed_parameter", "typed_default_parameter")


def close_to_nothing(
    upstream: Tree, name: str, attribute: str | None = None, under: Sequence[str] = ("vllm",)
) -> list[str]:
    """Did-you-mean for a search that found nothing: the attributes used on `name` close to `attribute`, else the
    definitions whose names are close to `name`."""
    from phase17.index.lookup import close_names, did_you_mean
    from phase17.source.refs import parse_ref

    if attribute is not None:
        groups = [group for group, _ in find_usages(upstream, name, under=under).groups() if not group.startswith("(")]
        return close_names(attribute, groups)
    return did_you_mean(upstream, parse_ref(name), within=under)
