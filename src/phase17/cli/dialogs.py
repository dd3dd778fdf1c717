"""Conversations on a terminal: the notebook's interview (a prompt per note) and the re-pin review (a decision
per changed symbol). Rich draws the screens, typer asks; neither ever prompts without a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import typer

from phase17.cli.console import has_terminal, require_terminal, session
from phase17.errors import Phase17Error
from phase17.index.tree import Tree

if TYPE_CHECKING:
    from phase17.drift.review import Citing, ReviewItem
    from phase17.index.lookup import Lookup
    from phase17.notes import notebook as notes
    from phase17.notes.guide import ReadingList, Target
    from phase17.upstream.pin import Pin
    from phase17.upstream.project import NotebookPaths, ProjectPaths


# ---------------------------------------------------------------- the notebook's interview


class TerminalInterviewer:
    """notebook.Interviewer on the terminal: rich for the screens, typer's prompt for the answers."""

    def begin(self, target: Target, key_symbols: list[Lookup]) -> None:
        from phase17 import render
        from phase17.cli.workspace import reading_list

        session.out.print(render.notebook_intro(target, key_symbols, len(reading_list().targets)))

    def ask(self, prompt: str, current: str) -> str:
        from phase17 import render

        if current.strip():
            session.out.print(render.current_answer(current))
        label = f"{prompt} [Enter keeps it]" if current.strip() else prompt
        try:
            return str(typer.prompt(label, default=current, show_default=False)).strip()
        except typer.Abort:
            raise KeyboardInterrupt from None

    def saved(self, recorded: notes.Recorded) -> None:
        print_recorded(recorded)

    def warn(self, message: str) -> None:
        from phase17 import render

        session.err.print(render.note_warnings([message]))

    def correct(self, written: str, closest: str) -> bool:
        try:
            answer = typer.prompt(
                f"`{written}` names no definition: did you mean `{closest}`? [Y/n]", default="y", show_default=False
            )
        except typer.Abort:
            raise KeyboardInterrupt from None
        return str(answer).strip().lower() in ("", "y", "yes")


def print_recorded(recorded: notes.Recorded) -> None:
    from phase17 import render

    session.out.print(render.recorded(recorded))
    if recorded.warnings:
        session.err.print(render.note_warnings(recorded.warnings))


def reopen_editor(error: Phase17Error) -> bool:
    """After a rejected edit: ask whether to reopen the editor, only when someone is at a terminal to answer."""
    if not has_terminal():
        return False
    session.err.print(f"Error: {error}", highlight=False, markup=False)
    return bool(typer.confirm("The previous file is unchanged. Reopen the editor to fix it?", default=True))


def run_interview(context: tuple[NotebookPaths, Tree, ReadingList, Pin], chosen: Target) -> int:
    """`notebook`'s interview on the terminal (never without one); the exit code: 130 when the reader stopped it."""
    from phase17 import render
    from phase17.notes import notebook as notes

    require_terminal(
        f"ask the prompts of {chosen.key} on",
        f"give the notes as options (phase17 notebook {chosen.key} --data-structure '...' --invariant '...' "
        f"--edge-case '...'), edit the file with --edit, or run it in a terminal.",
    )
    result = notes.interview(*context, chosen, TerminalInterviewer())
    (session.err if result.stopped else session.out).print(render.notebook_done(chosen, result))
    return 130 if result.stopped else 0


# ---------------------------------------------------------------- the re-pin review

# The decisions, by their key: what each does is said in the prompt and in `review --help`.
_CHOICES = {"k": "keep", "e": "edit", "r": "retire", "s": "skip", "q": "quit"}
_KEEPS = "Enter keeps it"


def review_on_terminal(
    items: list[ReviewItem],
    project: ProjectPaths,
    upstream: Tree,
    pinned: Pin,
    reading_list: ReadingList,
    *,
    whole: bool = False,
) -> int:
    """Ask about each item; the exit code: 0 when every item was decided, 1 when some were skipped or left."""
    from phase17 import render

    left = 0
    for number, item in enumerate(items, 1):
        session.out.print(render.review_item(item, number, len(items), whole=whole))
        # keep takes changed code as reviewed; retire keeps a note on code that is gone
        offered = ["k", "e", "s", "q"] if item.status == "changed" else ["e", "r", "s", "q"]
        keys = " / ".join(f"[{key}]{_CHOICES[key][1:]}" for key in offered)
        choice = str(
            typer.prompt(
                f"  Still true? {_acts_on(item)}: {keys}", type=click.Choice(offered), show_choices=False, default="s"
            )
        )
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


def _acts_on(item: ReviewItem) -> str:
    """What a decision acts on, named in its prompt: the symbol and the notes citing it."""
    symbol = item.anchor.split("::", 1)[-1]
    notes = ", ".join(citing.label for citing in item.citing)
    return f"{symbol} ({notes})" if notes else symbol


def _decide(
    choice: str, item: ReviewItem, project: ProjectPaths, tree: Tree, pinned: Pin, reading_list: ReadingList
) -> bool:
    from phase17.drift.check import MendRequest, check_mend_and_export
    from phase17.notes.store import PinStamp

    if choice == "s":
        session.out.print("  skipped: still to review.", style="dim", highlight=False)
        return False
    if choice == "e":
        _edit_sentences(item, project, tree, pinned, reading_list)
        if item.status != "changed":
            return True  # (a note on code that is gone: the edit was the decision)
    # keep, or an edit of a note on changed code: the change is taken as reviewed; retire: the code is gone
    stamp = PinStamp(tag=pinned.tag, commit=pinned.commit)
    request = (
        MendRequest(retire=(item.anchor,), stamp=stamp)
        if choice == "r"
        else MendRequest(accept=(item.anchor,), stamp=stamp)
    )
    outcome = check_mend_and_export(project.annotations, project.notebooks, tree, request, reading_list, pinned)
    rewritten = sorted({mend.target for _, mends in outcome.mended for mend in mends})
    files = ", ".join(f"annotations/{name}.yaml" for name in rewritten) or "no file"
    if choice == "r":
        said = f"  retired {item.anchor}: the notes stay, linked to where its code was last seen; saved in {files}."
    else:
        said = f"  kept: {item.anchor} is taken as reviewed at {pinned.tag}; saved in {files}."
    session.out.print(said, style="green", highlight=False)
    return True


def _edit_sentences(
    item: ReviewItem, project: ProjectPaths, tree: Tree, pinned: Pin, reading_list: ReadingList
) -> None:
    """Ask each citing sentence anew (Enter keeps it), then save the notes changed: their citations are anchored
    again in the tree as it is now."""
    from phase17 import render
    from phase17.notes import notebook as notes
    from phase17.notes.guide import find_target
    from phase17.notes.store import load_notes

    for citing in item.citing:
        text = load_notes(project.annotations, citing.target).notes.get(citing.note, "")
        original = text
        for number, sentence in enumerate(citing.sentences, 1):
            new = _new_sentence(citing, sentence, number)
            if new != sentence:
                text = text.replace(sentence, new, 1)
        if text == original:
            session.out.print(f"  {citing.label}: every sentence kept, nothing saved.", style="dim", highlight=False)
            continue
        if citing.target == "questions":
            recorded = notes.record_answer(project.notebook, tree, reading_list, pinned, int(citing.note), text)
        else:
            target = find_target(reading_list, citing.target)
            recorded = notes.record_note(project.notebook, tree, reading_list, pinned, target, citing.note, text)
        session.out.print(render.recorded(recorded))


def _new_sentence(citing: Citing, sentence: str, number: int) -> str:
    """One sentence asked anew, naming its note; Enter keeps it. An answer that would leave one character, or
    nothing, or a decision's word, is a slip of the keyboard far more often than a sentence: asked again."""
    of = f", sentence {number} of {len(citing.sentences)}" if len(citing.sentences) > 1 else ""
    session.out.print(f"  edit {citing.label}{of}:", style="bold", highlight=False)
    session.out.print(f"    > {sentence}", highlight=False, markup=False)
    while True:
        answer = str(typer.prompt(f"  new sentence [{_KEEPS}]", default=sentence, show_default=False))
        new = answer.strip()
        if answer == sentence or new == sentence:
            return sentence
        if len(new) > 1 and new.lower() not in _CHOICES.values():
            return new
        session.err.print(
            f"  {new!r} would replace the whole sentence; type it anew, or press Enter to keep it "
            "(phase17 notebook TARGET --edit removes a sentence).",
            highlight=False,
            markup=False,
        )
