"""What a platform hook does to the config: every field each platform's override writes (`check_and_update_config`
by default), with the value written, the line, and the conditions it sits under, read with tree-sitter.

Local aliases are followed (`parallel_config = vllm_config.parallel_config`, then `parallel_config.worker_cls = ...`
is `parallel_config.worker_cls`), and so are the class's own helpers that the hook hands the config to, one level
down. A write is an assignment, an augmented assignment, or a call of a mutating method (`.append`, `.update`, ...)
on a field; nothing is run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phase17.errors import SymbolNotFoundError
from phase17.index.tree import Tree
from phase17.instruments.classes import ClassInfo, class_methods
from phase17.instruments.contract import BASE_NAME, BASE_PATH, build_contract, inherited_member
from phase17.source.parsing import if_branches, node_text, one_line, parameter_names, parse_tree

if TYPE_CHECKING:
    import tree_sitter

DEFAULT_HOOK = "check_and_update_config"
_MUTATORS = frozenset({"append", "extend", "update", "add", "insert", "remove", "pop", "clear", "setdefault"})
_RECEIVERS = ("cls", "self")


@dataclass(frozen=True)
class Effect:
    """One write to the config: the field (as a path below the config), the value as written, where, and when."""

    field: str
    value: str
    line: int
    when: str  # the `if` tests it sits under, joined with `and` ("" when always)
    via: str = ""  # the helper of the class that wrote it, called by the hook with the config
    process_wide: bool = False  # not the config: the process's environment, torch's or sys's settings

    def to_data(self) -> dict[str, Any]:
        data = {"field": self.field, "value": self.value, "line": self.line, "when": self.when, "via": self.via or None}
        return {**data, "process_wide": self.process_wide}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Effect:
        return cls(data["field"], data["value"], data["line"], data["when"], data["via"] or "", data["process_wide"])


@dataclass(frozen=True)
class PlatformEffects:
    name: str
    path: str
    line: int  # the hook's own def line in this class
    effects: tuple[Effect, ...]
    helpers: tuple[str, ...]  # the class's helpers the hook hands the config to


@dataclass(frozen=True)
class EffectsReport:
    hook: str
    platforms: tuple[PlatformEffects, ...]  # the classes that define the hook, the base first
    inherits: dict[str, str]  # a class without its own hook: the class whose hook it runs

    def to_data(self) -> dict[str, Any]:
        return {
            "hook": self.hook,
            "platforms": {item.name: [effect.to_data() for effect in item.effects] for item in self.platforms},
            "where": {item.name: {"path": item.path, "line": item.line} for item in self.platforms},
            "helpers": {item.name: list(item.helpers) for item in self.platforms if item.helpers},
            "inherits": dict(self.inherits),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> EffectsReport:
        platforms = tuple(
            PlatformEffects(
                name,
                data["where"][name]["path"],
                data["where"][name]["line"],
                tuple(Effect.from_data(effect) for effect in effects),
                tuple(data["helpers"].get(name, ())),
            )
            for name, effects in data["platforms"].items()
        )
        return cls(data["hook"], platforms, dict(data["inherits"]))


def effects_report(
    upstream: Tree, hook: str = DEFAULT_HOOK, platforms: Sequence[str] = (), under: Sequence[str] = ("vllm",)
) -> EffectsReport:
    """find_effects, kept for the tree as it is (a second call on the same tree reads the kept answer)."""
    from phase17.index.kept import remembered

    def compute() -> dict[str, Any]:
        return find_effects(upstream, hook, platforms, under).to_data()

    return EffectsReport.from_data(remembered(upstream, f"effects:{hook}:{','.join(platforms)}", under, compute))


def find_effects(
    upstream: Tree, hook: str = DEFAULT_HOOK, platforms: Sequence[str] = (), under: Sequence[str] = ("vllm",)
) -> EffectsReport:
    """The writes of `hook` in the base Platform and in every subclass that overrides it."""
    from phase17.index.lookup import source_text

    contract = build_contract(upstream, BASE_NAME, BASE_PATH, under=under, platforms=platforms)
    if contract.base.member(hook) is None:
        raise SymbolNotFoundError(
            f"{hook}: not a member of {contract.base.name}; try phase17 contract --members '{hook[:12]}'."
        )
    by_name: dict[str, list[ClassInfo]] = {}
    for info in [contract.base, *contract.platforms]:
        by_name.setdefault(info.name, []).append(info)
    found: list[PlatformEffects] = []
    inherits: dict[str, str] = {}
    for info in [contract.base, *contract.platforms]:
        member = info.member(hook)
        if member is None:
            inherits[info.name] = inherited_member(info, hook, contract.base, by_name)[0].name
            continue
        tree = parse_tree(source_text(upstream, info.path).encode("utf-8", "surrogatepass"))
        methods = dict(class_methods(tree.root_node, info.line))
        node = methods.get(hook)
        if node is None:
            continue
        reader = _HookReader(methods)
        effects = tuple(reader.effects_of(node))
        found.append(PlatformEffects(info.name, info.path, member.line, effects, tuple(reader.helpers)))
    return EffectsReport(hook, tuple(found), inherits)


def _config_parameter(function: tree_sitter.Node) -> str | None:
    """The first parameter after cls/self: the config the hook is handed."""
    names = _parameter_names(function)
    return names[0] if names else None


class _HookReader:
    """Walks one hook's body (and its helpers', one level) with the aliases of the config in scope."""

    def __init__(self, methods: dict[str, tree_sitter.Node]) -> None:
        self.methods = methods
        self.helpers: list[str] = []

    def effects_of(self, function: tree_sitter.Node) -> list[Effect]:
        parameter = _config_parameter(function)
        if parameter is None:
            return []
        body = function.child_by_field_name("body")
        return self._block(body, {parameter: ""}, [], "", depth=0) if body is not None else []

    def _block(
        self, block: tree_sitter.Node, aliases: dict[str, str], when: list[str], via: str, depth: int
    ) -> list[Effect]:
        effects: list[Effect] = []
        for statement in block.named_children:
            effects += self._statement(statement, aliases, when, via, depth)
        return effects

    def _statement(
        self, node: tree_sitter.Node, aliases: dict[str, str], when: list[str], via: str, depth: int
    ) -> list[Effect]:
        kind = node.type
        if kind == "expression_statement" and node.named_children:
            return self._expression(node.named_children[0], aliases, when, via, depth)
        if kind == "if_statement":
            return self._if(node, aliases, when, via, depth)
        if kind in ("for_statement", "while_statement", "with_statement", "try_statement"):
            effects = []
            guard = _loop_guard(node)
            for child in node.named_children:
                if child.type == "block":
                    effects += self._block(child, aliases, when + guard, via, depth)
                elif child.type in ("except_clause", "finally_clause", "else_clause"):
                    for inner in child.named_children:
                        if inner.type == "block":
                            effects += self._block(inner, aliases, when + guard, via, depth)
            return effects
        return []

    def _if(
        self, node: tree_sitter.Node, aliases: dict[str, str], when: list[str], via: str, depth: int
    ) -> list[Effect]:
        return [
            effect
            for body, conditions in if_branches(node)
            for effect in self._block(body, aliases, when + conditions, via, depth)
        ]

    def _expression(
        self, node: tree_sitter.Node, aliases: dict[str, str], when: list[str], via: str, depth: int
    ) -> list[Effect]:
        line = node.start_point.row + 1
        condition = " and ".join(when)
        if node.type == "assignment":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is None or right is None:
                return []
            if left.type == "identifier":  # a local: an alias of a part of the config, or no longer one
                target = _chain(right, aliases)
                name = node_text(left)
                if target is not None:
                    aliases[name] = target
                else:
                    aliases.pop(name, None)
                return []
            targets = left.named_children if left.type in ("pattern_list", "tuple_pattern") else [left]
            return [
                Effect(field, one_line(right), line, condition, via)
                for target in targets
                if target.type in ("attribute", "subscript")
                and (field := _chain(target, aliases)) is not None
                and field
            ] + [
                Effect(one_line(target), one_line(right), line, condition, via, process_wide=True)
                for target in targets
                if target.type in ("attribute", "subscript") and _process_wide(target)
            ]
        if node.type == "augmented_assignment":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            operator = node.child_by_field_name("operator")
            field = _chain(left, aliases) if left is not None else None
            if field and right is not None:
                written = f"{node_text(operator) if operator else '?='} {one_line(right)}"
                return [Effect(field, written, line, condition, via)]
            return []
        if node.type == "call":
            return self._call(node, aliases, when, via, depth)
        return []

    def _call(
        self, node: tree_sitter.Node, aliases: dict[str, str], when: list[str], via: str, depth: int
    ) -> list[Effect]:
        function, arguments = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        if function is None or function.type != "attribute":
            return []
        receiver, method = function.child_by_field_name("object"), function.child_by_field_name("attribute")
        if receiver is None or method is None:
            return []
        name = node_text(method)
        field = _chain(receiver, aliases)
        if _process_wide(function) and (name in _MUTATORS or name.startswith("set") or name == "putenv"):
            shown = one_line(arguments) if arguments is not None else "()"
            return [
                Effect(one_line(receiver), f".{name}{shown}", node.start_point.row + 1, " and ".join(when), via, True)
            ]
        if field and name in _MUTATORS:
            shown = one_line(arguments) if arguments is not None else "()"
            return [Effect(field, f".{name}{shown}", node.start_point.row + 1, " and ".join(when), via)]
        if receiver.type == "identifier" and node_text(receiver) in _RECEIVERS and depth == 0:
            return self._helper(name, arguments, aliases, when)
        return []

    def _helper(
        self, name: str, arguments: tree_sitter.Node | None, aliases: dict[str, str], when: list[str]
    ) -> list[Effect]:
        """A helper of the class called with (a part of) the config: its writes, as seen from the hook."""
        helper = self.methods.get(name)
        if helper is None or arguments is None:
            return []
        handed: dict[str, str] = {}
        positional = [argument for argument in arguments.named_children if argument.type != "keyword_argument"]
        names = _parameter_names(helper)
        for index, argument in enumerate(positional):
            chain = _chain(argument, aliases)
            if chain is not None and index < len(names):
                handed[names[index]] = chain
        for argument in arguments.named_children:
            if argument.type == "keyword_argument":
                key, value = argument.child_by_field_name("name"), argument.child_by_field_name("value")
                chain = _chain(value, aliases) if value is not None else None
                if key is not None and chain is not None:
                    handed[node_text(key)] = chain
        if not handed:
            return []
        if name not in self.helpers:
            self.helpers.append(name)
        body = helper.child_by_field_name("body")
        return self._block(body, handed, list(when), name, depth=1) if body is not None else []


def _parameter_names(function: tree_sitter.Node) -> list[str]:
    """The parameters after the receiver (`self`, `cls`): what a caller hands the hook or helper."""
    return [name for name in parameter_names(function) if name not in _RECEIVERS]


def _chain(node: tree_sitter.Node, aliases: dict[str, str]) -> str | None:
    """The path below the config that `node` names (`cache_config.block_size`), "" for the config itself, or None
    when it is not the config's."""
    if node.type == "identifier":
        return aliases.get(node_text(node))
    if node.type == "attribute":
        base = node.child_by_field_name("object")
        attribute = node.child_by_field_name("attribute")
        prefix = _chain(base, aliases) if base is not None else None
        if prefix is None or attribute is None:
            return None
        return f"{prefix}.{node_text(attribute)}" if prefix else node_text(attribute)
    if node.type == "subscript":
        value = node.child_by_field_name("value")
        prefix = _chain(value, aliases) if value is not None else None
        if not prefix:
            return None
        index = node.child_by_field_name("subscript")
        return f"{prefix}[{one_line(index) if index is not None else ''}]"
    if node.type == "parenthesized_expression" and node.named_children:
        return _chain(node.named_children[0], aliases)
    return None


# What a hook may set for the whole process rather than in the config: the environment the engine's workers
# inherit (os.environ), torch's global settings (torch.set_num_threads, torch.backends...), and sys's.
_PROCESS_WIDE = re.compile(r"^(os\.environ\b|os\.putenv$|torch\.|sys\.)")


def _process_wide(node: tree_sitter.Node) -> bool:
    """`os.environ[...]`, `os.environ.setdefault`, `torch.set_num_threads`, `torch.backends.x.y`, `sys.x`."""
    return _PROCESS_WIDE.match(one_line(node)) is not None


def _loop_guard(node: tree_sitter.Node) -> list[str]:
    if node.type == "for_statement":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and right is not None:
            return [f"for {one_line(left)} in {one_line(right)}"]
    if node.type == "while_statement":
        condition = node.child_by_field_name("condition")
        return [f"while {one_line(condition)}"] if condition is not None else []
    return []
