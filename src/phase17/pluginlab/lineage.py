"""From an entry point to the platform class(es) vLLM would load, and each class's lineage: its bases, in the plugin
and in vLLM's own tree (`CpuPlatform`, `CudaPlatformBase`, ...), in Python's method resolution order, with what each
defines. Read with pluginlab.reading, never run."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from phase17.instruments.classes import ClassInfo, stored_members
from phase17.instruments.contract import BASE_NAME, BASE_PATH
from phase17.pluginlab.code import ClassRef, Code, FunctionRef, ModuleRef, Text, Unread, Value
from phase17.pluginlab.findings import EntryPoint
from phase17.pluginlab.reading import Reader, Scope
from phase17.source.parsing import descendants, node_text

if TYPE_CHECKING:
    import tree_sitter

    from phase17.instruments.classes import Member

_QUALNAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
_PLAIN_BASES = frozenset({"object", "ABC", "Generic", "Protocol"})
BASE_MODULE = BASE_PATH.removesuffix(".py").replace("/", ".")


@dataclass
class Chosen:
    """The classes an entry point leads to, the strings that named them, and what could not be read."""

    classes: list[ClassRef] = field(default_factory=list)
    named: list[Text] = field(default_factory=list)
    aliases: dict[ClassRef, str] = field(default_factory=dict)  # a class reached through `X = A if .. else B`
    unread: list[Unread] = field(default_factory=list)


def classes_of_entry(entry: EntryPoint, code: Code) -> Chosen:
    """What `entry`'s function returns, read, and the class each returned name is: vLLM imports the module before
    the last dot and takes the name after it (resolve_obj_by_qualname)."""
    chosen = Chosen()
    reader = Reader(code)
    module, _, attributes = entry.value.partition(":")
    where = f"{entry.path}:{entry.line}"
    values: list[Value] = [ModuleRef(module.strip())]
    for part in re.sub(r"\[.*\]$", "", attributes).strip().split(".") if attributes.strip() else []:
        values = [found for value in values for found in _attribute(reader, value, part, where)]
    returned: list[Value] = []
    for value in values:
        if isinstance(value, FunctionRef):
            returned += reader.returns(value)
        elif isinstance(value, Unread):
            returned.append(value)
        else:
            returned.append(Unread(f"{entry.value} names no function vLLM can call", where))
    for value in returned:
        if isinstance(value, Text) and _QUALNAME.fullmatch(value.value):
            chosen.named.append(value)
            module_name, _, name = value.value.rpartition(".")
            for found in reader.attribute_of_module(module_name, name, value.where):
                _keep(chosen, found, value)
        elif isinstance(value, Text):
            chosen.unread.append(Unread(f"returns {value.value!r}, which is no module.Class name", value.where))
        elif isinstance(value, Unread):
            chosen.unread.append(value)
        else:
            chosen.unread.append(Unread("returns something other than a class's name", where))
    return chosen


def _attribute(reader: Reader, value: Value, name: str, where: str) -> list[Value]:
    if isinstance(value, ModuleRef):
        return reader.attribute_of_module(value.name, name, where)
    if isinstance(value, ClassRef):
        return reader.class_attribute(value, name, where)
    return [value] if isinstance(value, Unread) else [Unread(f"no attribute {name} to read", where)]


def _keep(chosen: Chosen, found: Value, named: Text) -> None:
    if isinstance(found, ClassRef):
        if found not in chosen.classes:
            chosen.classes.append(found)
        if not named.value.endswith(f".{found.name}"):
            chosen.aliases[found] = named.value.rsplit(".", 1)[-1]
    elif isinstance(found, Unread):
        chosen.unread.append(found)
    else:
        chosen.unread.append(Unread(f"{named.value} is no class", named.where))


# ---------------------------------------------------------------- lineage


@dataclass(frozen=True)
class Lineage:
    """A class and its bases in method resolution order, each with what it defines."""

    order: tuple[ClassRef, ...]
    infos: dict[ClassRef, ClassInfo]
    unread: tuple[Unread, ...] = ()

    @property
    def derives_platform(self) -> bool:
        return any(is_platform_base(cls) for cls in self.order)

    def defined(self) -> dict[str, tuple[ClassRef, Member]]:
        """Each member name with the class that defines it first in the order (what an instance gets)."""
        found: dict[str, tuple[ClassRef, Member]] = {}
        for cls in self.order:
            for member in self.infos[cls].members:
                found.setdefault(member.name, (cls, member))
        return found

    def above(self, name: str) -> tuple[ClassRef, Member] | None:
        """The first definition of `name` outside the plugin: what the plugin's own one overrides."""
        for cls in self.order:
            if cls.origin == "upstream":
                member = self.infos[cls].member(name)
                if member is not None:
                    return cls, member
        return None

    def platform(self) -> tuple[ClassRef, ClassInfo] | None:
        return next(((cls, self.infos[cls]) for cls in self.order if is_platform_base(cls)), None)


def is_platform_base(cls: ClassRef) -> bool:
    return cls.origin == "upstream" and cls.module == BASE_MODULE and cls.name == BASE_NAME


def lineage_of(cls: ClassRef, code: Code, infos: dict[ClassRef, ClassInfo] | None = None) -> Lineage:
    """The method resolution order of `cls` (C3, as Python computes it), each class read where it is defined."""
    infos = {} if infos is None else infos
    bases: dict[ClassRef, list[ClassRef]] = {}
    unread: list[Unread] = []
    stack = [cls]
    while stack:
        current = stack.pop()
        if current in bases:
            continue
        info, found, missing = _class_and_bases(current, code)
        if info is None:
            unread += missing
            bases[current] = []
            continue
        infos[current] = info
        bases[current] = found
        unread += missing
        stack.extend(found)
    order = _c3(cls, bases) or _depth_first(cls, bases)
    return Lineage(tuple(item for item in order if item in infos), infos, tuple(unread))


def _class_and_bases(cls: ClassRef, code: Code) -> tuple[ClassInfo | None, list[ClassRef], list[Unread]]:
    module = code.module(cls.module)
    if module is None:
        return None, [], [Unread(f"the module of {cls.qualname} cannot be read", cls.where)]
    records = [item for item in code.classes(module) if item["line"] == cls.line]
    if not records:
        return None, [], [Unread(f"no class {cls.name} at that line", cls.where)]
    info = class_info(module.path, records[0])
    reader = Reader(code)
    node = _class_node(module.root, cls.line)
    arguments = node.child_by_field_name("superclasses") if node is not None else None
    found: list[ClassRef] = []
    missing: list[Unread] = []
    for argument in arguments.named_children if arguments is not None else []:
        if argument.type in ("keyword_argument", "comment", "list_splat", "dictionary_splat"):
            continue
        expression = argument.child_by_field_name("value") if argument.type == "subscript" else argument
        if expression is None or node_text(expression).rsplit(".", 1)[-1] in _PLAIN_BASES:
            continue
        values = reader.evaluate(expression, Scope(module))
        classes = [value for value in values if isinstance(value, ClassRef)]
        if classes:
            found.append(classes[0])  # a base that may be one of several: the first, said below
            if len(classes) > 1:
                names = ", ".join(item.name for item in classes)
                missing.append(
                    Unread(f"base {node_text(expression)} may be any of {names}; read as the first", cls.where)
                )
        elif cls.origin == "plugin":
            why = next((str(value.why) for value in values if isinstance(value, Unread)), "not a class phase17 sees")
            missing.append(Unread(f"base {node_text(expression)} of {cls.name}: {why}", cls.where))
    return info, found, missing


def class_info(path: str, record: dict[str, Any]) -> ClassInfo:
    """A class record of classes_of as a ClassInfo."""
    return ClassInfo(
        record["name"], path, record["line"], record["end"], tuple(record["bases"]), stored_members(record["members"])
    )


def _class_node(root: tree_sitter.Node, line: int) -> tree_sitter.Node | None:
    for node in descendants(root):
        if node.type == "class_definition" and node.start_point.row + 1 == line:
            return node
    return None


def _c3(cls: ClassRef, bases: dict[ClassRef, list[ClassRef]]) -> list[ClassRef] | None:
    """Python's C3 linearization; None when the bases admit none (Python would refuse the class)."""
    memo: dict[ClassRef, list[ClassRef] | None] = {}

    def linear(current: ClassRef, seen: frozenset[ClassRef]) -> list[ClassRef] | None:
        if current in memo:
            return memo[current]
        if current in seen:
            return None  # a cycle: no order
        parents = bases.get(current, [])
        lists = [linear(parent, seen | {current}) for parent in parents]
        if any(item is None for item in lists):
            return None
        sequences = [list(item) for item in lists if item] + [list(parents)]
        result = [current]
        while any(sequences):
            head = next(
                (
                    sequence[0]
                    for sequence in sequences
                    if sequence and not any(sequence[0] in other[1:] for other in sequences)
                ),
                None,
            )
            if head is None:
                memo[current] = None
                return None
            result.append(head)
            sequences = [sequence[1:] if sequence and sequence[0] == head else sequence for sequence in sequences]
        memo[current] = result
        return result

    return linear(cls, frozenset())


def _depth_first(cls: ClassRef, bases: dict[ClassRef, list[ClassRef]]) -> list[ClassRef]:
    order: list[ClassRef] = []
    stack = [cls]
    while stack:
        current = stack.pop()
        if current not in order:
            order.append(current)
            stack.extend(reversed(bases.get(current, [])))
    return order


def plugin_platform_classes(code: Code, modules: Sequence[str]) -> list[ClassRef]:
    """Every class of the plugin's `modules` whose lineage reaches vLLM's Platform: what is checked when the entry
    point's choice cannot be read."""
    found = []
    for name in modules:
        module = code.module(name)
        if module is None:
            continue
        for item in code.classes(module):
            cls = ClassRef(name, item["name"], "plugin", module.path, item["line"])
            if lineage_of(cls, code).derives_platform:
                found.append(cls)
    return found
