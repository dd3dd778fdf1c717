"""The resolver against Python's own parser: the qualified name, kind and lines of every definition it reports.

The oracle (`ast_definitions`) walks Python's own tree with the resolver's rules written independently: defs and
classes at any depth (`function.inner`), names bound by assignments at module or class level (not in functions),
the kinds method, classmethod, staticmethod, property and async function decided from the decorators.
"""

from __future__ import annotations

import ast
import collections
import re
import sysconfig
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phase17.source.parsing import parse_tree
from phase17.source.sites import definition_sites
from phase17.source.symbols import parse_definitions

Definition = tuple[str, str, int, int, int]  # qualname, kind, first line (decorator), def line, end line
_PROPERTY = re.compile(r"^(?:[\w.]*\.)?(?:property|cached_property)$|^\w+\.(?:setter|getter|deleter)$")


def ast_definitions(tree: ast.Module) -> collections.Counter[Definition]:
    """Every definition of a module by the resolver's rules, from Python's own parser."""
    found: collections.Counter[Definition] = collections.Counter()

    def walk(node: ast.AST, scope: list[tuple[str, str]], in_function: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            qualname = ".".join([name for _, name in scope] + [node.name])
            first = min([decorator.lineno for decorator in node.decorator_list] + [node.lineno])
            in_class = bool(scope) and scope[-1][0] == "class"
            found[(qualname, _kind(node, in_class), first, node.lineno, node.end_lineno or node.lineno)] += 1
            inner = scope + [("class" if isinstance(node, ast.ClassDef) else "function", node.name)]
            for child in node.body:
                walk(child, inner, in_function or not isinstance(node, ast.ClassDef))
            return
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            if not in_function:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for name in dict.fromkeys(bound for target in targets for bound in _bound_names(target)):
                    qualname = ".".join([part for _, part in scope] + [name])
                    kind = "attribute" if scope else "assignment"
                    found[(qualname, kind, node.lineno, node.lineno, node.end_lineno or node.lineno)] += 1
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                walk(child, scope, in_function)

    walk(tree, [], False)
    return found


def _kind(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, in_class: bool) -> str:
    if isinstance(node, ast.ClassDef):
        return "class"
    if not in_class:
        return "async function" if isinstance(node, ast.AsyncFunctionDef) else "function"
    for decorator in node.decorator_list:
        bare = ast.unparse(decorator).split("(", 1)[0].strip()
        if bare in ("classmethod", "builtins.classmethod"):
            return "classmethod"
        if bare in ("staticmethod", "builtins.staticmethod"):
            return "staticmethod"
        if _PROPERTY.match(bare):
            return "property"
    return "method"


def _bound_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _bound_names(element)]
    return []  # a.b = ..., a[i] = ...: not a definition


def resolver_definitions(source: bytes) -> collections.Counter[Definition]:
    return collections.Counter(
        (symbol.qualname, symbol.kind, symbol.start_line, symbol.def_line, symbol.end_line)
        for symbol in parse_definitions(source, "oracle.py")
    )


def resolver_sites(source: bytes, tree: object) -> collections.Counter[Definition]:
    """The same from the sites pass alone (the index's records, and what parse_definitions builds on)."""
    return collections.Counter(
        (site.qualname, site.kind, site.start_line, site.def_line, site.end_line)
        for site in definition_sites(source, tree)  # type: ignore[arg-type]
    )


def _agreement(files: list[Path]) -> dict[str, object]:
    counts: collections.Counter[str] = collections.Counter()
    excluded: list[str] = []
    disagreements: list[tuple[str, object, object]] = []
    for path in files:
        raw = path.read_bytes()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(raw)
        except (SyntaxError, ValueError):
            counts["files Python itself cannot parse (skipped)"] += 1
            continue
        parsed = parse_tree(raw)
        if parsed.root_node.has_error:
            # tree-sitter-python's grammar rejects a few valid but contrived files (test_compile.py's
            # dedent inside parentheses); they are counted and named, not silently dropped.
            excluded.append(str(path))
            continue
        expected = ast_definitions(tree)
        found = resolver_sites(raw, parsed)
        counts["files"] += 1
        counts["definitions"] += sum(expected.values())
        counts["assignments"] += sum(n for key, n in expected.items() if key[1] in ("assignment", "attribute"))
        counts["agree"] += sum((expected & found).values())
        if expected != found:
            disagreements.append(
                (str(path), sorted((expected - found).elements())[:3], sorted((found - expected).elements())[:3])
            )
    return {"counts": counts, "excluded": excluded, "disagreements": disagreements}


def _report(report_figure, name: str, result: dict) -> None:
    counts = result["counts"]
    report_figure(
        f"[oracle] {name}: {counts['agree']} of {counts['definitions']} definitions "
        f"({counts['assignments']} of them assignments) agree with ast on qualified name, kind and lines, "
        f"in {counts['files']} files; excluded for tree-sitter parse errors: {result['excluded']}"
    )


def test_the_oracle_itself_on_a_known_module():
    source = (
        "import x\nA, (B, *C) = 1, (2, 3)\nif x:\n    D: int = 4\n"
        "class K:\n    e = f = 5\n    @property\n    def p(self):\n        local = 1\n"
        "        def inner():\n            pass\n    async def run(self): ...\n"
        "def top():\n    class Local:\n        attr = 1\n"
    )
    expected = {
        ("A", "assignment", 2, 2, 2),
        ("B", "assignment", 2, 2, 2),
        ("C", "assignment", 2, 2, 2),
        ("D", "assignment", 4, 4, 4),
        ("K", "class", 5, 5, 12),
        ("K.e", "attribute", 6, 6, 6),
        ("K.f", "attribute", 6, 6, 6),
        ("K.p", "property", 7, 8, 11),
        ("K.p.inner", "function", 10, 10, 11),
        ("K.run", "method", 12, 12, 12),
        ("top", "function", 13, 13, 15),
        ("top.Local", "class", 14, 14, 15),
    }
    assert set(ast_definitions(ast.parse(source))) == expected
    assert set(resolver_definitions(source.encode())) == expected
    assert set(resolver_sites(source.encode(), parse_tree(source.encode()))) == expected


@pytest.mark.slow
def test_resolver_agrees_with_ast_on_the_standard_library(report_figure):
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(path for path in stdlib.rglob("*.py") if "site-packages" not in path.parts)
    result = _agreement(files)
    _report(report_figure, "standard library", result)
    counts = result["counts"]
    assert counts["definitions"] > 50_000 and counts["assignments"] > 10_000
    assert result["disagreements"] == []
    assert len(result["excluded"]) <= 5


@pytest.mark.network
@pytest.mark.slow
def test_resolver_agrees_with_ast_on_the_pinned_upstream(real_project: Path, report_figure):
    files = sorted((real_project / "upstream").rglob("*.py"))
    result = _agreement(files)
    _report(report_figure, "vLLM v0.22.1", result)
    assert result["counts"]["definitions"] > 10_000
    assert result["disagreements"] == []


NAMES = st.sampled_from(["alpha", "beta", "run", "get", "X", "_private", "__init__", "Platform"])


DECORATORS = st.lists(
    st.sampled_from(
        ["@property", "@classmethod", "@staticmethod", "@functools.cache", "@deco(1,\n    2)", "@alpha.setter"]
    ),
    max_size=2,
)


def _statements() -> st.SearchStrategy:
    simple = st.one_of(
        st.just(("pass",)),
        NAMES.map(lambda name: ("assign", name)),
        st.tuples(st.just("unpack"), NAMES, NAMES),
        st.just(("comment",)),
        st.just(("string",)),
    )

    def compound(children: st.SearchStrategy) -> st.SearchStrategy:
        body = st.lists(children, min_size=1, max_size=4)
        return st.one_of(
            st.tuples(st.just("def"), NAMES, DECORATORS, st.booleans(), st.booleans(), body),
            st.tuples(st.just("class"), NAMES, DECORATORS, body),
            st.tuples(st.just("if"), body, body),
            st.tuples(st.just("try"), body, body),
            st.tuples(st.just("with"), body),
        )

    return st.recursive(simple, compound, max_leaves=25)


def _render(statements: list, indent: str = "") -> list[str]:
    lines: list[str] = []
    for statement in statements:
        kind = statement[0]
        if kind == "pass":
            lines.append(f"{indent}pass")
        elif kind == "assign":
            lines.append(f"{indent}{statement[1]} = 1")
        elif kind == "unpack":
            lines.append(f"{indent}{statement[1]}, (*{statement[2]}, x) = [1, (2, 3)]")
        elif kind == "comment":
            lines.append(f"{indent}# a comment")
        elif kind == "string":
            lines.append(f'{indent}"""A docstring\n{indent}on two lines."""')
        elif kind == "def":
            _, name, decorators, is_async, wrapped, body = statement
            lines += [f"{indent}{decorator}".replace("\n", f"\n{indent}") for decorator in decorators]
            params = "(\n" + indent + "    self,\n" + indent + "    value=2,\n" + indent + ")" if wrapped else "(self)"
            lines.append(f"{indent}{'async ' if is_async else ''}def {name}{params}:")
            lines += _body(body, indent)
        elif kind == "class":
            _, name, decorators, body = statement
            lines += [f"{indent}{decorator}".replace("\n", f"\n{indent}") for decorator in decorators]
            lines.append(f"{indent}class {name}(Base):")
            lines += _body(body, indent)
        elif kind == "if":
            lines.append(f"{indent}if CONDITION:")
            lines += _body(statement[1], indent)
            lines.append(f"{indent}else:")
            lines += _body(statement[2], indent)
        elif kind == "try":
            lines.append(f"{indent}try:")
            lines += _body(statement[1], indent)
            lines.append(f"{indent}except ImportError:")
            lines += _body(statement[2], indent)
        elif kind == "with":
            lines.append(f"{indent}with context():")
            lines += _body(statement[1], indent)
    return lines


def _body(statements: list, indent: str) -> list[str]:
    inner = indent + "    "
    lines = _render(statements, inner)
    if all(line.strip().startswith("#") for line in lines):
        lines.append(f"{inner}pass")
    return lines


@pytest.mark.slow  # 300 generated sources (hypothesis): the full run
def test_resolver_agrees_with_ast_on_generated_sources(report_figure):
    tried = []
    definitions = []

    @settings(max_examples=300, deadline=None)
    @given(statements=st.lists(_statements(), min_size=1, max_size=6))
    def agree(statements: list) -> None:
        source = "\n".join(_render(statements)) + "\n"
        expected = ast_definitions(ast.parse(source))
        assert resolver_definitions(source.encode()) == expected, source
        tried.append(1)
        definitions.append(sum(expected.values()))

    agree()
    report_figure(
        f"[hypothesis] resolver vs ast, generated sources: {len(tried)} examples, {sum(definitions)} definitions agree"
    )
