"""An out-of-tree plugin as phase17 reads it, never installed, imported or run: a source folder, a wheel or sdist
file, or NAME==VERSION from the package index (downloaded with its sha256 checked, into the cache); its
entry points (pyproject.toml, setup.cfg, setup.py parsed, *.dist-info or *.egg-info entry_points.txt); and the
platform class its `register()` returns.

An archive is hostile input: its size and number of members are bounded, and a member outside the folder, a link
or a device is refused before anything is written.
"""

from __future__ import annotations

import configparser
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phase17.cache import file_sha256, filling
from phase17.errors import UnreadableSourceError, UsageError
from phase17.instruments.material import pyproject_entry_points, setup_py_entry_points
from phase17.progress import ProgressReporter, SilentReporter
from phase17.safety.archives import Bounds, unpack_zip
from phase17.safety.files import read_limited, safe_folder
from phase17.source.parsing import node_text, parse_tree, string_value

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

if TYPE_CHECKING:
    import tree_sitter

PLATFORM_GROUP = "vllm.platform_plugins"
MAX_ARCHIVE_MEMBERS = 20_000
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024  # unpacked
MAX_FILE_BYTES = 8 * 1024 * 1024
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")


class PluginError(UsageError):
    """A plugin that cannot be read as one: no entry point, no platform class, an archive refused."""


@dataclass(frozen=True)
class EntryPoint:
    group: str
    name: str
    value: str  # module:function
    path: str  # where it is declared, relative to the plugin's folder
    line: int

    def to_data(self) -> dict[str, Any]:
        return {"group": self.group, "name": self.name, "value": self.value, "path": self.path, "line": self.line}


@dataclass(frozen=True)
class PluginTree:
    root: Path  # the folder holding the plugin's code
    name: str
    version: str | None


def open_plugin(spec: str, cache: Path, reporter: ProgressReporter | None = None) -> PluginTree:
    """The plugin `spec` names: a folder, a .whl / .zip / .tar.gz file, or NAME==VERSION (downloaded, verified)."""
    reporter = reporter or SilentReporter()
    path = Path(spec).expanduser()
    if path.is_dir():
        return PluginTree(path.resolve(), *_declared_name(path.resolve()))
    if path.is_file():
        return _unpacked(path, cache, reporter)
    wanted = _REQUIREMENT.match(spec)
    if wanted is None:
        raise PluginError(
            f"{spec!r} is no plugin folder or archive here, nor NAME==VERSION; give a path, a .whl or .tar.gz file, "
            "or a release such as vllm-ascend==0.9.1."
        )
    from phase17.upstream.download import download_release

    archive, _ = download_release(
        wanted[1],
        wanted[2],
        safe_folder(cache / "plugins" / "downloads", cache),
        reporter,
        package_types=("wheel", "sdist"),
        project_hint="check the plugin's name",
        version_hint="check the version on the command line",
    )
    tree = _unpacked(archive, cache, reporter)
    return PluginTree(tree.root, wanted[1], wanted[2])


def _declared_name(root: Path) -> tuple[str, str | None]:
    """The project's name and version as its pyproject.toml declares them, else the folder's name."""
    data = _read(root, "pyproject.toml")
    try:
        project = tomllib.loads(data.decode("utf-8", errors="replace")).get("project", {}) if data else {}
    except tomllib.TOMLDecodeError:
        project = {}
    name, version = project.get("name"), project.get("version")
    return (str(name) if name else root.name), (str(version) if version else None)


def _unpacked(archive: Path, cache: Path, reporter: ProgressReporter) -> PluginTree:
    """The archive unpacked into the cache once (safety.archives), under a lock: a second phase17 process waits,
    then finds it whole; a half-unpacked folder is never used or left behind."""
    size = archive.stat().st_size
    if size > MAX_ARCHIVE_BYTES:
        raise PluginError(f"{archive}: {size >> 20} MiB, more than a plugin's {MAX_ARCHIVE_BYTES >> 20} MiB; refused.")
    digest = file_sha256(archive)[:20]
    name, version = _name_and_version(archive.name)
    folder = safe_folder(cache / "plugins", cache)
    target = folder / digest
    with filling(target, archive.name, reporter):
        if (target / ".complete").is_file():
            return PluginTree(_top(target), name, version)
        building = Path(tempfile.mkdtemp(prefix=f".{digest}.", dir=folder))
        try:
            if archive.name.endswith((".whl", ".zip")):
                unpack_zip(archive, building, Bounds(MAX_ARCHIVE_MEMBERS, MAX_ARCHIVE_BYTES))
            elif archive.name.endswith((".tar.gz", ".tgz")):
                from phase17.upstream.sdist import extract_safely

                extract_safely(archive, building, reporter)
            else:
                raise PluginError(f"{archive.name}: not a wheel, zip or sdist (.whl, .zip, .tar.gz); give one.")
            (building / ".complete").write_text("", encoding="ascii")
            shutil.rmtree(target, ignore_errors=True)
            building.rename(target)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return PluginTree(_top(target), name, version)


def _top(folder: Path) -> Path:
    """An sdist's one top folder (name-version/), else the folder itself (a wheel's root)."""
    entries = [entry for entry in folder.iterdir() if entry.name != ".complete"]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else folder


def _name_and_version(filename: str) -> tuple[str, str | None]:
    stem = re.sub(r"(\.tar\.gz|\.tgz|\.tar|\.whl|\.zip)$", "", filename)
    parts = stem.split("-")
    return (parts[0], parts[1]) if len(parts) >= 2 else (stem, None)


# ---------------------------------------------------------------- entry points


def entry_points(root: Path) -> list[EntryPoint]:
    """Every entry point the plugin declares, from whichever of its metadata files it has."""
    found: list[EntryPoint] = []
    for relative, reader in (
        ("pyproject.toml", pyproject_entry_points),
        ("setup.cfg", _setup_cfg),
        ("setup.py", setup_py_entry_points),
    ):
        data = _read(root, relative)
        if data is not None:
            found += [EntryPoint(group, name, value, relative, line) for group, name, value, line in reader(data)]
    for metadata in sorted([*root.glob("*.dist-info"), *root.glob("*.egg-info"), *root.glob("src/*.egg-info")]):
        relative = f"{metadata.relative_to(root).as_posix()}/entry_points.txt"
        data = _read(root, relative)
        if data is not None:
            found += [EntryPoint(group, name, value, relative, line) for group, name, value, line in _listed(data)]
    unique = {(item.group, item.name, item.value): item for item in found}  # pyproject and PKG metadata repeat
    return list(unique.values())


def _read(root: Path, relative: str) -> bytes | None:
    try:
        return read_limited(root / relative, MAX_FILE_BYTES, root=root)
    except (OSError, UnreadableSourceError):
        return None


def _setup_cfg(data: bytes) -> Iterator[tuple[str, str, str, int]]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(data.decode("utf-8", errors="replace"))
    except configparser.Error:
        return
    if "options.entry_points" not in parser:
        return
    text = data.decode("utf-8", errors="replace").splitlines()
    for group, block in parser["options.entry_points"].items():
        for row in block.splitlines():
            if "=" in row:
                name, value = (part.strip() for part in row.split("=", 1))
                line = next((n for n, written in enumerate(text, 1) if written.strip() == row.strip()), 1)
                yield group, name, value, line


def _listed(data: bytes) -> Iterator[tuple[str, str, str, int]]:
    """entry_points.txt: `[group]` then `name = module:function` lines."""
    group = None
    for number, row in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        stripped = row.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            group = stripped[1:-1].strip()
        elif group and "=" in stripped and not stripped.startswith(("#", ";")):
            name, value = (part.strip() for part in stripped.split("=", 1))
            yield group, name, value, number


# ---------------------------------------------------------------- from register() to the platform class


def module_file(root: Path, module: str) -> Path | None:
    """Where the plugin's module `a.b` is: a/b.py or a/b/__init__.py, at the top or below src/."""
    parts = module.split(".")
    for base in (root, root / "src"):
        for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
            if candidate.is_file() and not candidate.is_symlink():
                return candidate
    return None


def registered_class(root: Path, entry: EntryPoint) -> str:
    """The qualified name of the Platform subclass `entry`'s register function returns (a string literal, or a name
    bound to one); a function that computes its answer is an error that says so."""
    module, _, function = entry.value.partition(":")
    path = module_file(root, module.strip())
    if path is None:
        raise PluginError(f"{entry.value}: no module {module.strip()} in {root}; is the plugin's source there?")
    source = path.read_bytes()
    tree = parse_tree(source)
    definition = _top_level_function(tree.root_node, function.strip() or "register")
    if definition is None:
        raise PluginError(f"{entry.value}: no function {function.strip()} in {path.relative_to(root)}.")
    bound = _string_bindings(tree.root_node)
    returned: list[str] = []
    body = definition.child_by_field_name("body")
    if body is not None:
        bound |= _string_bindings(body)
        for node in _walk(body):
            if node.type == "return_statement" and node.named_children:
                value = node.named_children[0]
                if value.type == "string" and (text := string_value(node_text(value))):
                    returned.append(text)
                elif value.type == "identifier" and node_text(value) in bound:
                    returned.append(bound[node_text(value)])
    names = [name for name in returned if re.fullmatch(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*", name)]
    if not names:
        raise PluginError(
            f"{entry.value}: its function returns no class name phase17 can read (a string literal, or a name bound "
            "to one); it computes its answer, so the plugin's class cannot be found without running it."
        )
    return names[0]


def _top_level_function(root: tree_sitter.Node, name: str) -> tree_sitter.Node | None:
    for child in root.children:
        target = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
        if target is not None and target.type == "function_definition":
            named = target.child_by_field_name("name")
            if named is not None and node_text(named) == name:
                return target
    return None


def _string_bindings(block: tree_sitter.Node) -> dict[str, str]:
    bound = {}
    for statement in block.named_children:
        if statement.type == "expression_statement" and statement.named_children:
            assignment = statement.named_children[0]
            left, right = assignment.child_by_field_name("left"), assignment.child_by_field_name("right")
            if assignment.type == "assignment" and left is not None and right is not None and left.type == "identifier":
                if right.type == "string" and (text := string_value(node_text(right))) is not None:
                    bound[node_text(left)] = text
    return bound


def _walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if current.type not in ("function_definition", "class_definition") or current is node:
            stack.extend(reversed(current.children))
