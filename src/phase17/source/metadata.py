"""A Python project's packaging metadata read as text, never run: its name and version, and the entry points that
pyproject.toml, setup.cfg, setup.py and a built distribution's entry_points.txt declare, each with its line.

Every reader is one pass over its file (a pyproject.toml with 40,000 entry points reads in well under a second),
and a file too deeply nested to parse is an UnreadableSourceError that says so, never a RecursionError.
"""

from __future__ import annotations

import configparser
import re
import sys
from collections.abc import Mapping
from typing import Any

from phase17.errors import UnreadableSourceError
from phase17.source.parsing import descendants, node_text, parse_tree, string_value

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

EntryRow = tuple[str, str, str, int]  # group, name, module:function, line


MAX_TOML_NESTING = 100  # arrays and inline tables inside each other; real pyproject.toml files use 3 or 4


def read_toml(source: bytes, shown: str) -> dict[str, Any]:
    """A TOML file's data; a malformed one, or one nested too deeply to parse, is one line that says which. The
    nesting is measured before parsing: tomllib recurses once a level and would exhaust the stack."""
    text = source.decode("utf-8", errors="replace")
    if _nesting(text) > MAX_TOML_NESTING:
        raise UnreadableSourceError(shown, "nested too deeply to read")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UnreadableSourceError(shown, f"not valid TOML ({error})") from None


_TOML_TOKENS = re.compile(r'"""|\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}]')


def _nesting(text: str) -> int:
    """How deeply the arrays and inline tables of a TOML text nest, strings and comments skipped (one pass)."""
    depth = deepest = 0
    in_multiline: str | None = None
    for token in _TOML_TOKENS.finditer(text):
        value = token.group()
        if in_multiline:
            in_multiline = None if value == in_multiline else in_multiline
        elif value in ('"""', "'''"):
            in_multiline = value
        elif value in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif value in ("]", "}"):
            depth = max(depth - 1, 0)
    return deepest


def declared_name(pyproject: bytes | None, fallback: str) -> tuple[str, str | None]:
    """The project's name and version as pyproject.toml declares them, else `fallback` and no version."""
    try:
        project = read_toml(pyproject, "pyproject.toml").get("project", {}) if pyproject else {}
    except UnreadableSourceError:
        project = {}
    name = project.get("name") if isinstance(project, dict) else None
    version = project.get("version") if isinstance(project, dict) else None
    return (str(name) if name else fallback), (str(version) if version else None)


def pyproject_entry_points(source: bytes, shown: str = "pyproject.toml") -> list[EntryRow]:
    """Each entry point pyproject.toml declares ([project.entry-points], or poetry's [tool.poetry.plugins])."""
    parsed = read_toml(source, shown)
    lines = _toml_key_lines(source.decode("utf-8", errors="replace"))
    project, tool = parsed.get("project", {}), parsed.get("tool", {})
    tables = (
        project.get("entry-points", {}) if isinstance(project, dict) else {},
        tool.get("poetry", {}).get("plugins", {})
        if isinstance(tool, dict) and isinstance(tool.get("poetry"), dict)
        else {},
    )
    found = []
    for table in tables:
        for group, entries in table.items() if isinstance(table, dict) else []:
            for name, value in entries.items() if isinstance(entries, dict) else []:
                line = lines.get((str(group), str(name))) or lines.get(("", str(name)), 1)
                found.append((str(group), str(name), str(value), line))
    return found


_TABLE = re.compile(r"^\s*\[+\s*(.+?)\s*\]+\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


def _toml_key_lines(text: str) -> dict[tuple[str, str], int]:
    """(the table's last name part, key) -> the first line that sets it, in one pass; ("", key) too, for a key
    set in an inline table."""
    lines: dict[tuple[str, str], int] = {}
    table = ""
    for number, row in enumerate(text.splitlines(), 1):
        header = _TABLE.match(row)
        if header:
            parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^."\'\s]+)', header.group(1))
            table = next((part for part in reversed([a or b or c for a, b, c in parts]) if part), "")
            continue
        key = _KEY.match(row)
        if key:
            name = key.group(1).strip("\"'")
            lines.setdefault((table, name), number)
            lines.setdefault(("", name), number)
    return lines


def setup_cfg_entry_points(source: bytes, shown: str = "setup.cfg") -> list[EntryRow]:
    """Each entry point in setup.cfg's [options.entry_points], with its line, in one pass."""
    text = source.decode("utf-8", errors="replace")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as error:
        raise UnreadableSourceError(shown, f"not a readable setup.cfg ({str(error).splitlines()[0]})") from None
    if "options.entry_points" not in parser:
        return []
    first_line: dict[str, int] = {}
    for number, row in enumerate(text.splitlines(), 1):
        first_line.setdefault(row.strip(), number)
    found = []
    for group, block in parser["options.entry_points"].items():
        for row in block.splitlines():
            if "=" in row:
                name, value = (part.strip() for part in row.split("=", 1))
                found.append((group, name, value, first_line.get(row.strip(), 1)))
    return found


def listed_entry_points(source: bytes) -> list[EntryRow]:
    """entry_points.txt of a wheel or egg-info: `[group]` then `name = module:function` lines."""
    group = None
    found = []
    for number, row in enumerate(source.decode("utf-8", errors="replace").splitlines(), 1):
        stripped = row.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            group = stripped[1:-1].strip()
        elif group and "=" in stripped and not stripped.startswith(("#", ";")):
            name, value = (part.strip() for part in stripped.split("=", 1))
            found.append((group, name, value, number))
    return found


def setup_py_entry_points(source: bytes) -> list[EntryRow]:
    """Each `entry_points={"group": ["name = module:function"]}` of a setup() call, as written (never run)."""
    found = []
    for node in descendants(parse_tree(source).root_node):
        if node.type != "keyword_argument":
            continue
        key, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        if key is None or value is None or node_text(key) != "entry_points" or value.type != "dictionary":
            continue
        for pair in value.named_children:
            group, entries = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            if pair.type != "pair" or group is None or entries is None or group.type != "string":
                continue
            for entry in entries.named_children if entries.type in ("list", "tuple") else [entries]:
                text = string_value(node_text(entry)) if entry.type == "string" else None
                if text is not None and "=" in text:
                    name, target = (" ".join(part.split()) for part in text.split("=", 1))
                    found.append((string_value(node_text(group)) or "", name, target, entry.start_point.row + 1))
    return sorted(found, key=lambda item: item[3])


def metadata_files(files: Mapping[str, bytes]) -> list[str]:
    """The files of a project that declare entry points: its own, then each built distribution's."""
    own = [name for name in ("pyproject.toml", "setup.cfg", "setup.py") if name in files]
    built = sorted(
        path
        for path in files
        if path.endswith("/entry_points.txt")
        and re.fullmatch(r"(src/)?[^/]+\.(dist-info|egg-info)/entry_points\.txt", path)
    )
    return own + built


def entry_point_rows(path: str, source: bytes) -> list[EntryRow]:
    """The entry points the metadata file at `path` declares."""
    if path.endswith("pyproject.toml"):
        return pyproject_entry_points(source, path)
    if path.endswith("setup.cfg"):
        return setup_cfg_entry_points(source, path)
    if path.endswith("setup.py"):
        return setup_py_entry_points(source)
    return listed_entry_points(source)
