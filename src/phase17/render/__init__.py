"""Rich renderables for everything phase17 shows: the only package that imports rich.

Each module renders one family of records; the command line imports them from here.
"""

from phase17.render.drift import check_outcome, findings_report, mends
from phase17.render.notes import (
    current_answer,
    edited,
    note_warnings,
    notebook_done,
    notebook_intro,
    recorded,
    warnings,
)
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

__all__ = [
    "RichReporter",
    "check_outcome",
    "current_answer",
    "edited",
    "fetch_summary",
    "findings_report",
    "mends",
    "note_warnings",
    "notebook_done",
    "notebook_intro",
    "outline_tree",
    "read_screen",
    "reading_status_table",
    "recorded",
    "resolve_problem",
    "symbol_source",
    "symbol_table",
    "target_view",
    "to_text",
    "unreadable_notice",
    "upstream_state",
    "warnings",
    "web_url",
    "whole_files",
]
