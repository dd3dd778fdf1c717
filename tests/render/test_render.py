"""render: what the screen shows, at a fixed width without colour: real line numbers, statuses, counts."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from phase17 import render
from phase17.drift.findings import STATUSES, Finding, Location, Suggestion
from phase17.index.tree import Tree
from phase17.source.symbols import parse_definitions
from phase17.upstream.checkout import UpstreamState
from phase17.upstream.pin import Pin

PIN = Pin(
    "https://github.com/vllm-project/vllm", "v0.22.1", "0decac0d96c42b49572498019f0a0e3600f50398", "vllm", "0.22.1"
)


def _text(renderable, width: int = 100) -> str:
    console = Console(width=width, color_system=None, force_terminal=False, record=True)
    with console.capture() as captured:
        console.print(renderable)
    return captured.get()


def test_a_symbol_is_shown_with_its_real_line_numbers():
    source = "x = 1\n\n\nclass A:\n    def run(self):\n        return 1\n"
    symbol = next(s for s in parse_definitions(source.encode(), "a.py") if s.qualname == "A.run")
    shown = _text(render.symbol_source(symbol, source.splitlines()[4:6], fold=False))
    assert "A.run  method  a.py:5-6" in shown
    assert [line.split()[0] for line in shown.splitlines()[1:3]] == ["5", "6"]


def test_links_are_pinned_to_the_commit():
    assert render.web_url(PIN, "vllm/platforms/cpu.py", 10, 20) == (
        "https://github.com/vllm-project/vllm/blob/0decac0d96c42b49572498019f0a0e3600f50398/vllm/platforms/cpu.py#L10-L20"
    )
    assert render.web_url(PIN, "vllm/plugins/").endswith("/tree/0decac0d96c42b49572498019f0a0e3600f50398/vllm/plugins")


def test_the_findings_report_names_each_status_and_counts_them():
    recorded = Location("vllm/a.py", 10, 12, "f")
    findings = [
        Finding("cpu", "vllm/a.py::A.ok", "method", "ok", recorded, current=recorded),
        Finding(
            "cpu",
            "vllm/a.py::A.gone",
            "method",
            "missing",
            recorded,
            suggestions=(Suggestion("vllm/a.py::A.renamed", "vllm/a.py", 30, 32, 0.91, "renamed in place"),),
        ),
    ]
    shown = _text(render.findings_report(findings))
    assert "  missing    A.gone  -> vllm/a.py::A.renamed (0.91, renamed in place)" in shown
    assert "phase17 check --relink A.gone vllm/a.py::A.renamed" in shown
    assert "\n1 ok, 1 missing\n" in shown


def test_every_drift_status_has_a_text_line_and_a_count():
    recorded = Location("vllm/a.py", 10, 12, "f")
    findings = [
        Finding("cpu", f"vllm/a.py::A.{status}", "method", status, recorded, current=recorded) for status in STATUSES
    ]
    shown = _text(render.findings_report(findings, every=True), width=200)
    for status in STATUSES:
        assert f"  {status:<10} A.{status}" in shown, shown
        assert f"1 {status}" in shown.splitlines()[-1] or f"1 {status}" in shown


def test_the_upstream_state_says_what_to_run():
    state = UpstreamState(status="other-commit", path=Path("/p/upstream"), carries="1234567890ab")
    shown = _text(render.upstream_state(state, PIN))
    assert "at another commit, 1234567890ab: run phase17 fetch --force" in shown
    assert "0decac0d96c42b49572498019f0a0e3600f50398" in shown


def test_plain_output_has_no_escape_codes():
    assert "\x1b" not in _text(render.warnings(["upstream/ is modified"]))


def test_the_render_registry_lists_agree_and_each_name_is_served():
    import ast
    import importlib

    package = Path(render.__file__)
    tree = ast.parse(package.read_text(encoding="utf-8"))
    typed = {
        alias.name: node.module.rsplit(".", 1)[-1]
        for block in tree.body
        if isinstance(block, ast.If)
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert typed == render._HOMES
    assert sorted(render.__all__) == sorted(render._HOMES)
    for name, home in render._HOMES.items():
        assert getattr(render, name) is getattr(importlib.import_module(f"phase17.render.{home}"), name)


def test_every_upstream_status_has_a_line_that_says_what_to_run():
    from typing import get_args

    from phase17.upstream.checkout import UpstreamStatus

    for status in get_args(UpstreamStatus):
        shown = _text(render.upstream_state(UpstreamState(status=status, path=Path("/p/upstream")), PIN), 200)
        verdict = next(line for line in shown.splitlines() if line.startswith("status"))
        assert len(verdict.split(None, 1)[1]) > 10, (status, shown)
    unverifiable = _text(render.upstream_state(UpstreamState(status="unverifiable", path=Path("/p")), PIN), 200)
    assert "git is not on PATH" in unverifiable


def test_every_contract_cell_and_usage_mode_has_its_text():
    from phase17.instruments.classes import ClassInfo, Member
    from phase17.instruments.contract import CELL_STATUSES, Cell, Contract
    from phase17.instruments.usages import USAGE_MODES, Usage, UsageReport

    base = ClassInfo("Base", "vllm/base.py", 1, 9, (), (Member("hook", "method", 2),))
    platforms = [
        ClassInfo(f"P{number}", "vllm/p.py", 10 * number, 10 * number + 5, ("Base",), ()) for number in (1, 2, 3)
    ]
    texts = {"value": "'cpu'", "override": "override L12", "inherited": "inherited from Base"}
    cells = {info.name: Cell(status, texts[status]) for info, status in zip(platforms, CELL_STATUSES, strict=True)}
    shown = _text(render.contract_matrix(Contract(base, platforms, rows=[(base.members[0], cells)])), 200)
    for status in CELL_STATUSES:
        assert texts[status] in shown, (status, shown)
    use = Usage("vllm/a.py", 3, "is_cuda", True, "run", "current_platform.is_cuda()")
    for mode in USAGE_MODES:
        report = UsageReport("current_platform", mode, (use,), 1)
        shown = _text(render.usage_report(report, every=False), 200)
        assert ("1 attributes" if mode == "attributes" else "1 receivers") in shown, shown
        assert ("current_platform.is_cuda" in shown) == (mode == "attributes"), shown


def test_a_huge_outline_is_drawn_to_its_limit_and_says_how_many_more():
    from phase17.render.reading import OUTLINE_LIMIT, outline_tree
    from phase17.source.symbols import build_outline

    source = "".join(f"x{number} = {number}\n" for number in range(OUTLINE_LIMIT + 500)).encode()
    console = Console(width=80, record=True, color_system=None)
    console.print(outline_tree("big.py", build_outline(parse_definitions(source, "big.py"))))
    lines = console.export_text().splitlines()
    assert len(lines) == 1 + OUTLINE_LIMIT + 1
    assert lines[-2].endswith(f"x{OUTLINE_LIMIT - 1}  assignment  {OUTLINE_LIMIT}-{OUTLINE_LIMIT}")
    assert lines[-1].endswith("... 500 more definitions (--json lists every one)")


def test_a_hint_for_more_uses_is_a_whole_command_that_pastes_into_a_shell():
    import shlex

    from phase17.instruments.usages import Usage, UsageReport
    from phase17.render.instruments import SHOWN_PER_GROUP

    uses = [
        Usage("vllm/a.py", line, group, False, None, "code", True)
        for group in ("is_cuda", "(referenced)")
        for line in range(1, SHOWN_PER_GROUP + 4)
    ]
    report = UsageReport("current_platform", "attributes", tuple(uses), 1)
    console = Console(width=200, record=True, color_system=None)
    console.print(render.usage_report(report, every=False))
    hints = [line.split(" more: ", 1)[1] for line in console.export_text().splitlines() if " more: " in line]
    assert sorted(hints) == [
        "phase17 usages current_platform --attr is_cuda",
        "phase17 usages current_platform --json lists them all",
    ]
    assert ["phase17", "usages", "current_platform", "--attr", "is_cuda"] in map(shlex.split, hints)


def test_the_interview_header_shows_every_key_symbol_whole_at_80_columns(plain_upstream: Path):
    from phase17.index.lookup import locate_key_symbols
    from phase17.notes.guide import load_reading_list
    from phase17.render.notes import notebook_intro

    target = next(target for target in load_reading_list().targets if target.key == "plugins")
    keys = locate_key_symbols(Tree(plain_upstream), target)
    console = Console(width=80, height=24, record=True, color_system=None)
    console.print(notebook_intro(target, keys, 5))
    text = console.export_text()
    assert all(any(key.ref in line for line in text.splitlines()) for key in keys)  # each name on one line, whole
    assert "…" not in text and all(len(line) <= 80 for line in text.splitlines())
