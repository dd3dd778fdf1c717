"""The engine's calls of the platform, and what a def accepts: each `current_platform.NAME(...)` call in the tree
with the shape of its arguments (kept per file content in the index), and a def's parameters as a caller meets
them, to tell whether a call would be a TypeError at run time."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from phase17.cache import code_digest
from phase17.index.records import Needle
from phase17.index.tree import Tree
from phase17.source.parsing import descendants, node_text, parse_tree

if TYPE_CHECKING:
    import tree_sitter

_RECEIVER = "current_platform"


class EngineCall(NamedTuple):
    """One `current_platform.NAME(...)` call of the engine: where, the shape of its arguments, and the line that
    raises when the answer is empty (`x = current_platform.NAME(...)`, then `if not x: raise ...`), if any."""

    path: str
    line: int
    positional: int
    keywords: list[str]
    unpacked: bool  # *args or **kwargs at the call: its shape is known only at run time
    refuses_empty: int | None
    caught: list[str]  # the exceptions a `try` around the call catches, by their last name ("*": a bare except)

    def handles(self, error: str) -> bool:
        """Whether the engine catches `error` raised by this call (NotImplementedError is a RuntimeError)."""
        kin = {"NotImplementedError": ("RuntimeError",), "AttributeError": (), "TypeError": (), "ValueError": ()}
        accepted = {error, *kin.get(error, ()), "Exception", "BaseException", "*"}
        return any(name in accepted for name in self.caught)


@dataclass(frozen=True)
class Parameters:
    """A def's parameters as a caller meets them (self/cls left out)."""

    positional: tuple[str, ...]  # in order, positional-or-keyword and positional-only
    required: frozenset[str]
    keyword_only: frozenset[str]
    star_args: bool
    star_kwargs: bool

    @classmethod
    def of(cls, signature: str, form: str) -> Parameters | None:
        try:
            tree = ast.parse(f"def _{signature.split(' -> ')[0]}: pass")
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # a default nested past the parser's depth
            return None
        function = tree.body[0]
        assert isinstance(function, ast.FunctionDef)
        arguments = function.args
        ordered = [*arguments.posonlyargs, *arguments.args]
        required = {argument.arg for argument in ordered[: len(ordered) - len(arguments.defaults)]}
        if form != "staticmethod" and ordered:
            required.discard(ordered[0].arg)
            ordered = ordered[1:]  # self, or cls
        required |= {
            argument.arg
            for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
            if default is None
        }
        return cls(
            tuple(argument.arg for argument in ordered),
            frozenset(required),
            frozenset(argument.arg for argument in arguments.kwonlyargs),
            arguments.vararg is not None,
            arguments.kwarg is not None,
        )

    def refuses(self, positional: int, keywords: Sequence[str], unpacked: bool) -> str | None:
        """Why a call with `positional` arguments and `keywords` would fail on this def (None: it is accepted)."""
        if unpacked:
            return None  # *args / **kwargs at the call: its shape is not known before run time
        if positional > len(self.positional) and not self.star_args:
            return f"{positional} positional argument(s), but it takes {len(self.positional)}"
        names = set(self.positional) | self.keyword_only
        unknown = [keyword for keyword in keywords if keyword not in names]
        if unknown and not self.star_kwargs:
            return f"keyword {', '.join(unknown)}, which it does not take"
        given = set(self.positional[:positional]) | set(keywords)
        missing = sorted(self.required - given)
        if missing:
            return f"no {', '.join(missing)}, which it requires"
        return None


def engine_calls(path: str, source: bytes) -> list[Any]:
    """Each `current_platform.NAME(...)` call of a file: [name, line, positional count, keywords, unpacked, the
    line refusing an empty answer or None]."""
    if _RECEIVER.encode() not in source:
        return []
    found = []
    for node in descendants(parse_tree(source).root_node):
        if node.type != "call":
            continue
        function, arguments = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        if function is None or function.type != "attribute" or arguments is None:
            continue
        receiver, attribute = function.child_by_field_name("object"), function.child_by_field_name("attribute")
        if receiver is None or attribute is None or node_text(receiver).rsplit(".", 1)[-1] != _RECEIVER:
            continue
        positional, keywords, unpacked = 0, [], False
        for argument in arguments.named_children:
            if argument.type == "keyword_argument":
                key = argument.child_by_field_name("name")
                keywords.append(node_text(key) if key is not None else "?")
            elif argument.type in ("list_splat", "dictionary_splat"):
                unpacked = True
            elif argument.type != "comment":
                positional += 1
        line = node.start_point.row + 1
        found.append(
            [node_text(attribute), line, positional, keywords, unpacked, _refusal_of_empty(node), _caught(node)]
        )
    return found


def _caught(call: tree_sitter.Node) -> list[str]:
    """The exceptions the `try` statements around `call` catch (within its function), by their last name."""
    caught: list[str] = []
    child, parent = call, call.parent
    while parent is not None and parent.type not in ("function_definition", "class_definition", "lambda"):
        if parent.type == "try_statement" and child == parent.child_by_field_name("body"):
            for clause in parent.children:
                if clause.type != "except_clause":
                    continue
                kinds = [part for part in clause.named_children if part.type != "block"]
                if not kinds:
                    caught.append("*")
                    continue
                written = node_text(kinds[0]).split(" as ")[0]
                caught += [name.strip().rsplit(".", 1)[-1] for name in written.strip("()").split(",") if name.strip()]
        child, parent = parent, parent.parent
    return caught


def _refusal_of_empty(call: tree_sitter.Node) -> int | None:
    """The line of the `raise` that follows `x = <call>` when `x` is empty (`if not x:`, `if x is None:`, `if x ==
    "":`), within the next three statements; None when the engine takes whatever the call answers."""
    assignment = call.parent
    statement = assignment.parent if assignment is not None else None
    left = assignment.child_by_field_name("left") if assignment is not None else None
    if assignment is None or assignment.type != "assignment" or left is None or left.type != "identifier":
        return None
    if statement is None or statement.type != "expression_statement":
        return None
    name = re.escape(node_text(left))
    empty = re.compile(rf"^\(?\s*(not\s+{name}\b|{name}\s+is\s+None\b|{name}\s*==\s*(\"\"|''))")
    following = statement.next_named_sibling
    for _ in range(3):
        if following is None:
            return None
        condition = following.child_by_field_name("condition") if following.type == "if_statement" else None
        if condition is not None and empty.match(node_text(condition)):
            body = following.child_by_field_name("consequence")
            raised = next(
                (child for child in (body.named_children if body else []) if child.type == "raise_statement"), None
            )
            return raised.start_point.row + 1 if raised is not None else None
        following = following.next_named_sibling
    return None


def calls_by_name(upstream: Tree, under: Sequence[str]) -> dict[str, list[EngineCall]]:
    from phase17.index.symbolindex import derived_answers

    needle = Needle((_RECEIVER.encode(),), [])
    answers, _ = derived_answers(upstream, f"platform-calls:{code_digest()}", under, engine_calls, needle=needle)
    calls: dict[str, list[EngineCall]] = {}
    for path, rows in answers:
        for name, *shape in rows:
            calls.setdefault(name, []).append(EngineCall(path, *shape))
    return calls
