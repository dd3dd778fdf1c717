"""pluginlab/matrix.py: plugins x releases, each cell ok, warnings or breaks, and each break with the first
release it appears at."""

from __future__ import annotations

from pathlib import Path

from lab import plugin_folder
from markdown_it import MarkdownIt

from phase17.pluginlab.check import Release
from phase17.pluginlab.matrix import CELL_STATUSES, build_matrix, matrix_markdown
from phase17.pluginlab.source import PluginError, open_plugin


def test_each_cell_and_the_first_release_of_each_break(releases: tuple[Release, Release], changes, tmp_path: Path):
    trees = [open_plugin(str(plugin_folder(name)), tmp_path / "cache") for name in ("cpu_based", "renames", "stubs")]
    matrix = build_matrix([*trees, ("gone==1.0", PluginError("gone==1.0: no such release"))], releases, changes)
    cells = {row.plugin: {release: cell.status for release, cell in row.cells.items()} for row in matrix.rows}
    assert cells == {
        "cpu-plugin": {"v0.1": "warnings", "v0.2": "warnings"},  # a property where CpuPlatform has an attribute
        "ren-plugin": {"v0.1": "breaks", "v0.2": "breaks"},
        "stub-plugin": {"v0.1": "breaks", "v0.2": "breaks"},
        "gone==1.0": {"v0.1": "unreadable", "v0.2": "unreadable"},
    }
    renames = next(row for row in matrix.rows if row.plugin == "ren-plugin")
    first = {(finding.member, finding.kind): release for finding, release in renames.breaks}
    assert first[("get_attn_backend_cls", "call")] == "v0.1"
    assert first[("old_style_hook", "renamed")] == "v0.2"
    stubs = next(row for row in matrix.rows if row.plugin == "stub-plugin")
    assert {(finding.member, release) for finding, release in stubs.breaks} >= {("get_device_uuid", "v0.2")}
    assert matrix.breaks and {cell.status for row in matrix.rows for cell in row.cells.values()} <= set(CELL_STATUSES)
    markdown = matrix_markdown(matrix)
    table = [token for token in MarkdownIt().enable("table").parse(markdown) if token.type == "tr_open"]
    assert len(table) == 1 + len(matrix.rows)
    assert "| `ren-plugin 1.0` | breaks (2) | breaks (3) |" in markdown
    assert "`gone==1.0` could not be read: `gone==1.0: no such release`" in markdown
