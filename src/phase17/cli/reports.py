"""What `resolve` and `check` print: a lookup's matches and problems, and the findings with their exit code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phase17.cli.console import print_json, session, show
from phase17.index.tree import Tree

if TYPE_CHECKING:
    from phase17.drift.check import CheckOutcome
    from phase17.index.lookup import Lookup


def print_lookup(upstream: Tree, lookup: Lookup, within: str | None, show_source: bool) -> None:
    """`resolve`'s screen: every match (as source with --show), and on stderr what is missing or ambiguous."""
    from phase17 import render
    from phase17.index.lookup import source_lines

    if lookup.unreadable:
        session.err.print(render.unreadable_notice(lookup.unreadable))
    for symbol in lookup.matches if show_source else ():
        session.out.print(render.symbol_source(symbol, source_lines(upstream, symbol), fold=False))
    if lookup.matches and not show_source:
        session.out.print(render.symbol_table(lookup.matches))
    problem = render.resolve_problem(lookup, within)
    if problem is not None:
        session.err.print(problem)


def report_findings(outcome: CheckOutcome, as_json: bool, *, diffs: bool = False, every: bool = False) -> int:
    """Print the findings (or their JSON records); the exit code: 1 if any needs the reader, else 0."""
    from phase17 import render
    from phase17.drift.findings import finding_data

    if as_json:
        print_json([finding_data(finding) for finding in outcome.findings])
    else:
        show(render.findings_report(outcome.findings, diffs=diffs, every=every))
    return 1 if outcome.has_problems else 0
