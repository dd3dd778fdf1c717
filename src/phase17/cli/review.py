"""`phase17 review` on a terminal: each changed or deleted symbol beside the sentences citing it, and a decision."""

from __future__ import annotations

from pathlib import Path

import click
import typer

from phase17.cli.terminal import session
from phase17.drift.review import ReviewItem
from phase17.errors import Phase17Error
from phase17.notes.guide import ReadingList, find_target
from phase17.notes.store import PinStamp
from phase17.upstream.pin import Pin
from phase17.upstream.project import ProjectPaths

# The decisions, by their key: what each does is said in the prompt and in `review --help`.
_CHOICES = {"k": "keep", "e": "edit", "r": "retire", "s": "skip", "q": "quit"}


def review_on_terminal(
    items: list[ReviewItem], project: ProjectPaths, upstream: Path, pinned: Pin, reading_list: ReadingList
) -> int:
    """Ask about each item; the exit code: 0 when every item was decided, 1 when some were skipped or left."""
    from phase17 import render

    left = 0
    for number, item in enumerate(items, 1):
        session.out.print(render.review_item(item, number, len(items)))
        offered = ["k", "e", "s", "q"] if item.status == "changed" else ["e", "r", "s", "q"]
        prompt = " / ".join(f"[{key}]{_CHOICES[key][1:]}" for key in offered)
        choice = str(typer.prompt(f"  {prompt}", type=click.Choice(offered), show_choices=False, default="s"))
        if choice == "q":
            left += len(items) - number + 1
            break
        try:
            done = _decide(choice, item, project, upstream, pinned, reading_list)
        except Phase17Error as error:
            session.err.print(f"  Error: {error}", highlight=False, markup=False)
            done = False
        left += not done
    session.out.print(
        f"{len(items) - left} of {len(items)} decided" + (f"; {left} left (phase17 review again)" if left else "."),
        highlight=False,
    )
    return 1 if left else 0


def _decide(
    choice: str, item: ReviewItem, project: ProjectPaths, tree: Path, pinned: Pin, reading_list: ReadingList
) -> bool:
    from phase17.drift.check import MendRequest, check_and_mend
    from phase17.notes import export as exporting

    stamp = PinStamp(tag=pinned.tag, commit=pinned.commit)
    if choice == "s":
        return False
    if choice == "e":
        _edit_sentences(item, project, tree, pinned, reading_list)
        if item.status != "changed":
            return True  # (a note on code that is gone: the edit was the decision)
    # keep, or an edit of a note on changed code: the change is taken as reviewed; retire: the code is gone
    request = (
        MendRequest(retire=(item.anchor,), stamp=stamp)
        if choice == "r"
        else MendRequest(accept=(item.anchor,), stamp=stamp)
    )
    if check_and_mend(project.annotations, tree, request).mended:
        exporting.write_export(project.annotations, project.notebooks, reading_list, pinned)
    session.out.print(f"  {_CHOICES[choice]}: done.", style="green", highlight=False)
    return True


def _edit_sentences(
    item: ReviewItem, project: ProjectPaths, tree: Path, pinned: Pin, reading_list: ReadingList
) -> None:
    """Ask each citing sentence anew (Enter keeps it), then save the notes changed: their citations are anchored
    again in the tree as it is now."""
    from phase17.notes import notebook as notes
    from phase17.notes.store import load_notes

    for citing in item.citing:
        text = load_notes(project.annotations, citing.target).notes.get(citing.note, "")
        for sentence in citing.sentences:
            new = str(typer.prompt("  new sentence [Enter keeps it]", default=sentence, show_default=False)).strip()
            if new and new != sentence:
                text = text.replace(sentence, new, 1)
        if citing.target == "questions":
            notes.record_answer(project.notebook, tree, reading_list, pinned, int(citing.note), text)
        else:
            notes.record_note(
                project.notebook,
                tree,
                reading_list,
                pinned,
                find_target(reading_list, citing.target),
                citing.note,
                text,
            )
