"""The package's shape, read from its own imports: layers that point one way, no cycle, a light `--help`.

Every import counts, at module level, inside a function or under TYPE_CHECKING: a cycle closed by an import in a
function is still a cycle to the next maintainer.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src" / "phase17"

# Lowest first. A module may import its own package and any layer below it, never one above. The leaves at the top
# of the package are one layer: records and helpers every layer may use, which import nothing of phase17.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "progress", "cache", "prompts"),
    ("safety",),
    ("source",),
    ("yamlio",),
    ("upstream",),
    ("index",),
    ("instruments",),
    ("pluginlab",),
    ("notes",),
    ("drift",),
    ("render",),
    ("cli", "__main__"),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# Libraries a bare `phase17 --help` must never load: each costs more than the rest of the command.
HEAVY = ("tree_sitter", "pydantic", "git", "yaml", "ruamel", "rich.syntax", "pypi_simple", "requests")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(SOURCE.rglob("*.py"))}


def _imported(module: str, text: str, *, is_package: bool = False) -> set[str]:
    """The phase17 modules `module` imports anywhere in its text, submodules named in `from X import Y` included."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {
    module: _imported(module, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py")
    for module, path in MODULES.items()
}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "phase17"


def test_every_package_and_leaf_has_a_layer():
    named = {_layer(module) for module in MODULES} - {"phase17"}
    assert named == set(RANK), f"give these a layer, or drop them from LAYERS: {sorted(named ^ set(RANK))}"


def test_layering_no_import_points_up():
    upward = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _layer(module) != "phase17"
        and _layer(target) != "phase17"
        and _layer(target) != _layer(module)
        and RANK[_layer(target)] > RANK[_layer(module)]
    ]
    assert not upward, "imports that point up a layer:\n" + "\n".join(sorted(upward))


def test_layering_the_leaves_import_no_other_layer():
    leaves = [module for module in GRAPH if _layer(module) in LAYERS[0]]
    assert leaves and not {module: GRAPH[module] for module in leaves if GRAPH[module]}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_layering_no_import_cycle():
    assert not _cycles(GRAPH)


def test_layering_the_cycle_finder_finds_a_cycle_through_a_function_level_import():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    late = "def late():\n    from phase17.cli import app\n\nif TYPE_CHECKING:\n    from phase17.drift import findings\n"
    assert _imported("phase17.errors", late) == {"phase17.cli.app", "phase17.drift.findings"}


def test_layering_each_package_says_what_it_owns_and_stays_small():
    packages = sorted({module for module, path in MODULES.items() if path.name == "__init__.py"} - {"phase17"})
    assert len(packages) >= 6
    for package in packages:
        tree = ast.parse(MODULES[package].read_text(encoding="utf-8"))
        docstring = ast.get_docstring(tree)
        assert docstring and "\n" not in docstring.strip(), f"{package}/__init__.py: one line saying what it owns"
        assert "TODO" not in docstring, f"{package}/__init__.py: say what it owns"
        eager = [
            node for node in tree.body if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("phase17")
        ]
        assert not eager, f"{package}/__init__.py imports nothing of phase17 eagerly"
        members = [module for module in MODULES if module.rpartition(".")[0] == package]
        assert len(members) <= 12, f"{package} has {len(members)} modules"
    assert len([path for path in SOURCE.glob("*.py")]) <= 6


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layering_no_module_is_over_450_lines(module: str):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= 450, f"{module} has {lines} lines: split it by job"


def test_importtime_help_loads_no_heavy_library():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "phase17", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "phase17.cli.app" in loaded  # the measure itself works
    heavy = sorted(name for name in loaded if name.split(".")[0] in HEAVY or name in HEAVY)
    assert not heavy, f"`phase17 --help` loads {heavy}"


# The packages that know nothing of the project being read: what is chapter-specific is the reading guide's data
# (notes/readinglists/*.yaml); the instruments, the plugin lab and the two presentation layers may name it.
CORE = ("errors", "progress", "cache", "prompts", "safety", "source", "yamlio", "upstream", "index", "notes", "drift")
PROJECT_NAMES = re.compile(r"(?i:vllm)|current_platform|\w*Platform\b|\battn\w*")


def test_the_core_names_no_project_and_no_symbol_of_it():
    named = [
        f"{module}:{number}: {line.strip()}"
        for module, path in MODULES.items()
        if module.split(".")[1:2] and module.split(".")[1] in CORE
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PROJECT_NAMES.search(line)
    ]
    assert not named, "\n".join(named)
    assert PROJECT_NAMES.search("the vLLM tree") and PROJECT_NAMES.search("`CpuPlatform.x`")  # (it finds them)
