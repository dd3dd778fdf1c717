"""Rich renderables for everything phase17 shows: the only package that imports rich."""

# Each module renders one family of records; the command line reaches them through this package, and a submodule
# loads on first use (PEP 562), so that a command printing JSON never imports rich. The names are listed three
# times, for three readers (mypy, the loader, `import *`); tests/test_render.py checks that the lists agree.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phase17.render.drift import check_outcome, findings_report, mends, review_item, review_report
    from phase17.render.instruments import (
        callers_tree,
        changes_screen,
        contract_matrix,
        differences_table,
        effects_screen,
        gates_screen,
        plugins_screen,
        usage_report,
    )
    from phase17.render.notes import (
        current_answer,
        edited,
        note_warnings,
        notebook_done,
        notebook_intro,
        recorded,
        warnings,
    )
    from phase17.render.pluginlab import plugin_check_screen, plugin_matrix_screen
    from phase17.render.progress import RichReporter, fetch_summary, upstream_state
    from phase17.render.reading import (
        outline_tree,
        read_screen,
        reading_status_table,
        resolve_problem,
        symbol_source,
        symbol_table,
        target_view,
        to_text,
        unreadable_notice,
        web_url,
        whole_files,
    )

_HOMES = {
    "RichReporter": "progress",
    "callers_tree": "instruments",
    "changes_screen": "instruments",
    "check_outcome": "drift",
    "current_answer": "notes",
    "edited": "notes",
    "fetch_summary": "progress",
    "findings_report": "drift",
    "mends": "drift",
    "note_warnings": "notes",
    "notebook_done": "notes",
    "notebook_intro": "notes",
    "outline_tree": "reading",
    "read_screen": "reading",
    "reading_status_table": "reading",
    "recorded": "notes",
    "resolve_problem": "reading",
    "review_item": "drift",
    "review_report": "drift",
    "symbol_source": "reading",
    "symbol_table": "reading",
    "target_view": "reading",
    "to_text": "reading",
    "unreadable_notice": "reading",
    "upstream_state": "progress",
    "usage_report": "instruments",
    "plugins_screen": "instruments",
    "plugin_check_screen": "pluginlab",
    "plugin_matrix_screen": "pluginlab",
    "contract_matrix": "instruments",
    "differences_table": "instruments",
    "effects_screen": "instruments",
    "gates_screen": "instruments",
    "warnings": "notes",
    "web_url": "reading",
    "whole_files": "reading",
}


def __getattr__(name: str) -> Any:
    """Load the submodule that renders `name` on first use (PEP 562)."""
    if name not in _HOMES:
        raise AttributeError(f"module 'phase17.render' has no attribute {name!r}")
    return getattr(importlib.import_module(f"phase17.render.{_HOMES[name]}"), name)


__all__ = [
    "RichReporter",
    "callers_tree",
    "changes_screen",
    "check_outcome",
    "contract_matrix",
    "current_answer",
    "differences_table",
    "edited",
    "effects_screen",
    "fetch_summary",
    "gates_screen",
    "findings_report",
    "mends",
    "note_warnings",
    "notebook_done",
    "notebook_intro",
    "outline_tree",
    "plugin_check_screen",
    "plugin_matrix_screen",
    "plugins_screen",
    "read_screen",
    "reading_status_table",
    "recorded",
    "resolve_problem",
    "review_item",
    "review_report",
    "symbol_source",
    "symbol_table",
    "target_view",
    "to_text",
    "unreadable_notice",
    "upstream_state",
    "usage_report",
    "warnings",
    "web_url",
    "whole_files",
]
