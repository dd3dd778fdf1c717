"""A call path: the functions that call a name, then their callers, a few levels up, read from the code.

A call is found by the called name's last part (`x.check_and_update_config(...)` calls every platform's
`check_and_update_config`: through `current_platform` the engine cannot know which). A constructor call `C(...)`
is a call of `C.__init__` and of `C.__post_init__`, so a dataclass's `__post_init__` is reached from where the
class is made. Fan-out is cut with a count, and a function already on the path is not followed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from phase17.index.tree import Tree
from phase17.instruments.usages import Usage, find_calls

DEFAULT_DEPTH = 3
MAX_DEPTH = 6
SHOWN_CALLERS = 8  # per function; the rest are counted
_CONSTRUCTION_HOOKS = ("__init__", "__post_init__", "__new__")


@dataclass
class CallerNode:
    """A function (by qualified name, in a file) and, where it was looked up, the functions that call it."""

    name: str
    path: str | None
    line: int | None  # where it calls its child (the root: None)
    callers: list[CallerNode] = field(default_factory=list)
    more: int = 0  # callers not shown (fan-out cut)
    looked_up: bool = False  # its callers were searched (False past the depth, or at module level)
    recursive: bool = False  # already on the path below: not followed again

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "path": self.path, "line": self.line}
        if self.looked_up:
            data["callers"] = [caller.to_data() for caller in self.callers]
            if self.more:
                data["more"] = self.more
        if self.recursive:
            data["recursive"] = True
        return data

    def count(self) -> int:
        return 1 + sum(caller.count() for caller in self.callers)


def called_names(qualname: str) -> list[str]:
    """The names a call of `qualname` is written with: its last part, and for a construction hook the class."""
    parts = qualname.split(".")
    if parts[-1] in _CONSTRUCTION_HOOKS and len(parts) >= 2:
        return [parts[-2]]
    return [parts[-1]]


def find_callers(upstream: Tree, name: str, depth: int = DEFAULT_DEPTH, under: Sequence[str] = ("vllm",)) -> CallerNode:
    """The tree of callers of `name` (`Platform.check_and_update_config`, or a bare name), `depth` levels up; the
    root is placed at its definition when exactly one has that name."""
    from phase17.index.lookup import look_up

    depth = max(1, min(depth, MAX_DEPTH))
    found = look_up(upstream, name, within=under)
    only = found.matches[0] if len(found.matches) == 1 else None
    root = CallerNode(name=name, path=only.path if only else None, line=only.def_line if only else None)
    cache: dict[str, list[Usage]] = {}
    _grow(upstream, root, depth, (name,), under, cache)
    return root


def _calls_of(upstream: Tree, qualname: str, under: Sequence[str], cache: dict[str, list[Usage]]) -> list[Usage]:
    found: list[Usage] = []
    for called in called_names(qualname):
        if called not in cache:
            cache[called] = find_calls(upstream, called, under=under)
        found += cache[called]
    return found


def _grow(
    upstream: Tree,
    node: CallerNode,
    depth: int,
    path: tuple[str, ...],
    under: Sequence[str],
    cache: dict[str, list[Usage]],
) -> None:
    node.looked_up = True
    by_caller: dict[tuple[str, str], Usage] = {}
    for usage in _calls_of(upstream, node.name, under, cache):
        by_caller.setdefault((usage.path, usage.enclosing or "(module)"), usage)
    ordered = sorted(by_caller.items(), key=lambda item: (item[0][1] == "(module)", item[0][0], item[1].line))
    node.more = max(0, len(ordered) - SHOWN_CALLERS)
    for (where, enclosing), usage in ordered[:SHOWN_CALLERS]:
        caller = CallerNode(name=enclosing, path=where, line=usage.line)
        node.callers.append(caller)
        if enclosing in path:
            caller.recursive = True
        elif depth > 1 and enclosing != "(module)":
            _grow(upstream, caller, depth - 1, (*path, enclosing), under, cache)
