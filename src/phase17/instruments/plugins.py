"""How plugins load, read from upstream/: the plugin groups defined (`*_PLUGINS_GROUP` constants), where each
group is loaded (calls of the loaders, with the enclosing function), the builtin platform plugins and the
function that chooses among them, and a minimal out-of-tree platform plugin's entry point for the group found.

Nothing here names a vLLM value: the group strings, loaders and builtin plugins are whatever the tree holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phase17.cache import code_digest
from phase17.index.records import Needle
from phase17.index.tree import Tree
from phase17.instruments.material import Material, gather_material
from phase17.source.parsing import node_text, parse_tree, string_value
from phase17.source.sites import definition_sites, enclosing_qualname

if TYPE_CHECKING:
    import tree_sitter

GROUP_SUFFIX = "_PLUGINS_GROUP"
_GROUP_LIKE = re.compile(r"^[a-z][\w-]*(\.[a-z][\w-]*)+$")  # an entry-point group's name: vllm.logits_processors
LOADER_PREFIX = "load_"  # functions of the plugins package that load plugins: load_plugins_by_group and friends


@dataclass(frozen=True)
class Site:
    path: str
    line: int
    enclosing: str
    code: str

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "in": self.enclosing, "code": self.code}


@dataclass
class PluginGroup:
    constant: str
    value: str
    path: str
    line: int
    loaded_at: list[Site] = field(default_factory=list)


@dataclass
class PluginsReport:
    groups: list[PluginGroup]
    loaders: list[Site]  # the loader functions' definitions
    builtin_platforms: list[tuple[str, str, Site]]  # (key, function, where the function is defined)
    chooser: list[Site]  # functions that read the builtin table: where the platform is chosen
    platform_group: str | None
    material: Material = field(default_factory=Material)  # upstream's design docs and example plugins

    def entry_point_example(self) -> str | None:
        """A minimal out-of-tree platform plugin's pyproject.toml entry, for the platform group found."""
        if self.platform_group is None:
            return None
        return (
            f'[project.entry-points."{self.platform_group}"]\n'
            'my_platform = "my_platform_plugin:register"\n'
            "\n"
            "# my_platform_plugin/__init__.py\n"
            "def register() -> str | None:\n"
            '    """Return the Platform subclass\'s qualified name when this machine has the device, else None."""\n'
            '    return "my_platform_plugin.platform.MyPlatform"\n'
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "groups": [
                {
                    "constant": group.constant,
                    "value": group.value,
                    "path": group.path,
                    "line": group.line,
                    "loaded_at": [site.to_data() for site in group.loaded_at],
                }
                for group in self.groups
            ],
            "loaders": [site.to_data() for site in self.loaders],
            "builtin_platform_plugins": [
                {"key": key, "function": function, **site.to_data()} for key, function, site in self.builtin_platforms
            ],
            "chosen_in": [site.to_data() for site in self.chooser],
            "platform_group": self.platform_group,
            "entry_point_example": self.entry_point_example(),
            "material": self.material.to_data(),
        }


def plugin_facts(path: str, source: bytes) -> dict[str, Any]:
    """One file's plugin facts: group constants, loader definitions, loader calls (with their first argument),
    builtin plugin tables (`builtin_*_plugins = {...}`) and the functions that read them."""
    if b"plugin" not in source and b"PLUGIN" not in source and b"entry_points" not in source:
        return {}

    tree = parse_tree(source)
    lines = source.decode("utf-8", errors="replace").split("\n")
    sites = definition_sites(source, tree)

    def where(node: tree_sitter.Node) -> dict[str, Any]:
        row = node.start_point.row
        code = lines[row].strip() if row < len(lines) else ""
        return {"line": row + 1, "in": enclosing_qualname(sites, node.start_byte), "code": code}

    facts: dict[str, list[Any]] = {
        "groups": [],
        "constants": [],
        "loaders": [],
        "calls": [],
        "tables": [],
        "readers": [],
    }
    tables: set[str] = set()
    for statement in tree.root_node.children:
        target = (
            statement.named_children[0]
            if statement.type == "expression_statement" and statement.named_children
            else None
        )
        if target is None or target.type != "assignment":
            continue
        left, right = target.child_by_field_name("left"), target.child_by_field_name("right")
        if left is None or right is None or left.type != "identifier":
            continue
        name = node_text(left)
        if name.endswith(GROUP_SUFFIX) and right.type == "string":
            facts["groups"].append({"constant": name, "value": _string(right), **where(statement)})
        elif name.isupper() and right.type == "string" and _GROUP_LIKE.match(_string(right)):
            # a string constant that may name a group (`LOGITSPROCS_GROUP = "vllm.logits_processors"`): a group
            # when some loading call names it
            facts["constants"].append({"constant": name, "value": _string(right), **where(statement)})
        if name.startswith("builtin_") and name.endswith("_plugins") and right.type == "dictionary":
            tables.add(name)
            entries = []
            for pair in right.named_children:
                key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
                if pair.type == "pair" and key is not None and value is not None and key.type == "string":
                    entries.append([_string(key), node_text(value)])
            facts["tables"].append({"name": name, "entries": entries, **where(statement)})
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type == "function_definition":
            name_node = node.child_by_field_name("name")
            if (
                name_node is not None
                and node_text(name_node).startswith(LOADER_PREFIX)
                and "plugin" in node_text(name_node)
            ):
                facts["loaders"].append({"name": node_text(name_node), **where(node)})
        elif node.type == "call":
            function = node.child_by_field_name("function")
            called = node_text(function).rsplit(".", 1)[-1] if function is not None else ""
            group = _group_keyword(node) if called == "entry_points" else None
            if group is not None:  # importlib.metadata.entry_points(group=...): a group loaded without a loader
                facts["calls"].append({"loader": called, "argument": group, **where(node)})
            elif called.startswith(LOADER_PREFIX) and "plugin" in called:
                arguments = node.child_by_field_name("arguments")
                first = arguments.named_children[0] if arguments is not None and arguments.named_children else None
                if first is not None and first.type == "keyword_argument":
                    first = first.child_by_field_name("value")
                argument = (
                    _string(first)
                    if first is not None and first.type == "string"
                    else (node_text(first) if first is not None else "")
                )
                facts["calls"].append({"loader": called, "argument": argument, **where(node)})
        elif node.type == "identifier" and node_text(node) in tables:
            parent = node.parent
            if parent is not None and parent.type == "assignment" and parent.child_by_field_name("left") == node:
                continue
            facts["readers"].append({"table": node_text(node), **where(node)})
    return {key: value for key, value in facts.items() if value}


def _group_keyword(call: tree_sitter.Node) -> str | None:
    """The `group=` of an `entry_points(...)` call: the string, or the constant's name."""
    arguments = call.child_by_field_name("arguments")
    for argument in arguments.named_children if arguments is not None else []:
        key, value = argument.child_by_field_name("name"), argument.child_by_field_name("value")
        if argument.type == "keyword_argument" and key is not None and value is not None and node_text(key) == "group":
            return _string(value) if value.type == "string" else node_text(value).rsplit(".", 1)[-1]
    return None


def _string(node: tree_sitter.Node) -> str:
    return string_value(node_text(node)) or node_text(node)


def plugins_report(upstream: Tree, under: Sequence[str] = ("vllm",)) -> PluginsReport:
    """Every plugin group, where each loads, and how a platform plugin is chosen, below `under`."""
    from phase17.index.symbolindex import derived_answers

    needle = Needle((b"plugin", b"PLUGIN", b"entry_points"), {})  # what plugin_facts looks for first
    answers, _ = derived_answers(upstream, f"plugins:{code_digest()}", under, plugin_facts, needle=needle)
    groups: list[PluginGroup] = []
    loaders: list[Site] = []
    calls: list[tuple[str, dict[str, Any]]] = []
    builtin: list[tuple[str, str, Site]] = []
    chooser: list[Site] = []
    functions: dict[str, Site] = {}
    tables: list[tuple[str, dict[str, Any]]] = []
    constants: dict[str, PluginGroup] = {}
    for path, facts in answers:
        groups += [PluginGroup(item["constant"], item["value"], path, item["line"]) for item in facts.get("groups", [])]
        for item in facts.get("constants", []):
            constants.setdefault(item["constant"], PluginGroup(item["constant"], item["value"], path, item["line"]))
        loaders += [Site(path, item["line"], item["name"], item["code"]) for item in facts.get("loaders", [])]
        calls += [(path, item) for item in facts.get("calls", [])]
        tables += [(path, item) for item in facts.get("tables", [])]
        for item in facts.get("readers", []):
            if item["in"]:
                chooser.append(Site(path, item["line"], item["in"], item["code"]))
    for path, table in tables:
        for key, function in table["entries"]:
            functions[function] = Site(path, table["line"], function, f"{key!r}: {function}")
    from phase17.index.symbolindex import find_sites

    for path, table in tables:
        for key, function in table["entries"]:
            sites, _ = find_sites(upstream, qualname=function, under=(str(Path(path).parent),))
            found = next((site for site in sites if site.path == path), sites[0] if sites else None)
            site = Site(found.path, found.start_line, function, "") if found else functions[function]
            builtin.append((key, function, site))
    by_constant = {group.constant: group for group in groups}
    by_value = {group.value: group for group in groups}
    by_value.update({group.value: group for group in constants.values() if group.value not in by_value})
    for path, call in calls:  # every group a loading call names is a group, however its constant is spelled
        argument = call["argument"]
        group = by_constant.get(argument) or by_value.get(
            constants[argument].value if argument in constants else argument
        )
        if group is None and _GROUP_LIKE.match(argument):  # named by its string alone
            group = by_value[argument] = PluginGroup("", argument, path, call["line"])
        if group is None:
            continue
        if group not in groups:
            groups.append(group)
        group.loaded_at.append(Site(path, call["line"], call["in"], call["code"]))
    platform = next((group.value for group in groups if "PLATFORM" in group.constant), None)
    unique_chooser = list({(site.path, site.enclosing): site for site in chooser}.values())
    names = [group.value for group in groups] + [site.enclosing for site in loaders]
    material = gather_material(upstream, names, groups=None)
    return PluginsReport(groups, loaders, builtin, unique_chooser, platform, material)
