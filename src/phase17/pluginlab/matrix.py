"""The compatibility matrix: plugins down, vLLM releases across, each cell ok, warnings or breaks, and each break
with the first release it appears at. Every cell is one release's plugin check (kept between runs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from phase17.errors import Phase17Error
from phase17.instruments.changes import ContractChanges
from phase17.pluginlab.check import Release, check_plugin
from phase17.pluginlab.findings import Finding
from phase17.pluginlab.source import PluginTree
from phase17.safety.text import code_span

CellStatus = Literal["ok", "warnings", "breaks", "unreadable"]
CELL_STATUSES: tuple[CellStatus, ...] = get_args(CellStatus)


@dataclass(frozen=True)
class Cell:
    status: CellStatus
    errors: int = 0
    warnings: int = 0

    def to_data(self) -> dict[str, Any]:
        return {"status": self.status, "errors": self.errors, "warnings": self.warnings}


@dataclass
class Row:
    plugin: str
    version: str | None
    source: str
    cells: dict[str, Cell] = field(default_factory=dict)
    breaks: list[tuple[Finding, str]] = field(default_factory=list)  # each error, and the first release it holds at
    problem: str | None = None  # why the plugin could not be read at all

    @property
    def label(self) -> str:
        return f"{self.plugin} {self.version}" if self.version else self.plugin

    def to_data(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "version": self.version,
            "source": self.source,
            "cells": {release: cell.to_data() for release, cell in self.cells.items()},
            "breaks": [{"first": first, **finding.to_data()} for finding, first in self.breaks],
            "problem": self.problem,
        }


@dataclass
class Matrix:
    releases: list[str]
    rows: list[Row] = field(default_factory=list)

    @property
    def breaks(self) -> bool:
        return any(cell.status in ("breaks", "unreadable") for row in self.rows for cell in row.cells.values())

    def to_data(self) -> dict[str, Any]:
        return {"releases": self.releases, "plugins": [row.to_data() for row in self.rows]}


def build_matrix(
    trees: Sequence[PluginTree | tuple[str, Phase17Error]],
    releases: Sequence[Release],
    changes: Mapping[str, ContractChanges],
) -> Matrix:
    """Each plugin (or the error that kept it from being opened) checked at each release, the pin first."""
    matrix = Matrix([release.label for release in releases])
    for tree in trees:
        if isinstance(tree, tuple):
            shown, error = tree
            row = Row(shown, None, shown, problem=str(error))
            row.cells = {release: Cell("unreadable") for release in matrix.releases}
            matrix.rows.append(row)
            continue
        row = Row(tree.name, tree.version, tree.shown)
        try:
            report = check_plugin(tree, releases, changes)
        except Phase17Error as error:
            row.problem = str(error)
            row.cells = {release: Cell("unreadable") for release in matrix.releases}
            matrix.rows.append(row)
            continue
        for release in matrix.releases:
            held = [finding for finding in report.findings if release in finding.releases]
            errors = sum(finding.severity == "error" for finding in held)
            warnings = sum(finding.severity == "warning" for finding in held)
            status: CellStatus = "breaks" if errors else ("warnings" if warnings else "ok")
            row.cells[release] = Cell(status, errors, warnings)
        order = {release: position for position, release in enumerate(matrix.releases)}
        row.breaks = [
            (finding, min(finding.releases, key=lambda release: order.get(release, len(order))))
            for finding in report.findings
            if finding.severity == "error"
        ]
        matrix.rows.append(row)
    return matrix


@dataclass(frozen=True)
class BreakGroup:
    """Breaks of one plugin of one kind that first appear at one release: one line, however many members."""

    kind: str
    first: str
    findings: tuple[Finding, ...]

    def line(self) -> str:
        first = self.findings[0]
        if len(self.findings) == 1:
            return f"{first.cls}.{first.member} ({first.where}) [{first.kind}] from {self.first}: {first.message}"
        members = ", ".join(finding.member for finding in self.findings)
        return f"{first.cls}: {len(self.findings)} [{self.kind}] from {self.first} ({first.where}): {members}"


def grouped_breaks(row: Row, alone: int = 3) -> list[BreakGroup]:
    """A row's breaks in lines: each on its own, but more than `alone` of one kind from one release in one line."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding, first in row.breaks:
        groups.setdefault((finding.kind, first), []).append(finding)
    lines = []
    for (kind, first), findings in groups.items():
        if len(findings) > alone:
            lines.append(BreakGroup(kind, first, tuple(findings)))
        else:
            lines += [BreakGroup(kind, first, (finding,)) for finding in findings]
    return lines


def matrix_markdown(matrix: Matrix) -> str:
    """The matrix as a Markdown table, then each break with the release it first appears at."""
    head = "| plugin | " + " | ".join(code_span(release) for release in matrix.releases) + " |"
    lines = [head, "|" + "---|" * (len(matrix.releases) + 1)]
    for row in matrix.rows:
        cells = []
        for release in matrix.releases:
            cell = row.cells.get(release, Cell("unreadable"))
            counted = {"breaks": f" ({cell.errors})", "warnings": f" ({cell.warnings})"}.get(cell.status, "")
            cells.append(f"{cell.status}{counted}")
        lines.append(f"| {code_span(row.label)} | " + " | ".join(cells) + " |")
    breaks = [(row, group) for row in matrix.rows for group in grouped_breaks(row)]
    if breaks:
        lines += ["", "Breaks, with the first release each appears at:", ""]
        for row, group in breaks:
            lines.append(f"- {code_span(row.label)}: {code_span(group.line())}")
    problems = [row for row in matrix.rows if row.problem]
    for row in problems:
        lines.append(f"- {code_span(row.label)} could not be read: {code_span(row.problem or '')}")
    return "\n".join(lines) + "\n"
