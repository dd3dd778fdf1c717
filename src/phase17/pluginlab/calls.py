"""The engine's calls of the platform, and what a def accepts: each `current_platform.NAME(...)` call in the tree
with the shape of its arguments (kept per file content in the index), and a def's parameters as a caller meets
them, to tell whether a call would be a TypeError at run time."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phase17.cache import code_digest
from phase17.source.parsing import descendants, node_text, parse_tree

_RECEIVER = "current_platform"
EngineCall = tuple[str, int, int, list[str], bool]  # path, line, positional arguments, keywords, *-unpacked


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
        except SyntaxError:
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
    """Each `current_platform.NAME(...)` call of a file: [name, line, positional count, keywords, unpacked]."""
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
        found.append([node_text(attribute), node.start_point.row + 1, positional, keywords, unpacked])
    return found


def calls_by_name(upstream: Path, under: Sequence[str]) -> dict[str, list[EngineCall]]:
    from phase17.index.symbolindex import derived_answers

    answers, _ = derived_answers(
        upstream, f"platform-calls:{code_digest('pluginlab/calls.py', 'source/')}", under, engine_calls
    )
    calls: dict[str, list[EngineCall]] = {}
    for path, rows in answers:
        for name, line, positional, keywords, unpacked in rows:
            calls.setdefault(name, []).append((path, line, positional, keywords, unpacked))
    return calls
