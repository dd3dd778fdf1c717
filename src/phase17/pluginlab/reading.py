"""Python read as it would run, without running it: what a name in a module is bound to (a class, a function, a
module, a string), through imports and re-exports, assignments and conditional expressions, a module's
`__getattr__`, and the strings a function returns (literals, f-strings and joins over a class's `__module__` and
`__qualname__`, other functions' and methods' results).

Every answer is a list of possibilities: `A if available else B` is both. What only running could tell is an
`Unread` value that says why and where, never a guess. Modules come from the plugin's files and from upstream's
tree, so a plugin's import of `vllm.platforms.cpu.CpuPlatform` is followed into vLLM's own code.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from phase17.pluginlab.code import (
    ClassRef,
    Code,
    FunctionRef,
    Module,
    ModuleRef,
    Text,
    Unread,
    Value,
    collect_bindings,
)
from phase17.source.parsing import node_text, parameter_names, string_value

if TYPE_CHECKING:
    import tree_sitter

MAX_STEPS = 2000  # expressions evaluated for one answer: far past any real plugin's entry point
MAX_CHOICES = 16  # possibilities kept for one value
MAX_DEPTH = 60  # expressions inside expressions followed (Python's own stack is the limit past this)


@dataclass
class Scope:
    """Where a name is looked up: a function's own bindings (with its parameters), then its module's."""

    module: Module
    local: dict[str, list[tree_sitter.Node]] = field(default_factory=dict)
    parameters: frozenset[str] = frozenset()
    known: dict[str, str] = field(default_factory=dict)  # a parameter whose value is known (__getattr__'s name)


class Reader:
    """Answers what names, expressions and functions stand for, following them through the code it can see."""

    def __init__(self, code: Code) -> None:
        self.code = code
        self._steps = 0
        self._depth = 0

    # ---------------------------------------------------------------- names

    def attribute_of_module(self, module_name: str, name: str, where: str) -> list[Value]:
        """`module_name`.`name` as an import or getattr would find it."""
        module = self.code.module(module_name)
        if module is None:
            if self.code.is_package(f"{module_name}.{name}") or self.code.module(f"{module_name}.{name}"):
                return [ModuleRef(f"{module_name}.{name}")]
            if self.code.is_package(module_name):
                return [Unread(f"{module_name} (a namespace package) has no module {name}", where)]
            return [Unread(f"{module_name} is neither the plugin's nor vLLM's: known only at run time", where)]
        sites = module.names.get(name)
        if sites:
            found = self._choices(self._binding(module, site, name) for site in sites)
            fallbacks = module.fallbacks.get(name)
            if fallbacks and all(isinstance(value, Unread) for value in found):
                return self._choices([found, *(self._binding(module, site, name) for site in fallbacks)])
            return found
        if name in module.fallbacks:
            return self._choices(self._binding(module, site, name) for site in module.fallbacks[name])
        if self.code.module(f"{module_name}.{name}") is not None or self.code.is_package(f"{module_name}.{name}"):
            return [ModuleRef(f"{module_name}.{name}")]
        for star in module.star_imports:
            source = self._from_module(module, star)
            if source is not None:
                found = self.attribute_of_module(source, name, where)
                if not all(isinstance(value, Unread) for value in found):
                    return found
        getattr_sites = [site for site in module.names.get("__getattr__", []) if site.type == "function_definition"]
        if getattr_sites:
            return self._choices(self._getattr_answers(module, site, name) for site in getattr_sites)
        return [Unread(f"{module_name} binds no name {name}", where)]

    def _binding(self, module: Module, site: tree_sitter.Node, name: str) -> list[Value]:
        if not self._step():
            return [Unread("too many steps to follow", module.line(site))]
        if site.type == "class_definition":
            return [ClassRef(module.name, name, module.origin, module.path, site.start_point.row + 1)]
        if site.type == "function_definition":
            return [self._function(module, site, name)]
        if site.type == "assignment":
            right = site.child_by_field_name("right")
            return self.evaluate(right, Scope(module)) if right is not None else []
        statement = site.parent
        if statement is not None and statement.type == "import_from_statement":
            source = self._from_module(module, statement)
            item = site.child_by_field_name("name") if site.type == "aliased_import" else site
            if source is None or item is None:
                return [Unread("a relative import above the top package", module.line(site))]
            return self.attribute_of_module(source, node_text(item), module.line(site))
        if statement is not None and statement.type == "import_statement":
            item = site.child_by_field_name("name") if site.type == "aliased_import" else site
            dotted = node_text(item) if item is not None else ""
            return [ModuleRef(dotted if site.type == "aliased_import" else dotted.split(".")[0])]
        return [Unread(f"{name} is bound by a {site.type}", module.line(site))]

    def _from_module(self, module: Module, statement: tree_sitter.Node) -> str | None:
        """The absolute name of the module a `from X import ...` statement reads."""
        named = statement.child_by_field_name("module_name")
        if named is None:
            return None
        if named.type != "relative_import":
            return node_text(named)
        dots = sum(node_text(part).count(".") for part in named.children if part.type == "import_prefix")
        rest = next((node_text(part) for part in named.children if part.type == "dotted_name"), "")
        package = self.code.package_of(module).split(".") if self.code.package_of(module) else []
        if dots - 1 > len(package):
            return None
        base = package[: len(package) - (dots - 1)]
        return ".".join([*base, rest] if rest else base) or None

    def _function(self, module: Module, node: tree_sitter.Node, qualname: str) -> FunctionRef:
        module.functions[id(node)] = node
        return FunctionRef(module.name, qualname, module.path, node.start_point.row + 1, id(node))

    # ---------------------------------------------------------------- expressions

    def evaluate(self, node: tree_sitter.Node, scope: Scope) -> list[Value]:
        """What the expression `node` may be, in `scope`."""
        where = scope.module.line(node)
        if not self._step() or self._depth >= MAX_DEPTH:
            return [Unread("too many steps to follow (nested too deeply)", where)]
        self._depth += 1
        try:
            return self._evaluated(node, scope, where)
        finally:
            self._depth -= 1

    def _evaluated(self, node: tree_sitter.Node, scope: Scope, where: str) -> list[Value]:
        kind = node.type
        if kind in ("parenthesized_expression", "expression_statement") and node.named_children:
            return self.evaluate(node.named_children[0], scope)
        if kind == "string":
            return self._string(node, scope)
        if kind == "concatenated_string":
            return self._joined([self._string(part, scope) for part in node.named_children], "", where)
        if kind == "identifier":
            return self._name(node_text(node), scope, where)
        if kind == "attribute":
            return self._attribute(node, scope, where)
        if kind == "call":
            return self._call(node, scope, where)
        if kind == "conditional_expression" and len(node.named_children) == 3:
            body, _, other = node.named_children
            return self._choices([self.evaluate(body, scope), self.evaluate(other, scope)])
        if kind == "boolean_operator":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            parts = [self.evaluate(side, scope) for side in (left, right) if side is not None]
            return self._choices(parts)
        if kind == "binary_operator" and node_text(node.child_by_field_name("operator") or node) == "+":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and right is not None:
                return self._joined([self.evaluate(left, scope), self.evaluate(right, scope)], "", where)
        if kind == "none":
            return []
        return [Unread(f"`{_short(node)}` is computed at run time", where)]

    def _name(self, name: str, scope: Scope, where: str) -> list[Value]:
        if name in scope.known:
            return [Text(scope.known[name], where)]
        if name in scope.local:
            return self._choices(self._local_binding(scope, site, name) for site in scope.local[name])
        if name in scope.parameters:
            return [Unread(f"{name} is a parameter, known only at run time", where)]
        if name in scope.module.names or name in scope.module.fallbacks:
            return self.attribute_of_module(scope.module.name, name, where)
        return [Unread(f"{name} is no name the module binds", where)]

    def _local_binding(self, scope: Scope, site: tree_sitter.Node, name: str) -> list[Value]:
        if site.type == "assignment":
            right = site.child_by_field_name("right")
            return self.evaluate(right, scope) if right is not None else []
        return self._binding(scope.module, site, name)

    def _attribute(self, node: tree_sitter.Node, scope: Scope, where: str) -> list[Value]:
        owner, attribute = node.child_by_field_name("object"), node.child_by_field_name("attribute")
        if owner is None or attribute is None:
            return [Unread("an attribute with no owner", where)]
        name = node_text(attribute)
        values = []
        for value in self.evaluate(owner, scope):
            if isinstance(value, ModuleRef):
                values.append(self.attribute_of_module(value.name, name, where))
            elif isinstance(value, ClassRef):
                values.append(self.class_attribute(value, name, where))
            elif isinstance(value, Unread):
                values.append([value])
            else:
                values.append([Unread(f"`{_short(node)}` is computed at run time", where)])
        return self._choices(values)

    def class_attribute(self, cls: ClassRef, name: str, where: str) -> list[Value]:
        """A class's own `__module__`, `__qualname__`, `__name__`, a method of its body, or a value it sets."""
        if name == "__module__":
            return [Text(cls.module, where)]
        if name in ("__qualname__", "__name__"):
            return [Text(cls.name.rsplit(".", 1)[-1] if name == "__name__" else cls.name, where)]
        module = self.code.module(cls.module)
        node = _class_node(module, cls) if module is not None else None
        body = node.child_by_field_name("body") if node is not None else None
        if module is None or body is None:
            return [Unread(f"the body of {cls.name} cannot be read", where)]
        local: dict[str, list[tree_sitter.Node]] = {}
        collect_bindings(body, local)
        sites = local.get(name)
        if not sites:
            return [Unread(f"{cls.name}.{name} is not in the class's own body", where)]
        found: list[list[Value]] = []
        for site in sites:
            if site.type == "function_definition":
                found.append([self._function(module, site, f"{cls.name}.{name}")])
            elif site.type == "assignment" and (right := site.child_by_field_name("right")) is not None:
                found.append(self.evaluate(right, Scope(module)))
        return self._choices(found)

    def _call(self, node: tree_sitter.Node, scope: Scope, where: str) -> list[Value]:
        function, arguments = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        if function is None or arguments is None:
            return [Unread("a call with no function", where)]
        given = [argument for argument in arguments.named_children if argument.type != "comment"]
        if function.type == "attribute":
            owner, attribute = function.child_by_field_name("object"), function.child_by_field_name("attribute")
            if owner is not None and attribute is not None and owner.type == "string":
                return self._string_method(owner, node_text(attribute), given, scope, where)
        if function.type == "identifier" and node_text(function) == "str" and len(given) == 1:
            return self.evaluate(given[0], scope)
        found = []
        for value in self.evaluate(function, scope):
            if isinstance(value, FunctionRef):
                found.append(self.returns(value))
            else:  # a call of something phase17 cannot follow: its answer is the program's to give
                found.append([Unread(f"`{_short(node)}` is computed at run time", where)])
        return self._choices(found)

    def _string_method(
        self, owner: tree_sitter.Node, method: str, given: list[tree_sitter.Node], scope: Scope, where: str
    ) -> list[Value]:
        separator = string_value(node_text(owner))
        if separator is None:
            return [Unread(f"`{_short(owner)}` is computed at run time", where)]
        if method == "join" and len(given) == 1 and given[0].type in ("list", "tuple"):
            return self._joined([self.evaluate(item, scope) for item in given[0].named_children], separator, where)
        if method == "format" and all(item.type != "keyword_argument" for item in given):
            pieces = separator.split("{}")
            if len(pieces) == len(given) + 1:
                parts: list[list[Value]] = []
                for piece, item in zip(pieces, [*given, None], strict=True):
                    parts.append([Text(piece, where)])
                    if item is not None:
                        parts.append(self.evaluate(item, scope))
                return self._joined(parts, "", where)
        return [Unread(f"`{method}` of a string is computed at run time", where)]

    def _string(self, node: tree_sitter.Node, scope: Scope) -> list[Value]:
        where = scope.module.line(node)
        pieces = [part for part in node.named_children if part.type in ("string_content", "interpolation")]
        if not any(part.type == "interpolation" for part in pieces):
            value = string_value(node_text(node))
            return [Text(value, where)] if value is not None else [Unread("a bytes literal", where)]
        parts: list[list[Value]] = []
        for part in pieces:
            if part.type == "string_content":
                parts.append([Text(node_text(part), where)])
                continue
            expression = part.child_by_field_name("expression")
            if expression is None or any(c.type in ("type_conversion", "format_specifier") for c in part.children):
                return [Unread(f"`{_short(node)}` formats a value at run time", where)]
            parts.append(self.evaluate(expression, scope))
        return self._joined(parts, "", where)

    def _joined(self, parts: list[list[Value]], separator: str, where: str) -> list[Value]:
        unread: list[Value] = [value for part in parts for value in part if isinstance(value, Unread)]
        if unread:
            return unread[:1]
        texts = [[value for value in part if isinstance(value, Text)] for part in parts]
        if any(not text or len(text) != len(part) for text, part in zip(texts, parts, strict=True)):
            return [Unread("a string made of something other than strings", where)]
        return [
            Text(separator.join(piece.value for piece in combination), where)
            for combination in itertools.islice(itertools.product(*texts), MAX_CHOICES)
        ]

    # ---------------------------------------------------------------- functions

    def returns(self, function: FunctionRef, wanted: str | None = None) -> list[Value]:
        """What `function` may return (None, the "not here" answer, left out)."""
        module = self.code.module(function.module)
        node = module.functions.get(function.key) if module is not None else None
        if module is None or node is None:
            return [Unread(f"{function.qualname} cannot be read", f"{function.path}:{function.line}")]
        parameters = parameter_names(node)
        local: dict[str, list[tree_sitter.Node]] = {}
        body = node.child_by_field_name("body")
        if body is None:
            return []
        collect_bindings(body, local)
        known = {parameters[0]: wanted} if wanted is not None and parameters else {}
        scope = Scope(module, local, frozenset(parameters), known)
        found = [
            self.evaluate(value, scope)
            for statement in _returns_in(body, known)
            if (value := _returned(statement)) is not None
        ]
        return self._choices(found)

    def _getattr_answers(self, module: Module, node: tree_sitter.Node, name: str) -> list[Value]:
        """What a module's `__getattr__(name)` returns for `name`, its branches for other names left out."""
        return self.returns(self._function(module, node, "__getattr__"), wanted=name)

    # ---------------------------------------------------------------- bookkeeping

    def _step(self) -> bool:
        self._steps += 1
        return self._steps <= MAX_STEPS

    @staticmethod
    def _choices(groups: Iterator[list[Value]] | list[list[Value]]) -> list[Value]:
        """Every possibility once, in order, at most MAX_CHOICES."""
        found: list[Value] = []
        for group in groups:
            for value in group:
                if value not in found:
                    found.append(value)
        return found[:MAX_CHOICES]


def _class_node(module: Module, cls: ClassRef) -> tree_sitter.Node | None:
    for site in module.names.get(cls.name.split(".")[0], []):
        if site.type == "class_definition" and site.start_point.row + 1 == cls.line:
            return site
    return None


def _returned(statement: tree_sitter.Node) -> tree_sitter.Node | None:
    return statement.named_children[0] if statement.named_children else None


def _returns_in(body: tree_sitter.Node, known: dict[str, str]) -> Iterator[tree_sitter.Node]:
    """The return statements of a function's body (not of the defs, classes and lambdas in it); with a known
    parameter (`__getattr__`'s name), an `if name == "X"` branch for another name is left out."""
    stack = [body]
    while stack:
        node = stack.pop()
        if node.type == "return_statement":
            yield node
            continue
        if node.type in ("function_definition", "class_definition", "lambda", "decorated_definition"):
            continue
        if node.type in ("if_statement", "elif_clause") and known:
            verdict = _decided(node.child_by_field_name("condition"), known)
            if verdict is not None:
                consequence = node.child_by_field_name("consequence")
                if verdict and consequence is not None:
                    stack.append(consequence)
                if not verdict:
                    stack.extend(reversed(node.children_by_field_name("alternative")))
                continue
        stack.extend(reversed(node.children))


def _decided(condition: tree_sitter.Node | None, known: dict[str, str]) -> bool | None:
    """Whether `name == "X"` (or `name in ("X", ...)`) holds for the known name; None when it is no such test."""
    if condition is None or condition.type != "comparison_operator" or len(condition.named_children) != 2:
        return None
    left, right = condition.named_children
    text = node_text(condition)
    operator = "in" if re.search(r"\bnot\s+in\b|\bin\b", text) else ("==" if "==" in text else None)
    if operator is None or "not" in text.split():
        return None
    if left.type == "identifier" and node_text(left) in known:
        value, other = known[node_text(left)], right
    elif right.type == "identifier" and node_text(right) in known and operator == "==":
        value, other = known[node_text(right)], left
    else:
        return None
    if operator == "==" and other.type == "string":
        return string_value(node_text(other)) == value
    if operator == "in" and other.type in ("tuple", "list", "set"):
        return value in {string_value(node_text(item)) for item in other.named_children}
    return None


def _short(node: tree_sitter.Node) -> str:
    text = " ".join(node_text(node).split())
    return text if len(text) <= 60 else text[:57] + "..."
