"""A new out-of-tree platform plugin, written from the contract at the pin: a pyproject.toml with the
`vllm.platform_plugins` entry point, a `register()` that returns the class's qualified name, and a Platform subclass
with the attributes the engine reads and, as TODOs, the hooks the engine calls that Platform leaves unimplemented
(raising NotImplementedError, or answering with what the engine refuses). Nothing more: every other hook is
Platform's own. `phase17 plugins check` lists the TODOs as what is left to do; it installs without vLLM."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path

from phase17.errors import WriteError
from phase17.index.tree import Tree
from phase17.instruments.classes import Member
from phase17.instruments.contract import BASE_NAME, BASE_PATH, build_contract
from phase17.pluginlab.calls import EngineCall, Parameters, calls_by_name
from phase17.pluginlab.judge import PLATFORM_ATTRIBUTES
from phase17.pluginlab.source import PLATFORM_GROUP, PluginError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_EMPTY = frozenset({'""', "''", "None"})


@dataclass(frozen=True)
class WrittenPlugin:
    folder: Path
    hooks: tuple[str, ...]  # the TODOs, by name

    def __str__(self) -> str:
        return str(self.folder)


def hooks_to_write(upstream: Tree) -> list[tuple[Member, list[EngineCall]]]:
    """The hooks a device plugin must write: the engine calls them outside any `try` that would catch the failure,
    and Platform either raises NotImplementedError or answers with what the engine refuses."""
    contract = build_contract(upstream, BASE_NAME, BASE_PATH)
    calls = calls_by_name(upstream, ("vllm",))
    needed = []
    for member in contract.base.members:
        if member.kind != "method" or member.name.startswith("_"):
            continue
        called = calls.get(member.name, [])
        if member.abstract and any(not call.handles("NotImplementedError") for call in called):
            needed.append((member, called))
        elif member.returns in _EMPTY and any(call.refuses_empty is not None for call in called):
            needed.append((member, called))
    return needed


def write_plugin(upstream: Tree, name: str, folder: Path) -> WrittenPlugin:
    """Write the plugin `name` (a Python package name: my_device) into `folder`, which must not exist yet."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise PluginError(f"{name!r}: a plugin's name here is a Python package name, such as my_device.")
    if folder.exists():
        raise WriteError(f"{folder} exists; give a new folder with --dir, or remove it.")
    hooks = hooks_to_write(upstream)
    package = f"{name}_plugin"
    cls = "".join(part.title() for part in name.split("_")) + "Platform"
    (folder / package).mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        _PYPROJECT.format(dist=name.replace("_", "-"), name=name, package=package, group=PLATFORM_GROUP),
        encoding="utf-8",
    )
    (folder / package / "__init__.py").write_text(_INIT.format(name=name, package=package, cls=cls), encoding="utf-8")
    imports = _imports_for(upstream, [member.signature for member, _ in hooks])
    (folder / package / "platform.py").write_text(_platform_module(cls, name, hooks, imports), encoding="utf-8")
    return WrittenPlugin(folder, tuple(member.name for member, _ in hooks))


_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}-plugin"
version = "0.1.0"
description = "An out-of-tree vLLM platform for {name}."
requires-python = ">=3.10"

[project.entry-points."{group}"]
{name} = "{package}:register"

[tool.setuptools]
packages = ["{package}"]
"""

_INIT = '''"""The {name} platform plugin: at start-up vLLM calls register() to learn whether the device is there."""


def register() -> str | None:
    """The qualified name of the Platform subclass when the device is there, else None (vLLM then tries others)."""
    return "{package}.platform.{cls}"
'''


def _imports_for(upstream: Tree, signatures: list[str]) -> list[str]:
    """The import statements of Platform's module that bind a name the signatures use (for a type checker: the
    written module imports them under TYPE_CHECKING, so it loads without them)."""
    from phase17.pluginlab.code import bindings_of
    from phase17.safety.files import read_limited
    from phase17.source.parsing import descendants, node_text, parse_tree

    used = set(
        re.findall(r"[A-Za-z_]\w*", " ".join(signature.split(" -> ")[-1] + signature for signature in signatures))
    )
    root = parse_tree(read_limited(upstream / BASE_PATH, 4 * 1024 * 1024, root=upstream.root)).root_node
    found: list[str] = []
    for node in descendants(root):
        if node.type in ("import_statement", "import_from_statement") and node.parent is not None:
            if node.parent.type == "module" or (
                node.parent.type == "block" and "TYPE_CHECKING" in node_text(node.parent.parent or node)
            ):
                if any(bound in used for bound, _ in bindings_of(node)) and node_text(node) not in found:
                    found.append(" ".join(node_text(node).split()))
    return sorted(found, key=lambda statement: statement.split()[1])


def _platform_module(cls: str, name: str, hooks: list[tuple[Member, list[EngineCall]]], imports: list[str]) -> str:
    values = {"device_name": f'"{name}"', "device_type": f'"{name}"', "dispatch_key": '"PrivateUse1"'}
    values["dist_backend"] = '"gloo"'
    lines = [
        f'"""{cls}: what vLLM asks of the {name} device. Every hook Platform implements is inherited; the ones',
        "below are the engine's calls Platform leaves to each device. Each TODO has Platform's signature at the pin;",
        'fill it in (phase17 plugins check . lists what is left)."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import TYPE_CHECKING",
        "",
        "from vllm.platforms.interface import Platform, PlatformEnum",
        "",
        *(
            ["if TYPE_CHECKING:  # the names the hooks' signatures use, as Platform's module imports them"]
            if imports
            else []
        ),
        *(f"    {statement}" for statement in imports),
        "",
        "",
        f"class {cls}(Platform):",
        "    _enum = PlatformEnum.OOT",
    ]
    lines += [f"    {attribute} = {values[attribute]}" for attribute in PLATFORM_ATTRIBUTES]
    for hook, called in hooks:
        if Parameters.of(hook.signature, hook.form) is None:
            continue
        first = called[0]
        lines += [
            "",
            *([f"    @{hook.form}"] if hook.form != "method" else []),
            f"    def {hook.name}{hook.signature}:",
        ]
        returns = hook.signature.partition(" -> ")[2].strip().strip("\"'") or "a value"
        why = (
            f"Platform's answer ({hook.returns}) is refused at {first.path}:{first.refuses_empty}"
            if hook.returns in _EMPTY
            else f"Platform raises NotImplementedError; the engine calls it at {first.path}:{first.line}"
        )
        lines.append(f'        """TODO: return {returns} for the {name} device. {why}."""')
        lines.append(f'        raise NotImplementedError("TODO: {cls}.{hook.name}")')
    return "\n".join(lines) + "\n"
