"""Which attention backends each platform's `get_attn_backend_cls` names, in the order it names them, each with
the `if` tests it sits under: read from the method and the class's helpers and module functions it calls (two
levels), never run. `CpuPlatform` -> CPU_ATTN; CUDA's priority lists, MLA first when use_mla."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phase17.errors import Phase17Error
from phase17.index.tree import Tree
from phase17.instruments.classes import ClassInfo, class_methods
from phase17.source.parsing import if_branches, node_text, one_line, parse_tree

if TYPE_CHECKING:
    import tree_sitter

HOOK = "get_attn_backend_cls"
_ENUM = re.compile(r"(?:^|\.)AttentionBackendEnum$")
_DEPTH = 2  # helpers followed: get_attn_backend_cls -> cls.get_valid_backends -> _get_backend_priorities


@dataclass(frozen=True)
class BackendChoice:
    backend: str  # the AttentionBackendEnum member
    when: str  # the `if` tests it sits under, joined with `and` ("" when always)
    line: int
    via: str = ""  # the helper it is named in

    def to_data(self) -> dict[str, Any]:
        return {"backend": self.backend, "when": self.when, "line": self.line, "via": self.via or None}


def attention_backends(upstream: Tree, classes: Sequence[ClassInfo]) -> dict[str, tuple[BackendChoice, ...]]:
    """For each class that defines `get_attn_backend_cls` itself, the backends it names, first mention first."""
    from phase17.index.lookup import source_text

    found: dict[str, tuple[BackendChoice, ...]] = {}
    parsed: dict[str, Any] = {}
    for info in classes:
        own = info.member(HOOK)
        if own is None:
            continue
        if info.path not in parsed:
            try:
                parsed[info.path] = parse_tree(source_text(upstream, info.path).encode()).root_node
            except Phase17Error:
                continue
        root = parsed[info.path]
        methods = dict(class_methods(root, info.line))
        hook = methods.get(HOOK)
        if hook is not None:
            named = _Reader(methods, _module_functions(root)).named(hook, [], "", 0)
            found[info.name] = tuple({(choice.backend, choice.when): choice for choice in reversed(named)}.values())[
                ::-1
            ]  # each (backend, condition) once, where the code first names it
    return found


def by_condition(choices: Sequence[BackendChoice]) -> list[tuple[str, list[str]]]:
    """The backends grouped by the tests they sit under, each group in the order the code names them."""
    groups: dict[str, list[str]] = {}
    for choice in choices:
        groups.setdefault(choice.when, []).append(choice.backend)
    return list(groups.items())


def _module_functions(root: tree_sitter.Node) -> dict[str, Any]:
    """The module's top-level functions, by name (helpers a hook may return the result of)."""
    functions: dict[str, Any] = {}
    for child in root.children:
        target = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
        named = target.child_by_field_name("name") if target is not None else None
        if target is not None and target.type == "function_definition" and named is not None:
            functions[node_text(named)] = target
    return functions


class _Reader:
    def __init__(self, methods: dict[str, Any], functions: dict[str, Any]) -> None:
        self.methods, self.functions = methods, functions

    def named(self, function: tree_sitter.Node, when: list[str], via: str, depth: int) -> list[BackendChoice]:
        body = function.child_by_field_name("body")
        return self._block(body, when, via, depth) if body is not None else []

    def _block(self, block: tree_sitter.Node, when: list[str], via: str, depth: int) -> list[BackendChoice]:
        found: list[BackendChoice] = []
        when = list(when)
        for statement in block.named_children:
            if statement.type == "if_statement":
                found += self._if(statement, when, via, depth)
                when += _early_exit(statement)  # what follows `if x: return ...` runs only when not x
            elif statement.type in ("for_statement", "while_statement", "with_statement", "try_statement"):
                for child in statement.named_children:
                    if child.type == "block":
                        found += self._block(child, when, via, depth)
                    elif child.type.endswith("_clause"):
                        found += [
                            c
                            for inner in child.named_children
                            if inner.type == "block"
                            for c in self._block(inner, when, via, depth)
                        ]
            elif statement.type not in ("function_definition", "class_definition", "decorated_definition"):
                found += self._expression(statement, when, via, depth)
        return found

    def _if(self, node: tree_sitter.Node, when: list[str], via: str, depth: int) -> list[BackendChoice]:
        return [
            choice
            for body, conditions in if_branches(node)
            for choice in self._block(body, [*when, *conditions], via, depth)
        ]

    def _expression(self, node: tree_sitter.Node, when: list[str], via: str, depth: int) -> list[BackendChoice]:
        """The backends an expression names (in source order), and those of the helpers it calls."""
        found: list[BackendChoice] = []
        stack = [node]
        while stack:
            current = stack.pop()
            if current.type == "attribute":
                owner, attribute = current.child_by_field_name("object"), current.child_by_field_name("attribute")
                if owner is not None and attribute is not None and _ENUM.search(node_text(owner)):
                    found.append(
                        BackendChoice(node_text(attribute), " and ".join(when), current.start_point.row + 1, via)
                    )
                    continue
            if current.type == "call" and depth < _DEPTH:
                helper = self._helper(current)
                if helper is not None:
                    name, definition = helper
                    found += self.named(definition, when, name, depth + 1)
            if current.type not in ("lambda", "function_definition", "comparison_operator"):  # a test, no choice
                stack.extend(reversed(current.children))
        return found

    def _helper(self, call: tree_sitter.Node) -> tuple[str, Any] | None:
        function = call.child_by_field_name("function")
        if function is None:
            return None
        if function.type == "identifier" and node_text(function) in self.functions:
            return node_text(function), self.functions[node_text(function)]
        if function.type == "attribute":
            owner, attribute = function.child_by_field_name("object"), function.child_by_field_name("attribute")
            name = node_text(attribute) if attribute is not None else ""
            if owner is not None and node_text(owner) in ("cls", "self") and name in self.methods and name != HOOK:
                return name, self.methods[name]
        return None


def _early_exit(statement: tree_sitter.Node) -> list[str]:
    """For an `if` with no else whose every branch ends in return or raise: the tests that are false after it."""
    branches = [statement.child_by_field_name("consequence")]
    tests = [statement.child_by_field_name("condition")]
    for clause in statement.children_by_field_name("alternative"):
        if clause.type != "elif_clause":
            return []
        branches.append(clause.child_by_field_name("consequence"))
        tests.append(clause.child_by_field_name("condition"))
    for branch in branches:
        last = branch.named_children[-1] if branch is not None and branch.named_children else None
        if last is None or last.type not in ("return_statement", "raise_statement"):
            return []
    return [f"not ({one_line(test)})" for test in tests if test is not None]
