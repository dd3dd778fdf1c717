"""The commands that keep the reader's notes: write them, answer the questions, export, check for drift."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from phase17.cli import completion
from phase17.cli.commands.options import FetchOption, JsonOption
from phase17.cli.console import reporting_errors, session
from phase17.cli.workspace import load_all, ready_upstream

# Core modules are imported inside the commands that use them: `--help` and a command that parses nothing never
# load tree-sitter, GitPython, rich's syntax module or the fetch code.
commands = typer.Typer()


@commands.command(short_help="Write a target's three-sentence lab notes.")
def notebook(
    target: Annotated[
        Optional[str],
        typer.Argument(
            metavar="[TARGET]",
            help="The target to write notes for; default: the first unfinished.",
            autocompletion=completion.target_keys,
        ),
    ] = None,
    data_structure: Annotated[
        Optional[str], typer.Option(help="Set the 'what data structure' note, no prompt.")
    ] = None,
    invariant: Annotated[Optional[str], typer.Option(help="Set the 'what invariant' note, no prompt.")] = None,
    edge_case: Annotated[Optional[str], typer.Option(help="Set the 'what edge case' note, no prompt.")] = None,
    edit: Annotated[
        bool, typer.Option(help="Open the target's YAML in $EDITOR; it is validated when the editor exits.")
    ] = False,
    fetch_missing: FetchOption = True,
) -> None:
    """Write a target's three-sentence lab notes (and its questions), saved the moment each is given.

    Example: phase17 notebook interface
    """
    from phase17 import render
    from phase17.cli import launch
    from phase17.cli.dialogs import print_recorded, reopen_editor, run_interview
    from phase17.notes import notebook as notes

    with reporting_errors():
        project, pinned, reading_list = load_all()
        context = (project.notebook, ready_upstream(project, pinned, fetch_missing=fetch_missing), reading_list, pinned)
        chosen = notes.notes_target(*context, target)
        given = {"data_structure": data_structure, "invariant": invariant, "edge_case": edge_case}
        if chosen is None:
            session.out.print("Every target's three notes are written; revise one with: phase17 notebook interface.")
        elif edit:
            session.out.print(render.edited(notes.edit_notes(*context, chosen.key, launch.run_editor, reopen_editor)))
        elif any(value is not None for value in given.values()):
            for recorded in notes.record_notes(*context, chosen, given):
                print_recorded(recorded)
        else:
            raise typer.Exit(code=run_interview(context, chosen))


@commands.command(short_help="Answer one of the guide's questions.")
def answer(
    number: Annotated[
        int,
        typer.Argument(
            metavar="N",
            help="The question's number (see phase17 read TARGET).",
            autocompletion=completion.question_numbers,
        ),
    ],
    text: Annotated[
        str, typer.Argument(metavar="TEXT", help="Your answer; cite code as `Class.method` or path.py:LINE.")
    ],
    fetch_missing: FetchOption = True,
) -> None:
    """Save your answer to one of the guide's questions in annotations/questions.yaml.

    Example: phase17 answer 4 'The CPU backend refuses MLA attention; see cpu.py:83.'
    """
    from phase17.cli.dialogs import print_recorded
    from phase17.notes import notebook as notes

    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned, fetch_missing=fetch_missing)
        print_recorded(notes.record_answer(project.notebook, upstream, reading_list, pinned, number, text))


class ExportFormat(str, Enum):
    """What `export` writes."""

    markdown = "markdown"
    codetour = "codetour"


@commands.command(short_help="Regenerate notebooks/phase17.md, or a VS Code tour.")
def export(
    output_format: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="markdown: notebooks/phase17.md. codetour: upstream/.tours/phase17.tour (open upstream/ in VS Code).",
        ),
    ] = ExportFormat.markdown,
    evidence: Annotated[
        bool,
        typer.Option(
            "--evidence", help="Add the platform class diagram (Mermaid) and contract table, computed from upstream/."
        ),
    ] = False,
) -> None:
    """Regenerate notebooks/phase17.md from annotations/ (deterministic, links pinned), or write a CodeTour.

    Example: phase17 export --format codetour
    """
    from phase17.notes import export as exporting

    with reporting_errors():
        project, pinned, reading_list = load_all()
        if output_format is ExportFormat.codetour:
            upstream = ready_upstream(project, pinned)
            tour = exporting.codetour(project.annotations, upstream, reading_list, pinned)
            path = exporting.write_codetour(upstream, tour)
        else:
            gathered = exporting.evidence_markdown(ready_upstream(project, pinned), reading_list) if evidence else None
            path = exporting.write_export(project.annotations, project.notebooks, reading_list, pinned, gathered)
        shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
        session.out.print(f"Wrote {shown}.", highlight=False)


@commands.command(short_help="Prove every note anchor still resolves; mend.")
def check(
    fix: Annotated[
        bool,
        typer.Option(help="Rewrite the recorded lines of anchors and cited lines that only moved (never your prose)."),
    ] = False,
    rewrite_lines: Annotated[
        bool, typer.Option("--rewrite-lines", help="With --fix: also rewrite a moved file.py:LINE in your prose.")
    ] = False,
    accept: Annotated[
        Optional[list[str]],
        typer.Option(
            metavar="REF_OR_TARGET",
            help="Take the current code of this reviewed, changed anchor (a target: all of its); repeatable.",
            autocompletion=completion.symbol_names,
        ),
    ] = None,
    accept_cosmetic: Annotated[
        bool, typer.Option("--accept-cosmetic", help="Take every change that is only docstrings or comments.")
    ] = False,
    relink: Annotated[
        Optional[tuple[str, str]], typer.Option(metavar="REF NEW_REF", help="Point the missing anchor REF at NEW_REF.")
    ] = None,
    retire: Annotated[
        Optional[list[str]],
        typer.Option(metavar="REF", help="Keep the note on a deleted anchor, linked where its code was last seen."),
    ] = None,
    diff: Annotated[bool, typer.Option("--diff", help="Show each changed symbol's diff, once.")] = False,
    every: Annotated[
        bool, typer.Option("--all", help="List every anchor, the ok ones too (by default: the ones that need you).")
    ] = False,
    as_json: JsonOption = False,
    fetch_missing: Annotated[
        bool, typer.Option("--fetch/--no-fetch", help="Fetch the pinned upstream/ first if it is missing (for CI).")
    ] = False,
) -> None:
    """Prove every anchor in annotations/ still resolves in upstream/: ok, moved, changed, missing, deleted or
    ambiguous, one line each; mend what is safe.

    Example: phase17 check --fix
    """
    from phase17 import render
    from phase17.cli.reports import report_findings
    from phase17.drift.check import MendRequest, check_mend_and_export
    from phase17.notes.store import PinStamp

    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned, fetch_missing=fetch_missing)
        request = MendRequest(
            fix=fix,
            accept=tuple(accept or ()),
            relink=relink,
            accept_cosmetic=accept_cosmetic,
            retire=tuple(retire or ()),
            rewrite_lines=rewrite_lines,
            stamp=PinStamp(tag=pinned.tag, commit=pinned.commit),
        )
        outcome = check_mend_and_export(project.annotations, project.notebooks, upstream, request, reading_list, pinned)
        if outcome.mended:
            session.err.print(render.check_outcome(outcome))
        raise typer.Exit(code=report_findings(outcome, as_json, diffs=diff, every=every))


@commands.command(short_help="After a re-pin: is each note on changed code still true?")
def review(
    symbols: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[SYMBOL]...",
            help="Review only these (CpuPlatform.get_attn_backend_cls, or its last name), each change shown whole.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    fetch_missing: Annotated[
        bool, typer.Option("--fetch/--no-fetch", help="Fetch the pinned upstream/ first if it is missing (for CI).")
    ] = False,
) -> None:
    """Walk the notes whose cited code changed or is gone: each sentence beside the hunk under it, and
    "still true?". keep: the sentence holds, take the new code as reviewed (check --accept). edit: write the
    sentence anew (Enter keeps it), its citations anchored again. retire: the code is gone; keep the note linked
    where it was last seen (check --retire). skip: decide later. A symbol many notes cite is asked once.

    Each change is cut to the lines around what your sentences cite; name a symbol to see its change whole.
    With no terminal, the same pairs are printed in order; exit 1 while any remain (0 when none).

    Example: phase17 pin 0.33.0 && phase17 review
    """
    from phase17 import render
    from phase17.cli.console import has_terminal, print_json, show
    from phase17.cli.dialogs import review_on_terminal
    from phase17.drift.check import check_and_mend
    from phase17.drift.review import items_naming, review_items

    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned, fetch_missing=fetch_missing)
        items = review_items(check_and_mend(project.annotations, upstream).findings, project.annotations)
        whole = bool(symbols)
        if symbols:
            items = items_naming(items, symbols)
        if as_json:
            print_json({"items": [item.to_data() for item in items]})
        elif items and has_terminal():
            raise typer.Exit(code=review_on_terminal(items, project, upstream, pinned, reading_list, whole=whole))
        else:
            show(render.review_report(items, whole=whole), pager=True)
        raise typer.Exit(code=1 if items else 0)
