"""The code a reading may enter, as values and modules: what a name can stand for (a string, a class, a function, a
module, or something only running would tell), each module of the plugin or of upstream's tree parsed once, and
the names each scope binds (in if/try/with blocks too; what `if TYPE_CHECKING:` guards never runs, and what an
`except` clause binds is a fallback)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from phase17.errors import UnreadableSourceError
from phase17.index.tree import Tree
from phase17.instruments.classes import classes_of
from phase17.safety.files import read_limited
from phase17.source.parsing import ParseTooSlowError, node_text, parse_tree

if TYPE_CHECKING:
    import tree_sitter

    from phase17.pluginlab.source import PluginFiles

Origin = Literal["plugin", "upstream"]
MAX_UPSTREAM_FILE = 4 * 1024 * 1024


@dataclass(frozen=True)
class Text:
    value: str
    where: str  # path:line of the expression that makes it


@dataclass(frozen=True)
class ClassRef:
    module: str
    name: str
    origin: Origin
    path: str
    line: int

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class FunctionRef:
    module: str
    qualname: str  # f, or C.f for a method
    path: str
    line: int
    key: int  # which function node (Module.functions)


@dataclass(frozen=True)
class ModuleRef:
    name: str


@dataclass(frozen=True)
class Unread:
    why: str
    where: str

    def __str__(self) -> str:
        return f"{self.where}: {self.why}"


Value = Union[Text, ClassRef, FunctionRef, ModuleRef, Unread]


@dataclass
class Module:
    """One parsed module and the names its top level binds (in if/try/with blocks too)."""

    name: str
    path: str
    origin: Origin
    source: bytes
    root: tree_sitter.Node
    names: dict[str, list[tree_sitter.Node]] = field(default_factory=dict)
    fallbacks: dict[str, list[tree_sitter.Node]] = field(default_factory=dict)  # bound in an `except` clause
    functions: dict[int, tree_sitter.Node] = field(default_factory=dict)
    star_imports: list[tree_sitter.Node] = field(default_factory=list)

    def line(self, node: tree_sitter.Node) -> str:
        return f"{self.path}:{node.start_point.row + 1}"


class Code:
    """The modules a reading may enter: the plugin's files, and upstream's tree (`vllm.*`) at one release."""

    def __init__(self, plugin: PluginFiles, upstream: Tree, upstream_package: str = "vllm") -> None:
        self.plugin = plugin
        self.upstream = upstream
        self.upstream_package = upstream_package
        self._modules: dict[str, Module | None] = {}
        self._classes: dict[str, list[dict[str, Any]]] = {}
        self.unreadable: list[str] = []

    def module(self, name: str) -> Module | None:
        if name not in self._modules:
            self._modules[name] = self._load(name)
        return self._modules[name]

    def is_package(self, name: str) -> bool:
        if self._upstream_name(name):
            folder = self.upstream.root.joinpath(*name.split("."))
            return folder.is_dir() and not folder.is_symlink()
        return self.plugin.is_package(name)

    def _upstream_name(self, name: str) -> bool:
        return name == self.upstream_package or name.startswith(f"{self.upstream_package}.")

    def _load(self, name: str) -> Module | None:
        if self._upstream_name(name):
            found = self._upstream_source(name)
            if found is None:
                return None
            path, source = found
            origin: Origin = "upstream"
        else:
            plugin_path = self.plugin.module_path(name)
            if plugin_path is None:
                return None
            path, source, origin = plugin_path, self.plugin.files[plugin_path], "plugin"
        try:
            tree = parse_tree(source)
        except ParseTooSlowError as error:
            self.unreadable.append(f"{path}: {error}")
            return None
        module = Module(name, path, origin, source, tree.root_node)
        collect_bindings(module.root, module.names, module.star_imports, module.fallbacks)
        return module

    def _upstream_source(self, name: str) -> tuple[str, bytes] | None:
        relative = name.replace(".", "/")
        for candidate in (f"{relative}.py", f"{relative}/__init__.py"):
            try:
                return candidate, read_limited(self.upstream / candidate, MAX_UPSTREAM_FILE, root=self.upstream.root)
            except FileNotFoundError:
                continue
            except (OSError, UnreadableSourceError) as error:
                self.unreadable.append(f"{candidate}: {error}")
                return None
        return None

    def classes(self, module: Module) -> list[dict[str, Any]]:
        """The module's class records (instruments.classes), read once however many lineages pass through it."""
        if module.name not in self._classes:
            self._classes[module.name] = classes_of(module.path, module.source)["classes"]
        return self._classes[module.name]

    def package_of(self, module: Module) -> str:
        return module.name if module.path.endswith("__init__.py") else module.name.rpartition(".")[0]


_SAME_SCOPE = frozenset(
    {"if_statement", "try_statement", "with_statement", "for_statement", "while_statement", "block", "with_clause"}
)
_FALLBACK = "except_clause"  # what runs only when the try's body failed (an ImportError without vLLM, say)


def collect_bindings(
    block: tree_sitter.Node,
    names: dict[str, list[tree_sitter.Node]],
    stars: list[tree_sitter.Node] | None = None,
    fallbacks: dict[str, list[tree_sitter.Node]] | None = None,
) -> None:
    """Every binding site of `block`'s own scope by name, in source order: defs, classes, imports, assignments.
    The blocks of if/try/with/for/while are the same scope (a def's or class's body is not); what `if
    TYPE_CHECKING:` guards never runs, and what an `except` clause binds goes to `fallbacks`."""
    stack: list[tuple[tree_sitter.Node, bool]] = [(child, False) for child in reversed(block.children)]
    while stack:
        child, fallback = stack.pop()
        target = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
        if target is None:
            continue
        bound = fallbacks if fallback and fallbacks is not None else names
        for name, site in bindings_of(target):
            bound.setdefault(name, []).append(site)
        if stars is not None and target.type == "import_from_statement":
            stars += [target] if any(part.type == "wildcard_import" for part in target.children) else []
        if target.type in _SAME_SCOPE or target.type.endswith("_clause"):
            inner = fallback or target.type == _FALLBACK
            condition = target.child_by_field_name("condition")
            for part in reversed(target.children):
                if target.type == "if_statement" and part.type == "block" and _type_checking(condition):
                    continue  # the consequence of `if TYPE_CHECKING:`: never run
                stack.append((part, inner))


def bindings_of(target: tree_sitter.Node) -> list[tuple[str, tree_sitter.Node]]:
    """The names one statement binds (a def, a class, an import, an assignment), each with its binding site."""
    if target.type in ("class_definition", "function_definition"):
        named = target.child_by_field_name("name")
        return [(node_text(named), target)] if named is not None else []
    if target.type in ("import_statement", "import_from_statement"):
        found = []
        for item in target.children_by_field_name("name"):
            alias = item.child_by_field_name("alias")
            parts = node_text(item.child_by_field_name("name") or item).split(".")
            bound = (
                node_text(alias)
                if alias is not None
                else (parts[0] if target.type == "import_statement" else parts[-1])
            )
            found.append((bound, item))
        return found
    if target.type == "expression_statement" and target.named_children:
        assignment = target.named_children[0]
        left = assignment.child_by_field_name("left") if assignment.type == "assignment" else None
        if left is not None and left.type == "identifier" and assignment.child_by_field_name("right"):
            return [(node_text(left), assignment)]
    return []


def _type_checking(condition: tree_sitter.Node | None) -> bool:
    return condition is not None and node_text(condition).strip() in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
