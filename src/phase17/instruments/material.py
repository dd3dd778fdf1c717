"""Upstream's own material about what a reader studies, found by reading the fetched tree: the design docs that
mention its names (`docs/design/*.md`), the example plugins upstream tests with (`tests/plugins/*/setup.py` or
`pyproject.toml`, read, never run), and the tests that call its key symbols."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from phase17.cache import code_digest
from phase17.errors import UnreadableSourceError
from phase17.index.records import Needle
from phase17.index.tree import Tree
from phase17.safety.files import read_limited
from phase17.source.metadata import pyproject_entry_points, setup_py_entry_points
from phase17.source.parsing import identifiers_named, in_import, parse_tree

DESIGN_DOCS = "docs/design"
EXAMPLE_PLUGINS = "tests/plugins"
TESTS = "tests"
MAX_DOC_BYTES = 1024 * 1024
SHOWN_DOCS = 4
SHOWN_TESTS_PER_NAME = 2


@dataclass(frozen=True)
class DocMention:
    """A design doc that names some of the names asked for: where it first does, and which it names."""

    path: str
    line: int
    title: str
    names: tuple[str, ...]

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "title": self.title, "names": list(self.names)}


@dataclass(frozen=True)
class ExamplePlugin:
    """One entry point of an example plugin upstream's tests install: its group and `name = module:function`."""

    folder: str
    group: str
    entry: str
    path: str
    line: int

    def to_data(self) -> dict[str, Any]:
        return {"folder": self.folder, "group": self.group, "entry": self.entry, "path": self.path, "line": self.line}


@dataclass(frozen=True)
class TestSite:
    name: str
    path: str
    line: int

    def to_data(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "line": self.line}


@dataclass(frozen=True)
class Material:
    docs: tuple[DocMention, ...] = ()
    examples: tuple[ExamplePlugin, ...] = ()
    tests: tuple[TestSite, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.docs or self.examples or self.tests)

    def to_data(self) -> dict[str, Any]:
        return {
            "design_docs": [doc.to_data() for doc in self.docs],
            "example_plugins": [example.to_data() for example in self.examples],
            "tests": [site.to_data() for site in self.tests],
        }


def gather_material(
    upstream: Tree, names: Iterable[str], *, groups: Sequence[str] | None = (), with_tests: bool = True
) -> Material:
    """The design docs naming most of `names`, the example plugins (of `groups`; all with None; none with ()),
    and the first test calls of each name."""
    wanted = sorted({name for name in names if re.fullmatch(r"[A-Za-z_][\w.]*", name)})
    examples = example_plugins(upstream)
    if groups is not None:
        examples = [example for example in examples if example.group in groups]
    called = [name.rsplit(".", 1)[-1] for name in wanted if not name.startswith("__")]  # (a dunder is everyone's)
    tests = tests_calling(upstream, called) if with_tests else []
    return Material(tuple(design_docs(upstream, wanted)), tuple(examples), tuple(tests))


def design_docs(upstream: Tree, names: Sequence[str], limit: int = SHOWN_DOCS) -> list[DocMention]:
    """The design docs that name the most of `names` (as whole words), best first."""
    folder = upstream / DESIGN_DOCS
    if not names or not folder.is_dir() or folder.is_symlink():
        return []
    patterns = {name: re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)") for name in names}
    found = []
    for path in sorted(folder.glob("*.md")):
        try:
            text = read_limited(path, MAX_DOC_BYTES, root=upstream.root).decode("utf-8", errors="replace")
        except (OSError, UnreadableSourceError):
            continue
        hits = {
            name: match.start()
            for name, pattern in patterns.items()
            if name in text and (match := pattern.search(text))  # a plain find first: most names are absent
        }
        if hits:
            title = re.search(r"^# (.+)$", text, re.MULTILINE)
            first = text.count("\n", 0, min(hits.values())) + 1
            found.append(
                DocMention(f"{DESIGN_DOCS}/{path.name}", first, title[1].strip() if title else path.stem, tuple(hits))
            )
    found.sort(key=lambda doc: (-len(doc.names), doc.path))
    return found[:limit]


def example_plugins(upstream: Tree) -> list[ExamplePlugin]:
    """Every entry point of the example plugins below tests/plugins/, from setup.py (parsed) or pyproject.toml."""
    folder = upstream / EXAMPLE_PLUGINS
    if not folder.is_dir() or folder.is_symlink():
        return []
    found: list[ExamplePlugin] = []
    for plugin in sorted(path for path in folder.iterdir() if path.is_dir() and not path.is_symlink()):
        relative = f"{EXAMPLE_PLUGINS}/{plugin.name}"
        for name, reader in (("setup.py", setup_py_entry_points), ("pyproject.toml", pyproject_entry_points)):
            try:
                rows = reader(read_limited(plugin / name, MAX_DOC_BYTES, root=upstream.root))
            except (OSError, UnreadableSourceError):
                continue  # an example upstream ships broken is left out of the listing, not the reader's problem
            found += [
                ExamplePlugin(relative, group, f"{entry} = {target}", f"{relative}/{name}", line)
                for group, entry, target, line in rows
            ]
    return found


def tests_calling(upstream: Tree, names: Sequence[str], per_name: int = SHOWN_TESTS_PER_NAME) -> list[TestSite]:
    """The first test files' uses of each name below tests/ (code only), at most `per_name` files a name."""
    if not names or not (upstream / TESTS).is_dir():
        return []
    from phase17.index.symbolindex import derived_answers

    wanted = sorted(set(names))
    key = hashlib.sha256("\0".join(wanted).encode()).hexdigest()[:12]

    def uses(path: str, source: bytes) -> list[Any]:
        present = [name for name in wanted if name.encode() in source]
        if not present:
            return []
        tree = parse_tree(source)
        found = []
        for name in present:
            used = [node for node in identifiers_named(tree, source, name) if not in_import(node)]
            if used:
                found.append([name, used[0].start_point.row + 1])
        return found

    needle = Needle(tuple(name.encode() for name in wanted), [])
    answers, _ = derived_answers(upstream, f"tests:{code_digest()}:{key}", (TESTS,), uses, needle=needle)
    shown: dict[str, list[TestSite]] = {name: [] for name in wanted}
    for path, found in sorted(answers):
        for name, line in found:
            if len(shown[name]) < per_name and not path.startswith(f"{EXAMPLE_PLUGINS}/"):
                shown[name].append(TestSite(name, path, line))
    return [site for name in wanted for site in shown[name]]
