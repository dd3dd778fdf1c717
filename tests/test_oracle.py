"""The resolver against Python's own parser: every def and class, same first-decorator, def and end lines."""

from __future__ import annotations

import ast
import collections
import sysconfig
import warnings
from pathlib import Path

import pytest

from phase17.symbols import parse_definitions, parse_tree


def _agreement(files: list[Path]) -> dict[str, object]:
    counts = collections.Counter()
    excluded: list[str] = []
    disagreements: list[tuple[str, object]] = []
    for path in files:
        raw = path.read_bytes()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(raw)
        except (SyntaxError, ValueError):
            counts["files Python itself cannot parse (skipped)"] += 1
            continue
        if parse_tree(raw).root_node.has_error:
            # tree-sitter-python's grammar rejects a few valid but contrived files (test_compile.py's
            # dedent inside parentheses); they are counted and named, not silently dropped.
            excluded.append(str(path))
            continue
        expected = collections.Counter()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                first = min([decorator.lineno for decorator in node.decorator_list] + [node.lineno])
                expected[(node.name, first, node.lineno, node.end_lineno)] += 1
        found = collections.Counter(
            (symbol.name, symbol.start_line, symbol.def_line, symbol.end_line)
            for symbol in parse_definitions(raw, str(path))
            if symbol.kind not in ("assignment", "attribute")
        )
        counts["files"] += 1
        counts["definitions"] += sum(expected.values())
        counts["agree"] += sum((expected & found).values())
        if expected != found:
            disagreements.append((str(path), sorted((expected - found).elements())[:3]))
    return {"counts": counts, "excluded": excluded, "disagreements": disagreements}


def _report(report_figure, name: str, result: dict[str, object]) -> None:
    counts = result["counts"]
    report_figure(
        f"[oracle] {name}: {counts['agree']} of {counts['definitions']} definitions agree with ast "
        f"in {counts['files']} files; {len(result['excluded'])} files excluded for tree-sitter parse errors: {result['excluded']}"
    )


def test_resolver_agrees_with_ast_on_the_standard_library(report_figure):
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(path for path in stdlib.rglob("*.py") if "site-packages" not in path.parts)
    result = _agreement(files)
    _report(report_figure, "standard library", result)
    counts = result["counts"]
    assert counts["definitions"] > 30_000
    assert result["disagreements"] == []
    assert counts["agree"] == counts["definitions"]
    assert len(result["excluded"]) <= 5


@pytest.mark.network
def test_resolver_agrees_with_ast_on_the_pinned_upstream(real_project: Path, report_figure):
    files = sorted((real_project / "upstream").rglob("*.py"))
    result = _agreement(files)
    _report(report_figure, "vLLM v0.22.1", result)
    assert result["counts"]["definitions"] > 10_000
    assert result["disagreements"] == []
