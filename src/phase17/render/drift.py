"""What `check` and `pin REF` show: findings, diffs, suggestions, mends."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from phase17.drift.check import CheckOutcome
from phase17.drift.findings import STATUSES, Finding, Status, summary_counts
from phase17.drift.mends import Mend
from phase17.drift.review import ReviewItem
from phase17.render.layout import Wrapped, diff_lines

_STATUS_STYLE: dict[Status, str] = {
    "ok": "green",
    "moved": "cyan",
    "changed": "yellow",
    "missing": "red",
    "deleted": "red",
    "ambiguous": "magenta",
    "retired": "dim",
}
# A status added to the Literal without a style here fails on import, not on the first reader who meets it.
assert set(_STATUS_STYLE) == set(STATUSES), sorted(set(STATUSES) ^ set(_STATUS_STYLE))


def findings_report(findings: Sequence[Finding], *, diffs: bool = False, every: bool = False) -> RenderableType:
    """Each notes file with its counts per status, and a line per anchor that needs the reader (every anchor with
    `every`), then the counts in all and what to run. With `diffs`, each changed symbol's diff follows, once
    however many notes cite it."""
    parts: list[RenderableType] = []
    for target in sorted({finding.target for finding in findings}, key=lambda name: (name == "questions", name)):
        mine = [finding for finding in findings if finding.target == target]
        problems = sum(finding.is_problem for finding in mine)
        mine_counts = summary_counts(mine)
        states = ", ".join(f"{mine_counts[status]} {status}" for status in STATUSES if mine_counts[status])
        parts.append(Text(f"{target}: {len(mine)} anchors ({states}), {problems} to look at", style="bold"))
        if every:
            parts += [_finding_line(finding) for finding in mine]
            continue
        # What only moved is mended by one command: named on one line, so what needs reading stands out.
        moved = [f for f in mine if f.status == "moved" and f.line_inside is not False and f.cited is None]
        parts += [_finding_line(finding) for finding in mine if finding.is_problem and finding not in moved]
        if moved:
            names = ", ".join(finding.qualname for finding in moved)
            parts.append(Text(f"  moved ({len(moved)}): {names}  (phase17 check --fix)", style="cyan"))
    if diffs:
        parts += _diffs_once(findings)
    counts = summary_counts(findings)
    line = ", ".join(f"{counts[status]} {status}" for status in STATUSES if counts[status] or status == "ok")
    if counts["cosmetic"]:
        line += f" ({counts['cosmetic']} of the changed only in docstrings or comments)"
    if counts["line left its symbol"]:
        line += f"; {counts['line left its symbol']} cited line(s) left their symbol"
    parts.append(Text(line, style="bold"))
    parts += _next_steps(findings, diffs)
    if not every and any(not finding.is_problem for finding in findings):
        parts.append(Text("  phase17 check --all  lists every anchor, the ok ones too", style="dim"))
    return Group(*parts)


def _finding_line(finding: Finding) -> Text:
    """`  status  qualname  recorded -> now  what to know`, printed whole (no wrapping, no cropping)."""
    line = Text("  ", no_wrap=True, overflow="ignore")
    status = finding.status + (" (docstring only)" if finding.cosmetic else "")
    line.append(f"{status:<10}", style=_STATUS_STYLE[finding.status])
    line.append(f" {finding.qualname}")
    recorded = f"{finding.recorded.start}-{finding.recorded.end}"
    if finding.current is not None and finding.status in ("moved", "changed"):
        line.append(f"  {recorded} -> {finding.current.start}-{finding.current.end}", style="dim")
    elif finding.status == "ambiguous":
        line.append(
            f"  {len(finding.matches)} definitions: " + ", ".join(f"{m.start}-{m.end}" for m in finding.matches)
        )
    if finding.cited is not None:
        line.append(f"  cited in {finding.note} as {finding.cited}", style="dim")
    if finding.suggestions and finding.status == "missing":
        best = finding.suggestions[0]
        line.append(f"  -> {best.ref} ({best.score:.2f}, {best.reason})")
    elif finding.status == "deleted":
        closest = finding.suggestions[0] if finding.suggestions else None
        line.append(
            "  no successor"
            + (f"; closest, not a successor: {closest.ref.split('::')[-1]} ({closest.score:.2f})" if closest else "")
        )
    if finding.line_inside is False and finding.current is not None:
        line.append(f"  line {finding.line} left it (now {finding.current.start}-{finding.current.end})", style="red")
    written = _cited_number(finding.cited)
    now = finding.line_now if finding.line_now is not None else finding.line
    if finding.line_text is not None and now is not None and (now != finding.line or (written and written != now)):
        line.append(
            f"  the line is at {now} now; the note still says {finding.cited} "
            "(--fix records the line; --fix --rewrite-lines also rewrites the prose)",
            style="cyan",
        )
    if finding.line_text is not None and finding.status == "changed":
        gone = finding.line_now is None
        what = "gone from the symbol" if gone else "a line within 3 of it changed"
        line.append(f"  line {finding.line} held {finding.line_text!r}: {what}", style="yellow")
        if finding.nearby:
            line.append(("; around it now: " if gone else "; now: ") + " | ".join(finding.nearby), style="dim")
        if finding.moved_into is not None:
            line.append(
                f"; the same text is now in {finding.moved_into} at {finding.elsewhere_line} (a hint: that may be "
                "another line alike; re-cite it if it is: phase17 notebook TARGET --edit)",
                style="dim",
            )
    return line


def _cited_number(cited: str | None) -> int | None:
    """The line number a `file.py:LINE` citation was written with."""
    if cited is None or ":" not in cited or "::" in cited:
        return None
    number = cited.rsplit(":", 1)[1].split("-", 1)[0]  # (a range `file.py:A-B` is written with its first line)
    return int(number) if number.isdigit() else None


def _diffs_once(findings: Sequence[Finding]) -> list[RenderableType]:
    shown: set[tuple[str, str]] = set()
    parts: list[RenderableType] = []
    for finding in findings:
        if finding.status != "changed":
            continue
        key = (finding.anchor, finding.diff or "")
        if key in shown:
            continue
        shown.add(key)
        cited_by = sorted({f"{other.target}" for other in findings if other.anchor == finding.anchor})
        header = f"changed  {finding.anchor} (cited by {', '.join(cited_by)})"
        parts.append(Text(header + ("  docstring or comments only" if finding.cosmetic else ""), style="yellow"))
        if finding.diff:
            parts.append(diff_lines(finding.diff))
        else:
            parts.append(
                Text("  (the recorded text is not in upstream/'s history, so no diff can be shown)", style="dim")
            )
    return parts


def _next_steps(findings: Sequence[Finding], diffs: bool) -> list[RenderableType]:
    statuses = {finding.status for finding in findings}
    steps = []
    if "moved" in statuses:
        steps.append("phase17 check --fix  rewrites the lines of anchors that only moved (never your prose)")
    if "changed" in statuses:
        if not diffs:
            steps.append("phase17 check --diff  shows each changed symbol's diff, once")
        steps.append("phase17 check --accept REF_OR_TARGET ...  takes the current code of reviewed changes")
        if any(finding.cosmetic for finding in findings):
            steps.append("phase17 check --accept-cosmetic  takes every change that is only docstrings or comments")
    if "missing" in statuses:
        best = next(f for f in findings if f.status == "missing")
        if best.suggestions:
            steps.append(f"phase17 check --relink {best.qualname} {best.suggestions[0].ref}  (the first missing one)")
    if "deleted" in statuses:
        steps.append("phase17 check --retire REF  keeps a note on deleted code and stops flagging it")
    return [Text(f"  {step}", style="dim", no_wrap=True, overflow="ignore") for step in steps]


def mends(items: Sequence[Mend], action: str) -> RenderableType:
    """What a mend rewrote, e.g. action="rewrote the lines of"."""
    if not items:
        return Text(f"No anchor to mend: nothing {action.split()[0]}.", style="dim")
    lines = [
        Text(
            f"{action[0].upper() + action[1:]} {len(items)} anchor(s); the previous files are kept as "
            "annotations/*.yaml.bak:",
            style="green",
        )
    ]
    lines += [Text(f"  {item.target}: {item.before}  ->  {item.after}") for item in items]
    return Group(*lines)


def check_outcome(outcome: CheckOutcome) -> RenderableType:
    """What the mends rewrote (stderr), before the findings themselves."""
    return Group(*(mends(items, action) for action, items in outcome.mended))


def review_item(item: ReviewItem, number: int, total: int, *, whole: bool = False) -> RenderableType:
    """One symbol to review: where it was and is, the sentences that cite it, and the change under them (cut to
    a screen's worth unless `whole`)."""
    heading = Text(f"[{number}/{total}] ", style="bold", no_wrap=True, overflow="ignore")
    heading.append(
        item.status + (" (docstring or comments only)" if item.cosmetic else ""), style=_STATUS_STYLE[item.status]
    )
    heading.append(f"  {item.anchor}", style="bold")
    where = _was_and_is(item)
    if not item.citing:
        return Group(heading, Wrapped(f"{where}; no sentence of yours cites it: keep takes its new code", style="dim"))
    parts: list[RenderableType] = [heading, Wrapped(where, style="dim")]
    for citing in item.citing:
        parts.append(Text(f"  {citing.label}, citing {citing.cited}:", style="bold"))
        parts += [_quoted(sentence) for sentence in citing.sentences]
    see_whole = f"phase17 review {item.anchor.split('::', 1)[-1]}"
    if item.status != "changed":
        parts.append(Wrapped(f"the code is gone ({item.status}): the note may be about code that no longer exists"))
    elif item.cosmetic:
        parts.append(Wrapped(f"only its docstring or comments changed: the code is as it was ({see_whole} shows it)"))
    elif not item.hunks:
        parts.append(Text("  (no hunk of the change lies under the cited lines)", style="dim"))
    else:
        parts.append(Text("  the change under it:"))
        hunks, hunks_left = (tuple((hunk, 0) for hunk in item.hunks), 0) if whole else item.excerpt()
        for position, (hunk, rows_left) in enumerate(hunks, 1):
            parts.append(diff_lines("\n".join(f"    {line}" for line in hunk.splitlines())))
            left = [f"{rows_left} more line(s) of this hunk"] if rows_left else []
            if position == len(hunks) and (hunks_left or any(rows for _, rows in hunks)):
                left += [f"{hunks_left} more hunk(s)"] if hunks_left else []
                left.append(f"{see_whole} shows it whole")
            if left:
                parts.append(Text("     ... " + "; ".join(left), style="dim", no_wrap=True, overflow="ignore"))
    return Group(*parts)


def _was_and_is(item: ReviewItem) -> str:
    """`path: was A-B, now C-D` (the path once when it stayed)."""
    path, _, was = item.recorded.rpartition(":")
    if item.now is None:
        return f"{path}: was {was}"
    now_path, _, now = item.now.rpartition(":")
    return f"{path}: was {was}, now {now}" if now_path == path else f"was {item.recorded}, now {item.now}"


def review_report(items: Sequence[ReviewItem], *, whole: bool = False) -> RenderableType:
    """Every item, for a reader with no terminal to answer: the pairs in order, then what to run."""
    if not items:
        return Text("Nothing to review: no note cites code that changed or is gone.", style="green")
    parts: list[RenderableType] = []
    for number, item in enumerate(items, 1):
        parts += [review_item(item, number, len(items), whole=whole), Text("")]
    parts.append(
        Wrapped(
            f"{len(items)} to review. In a terminal, `phase17 review` asks keep / edit / retire / skip for each; "
            "or mend one by one: phase17 check --accept REF (keep), phase17 check --retire REF (code gone), "
            "phase17 notebook TARGET --edit (edit).",
            first="",
            rest="",
            style="bold",
        )
    )
    return Group(*parts)


def _quoted(sentence: str) -> Wrapped:
    """A reader's sentence quoted under its heading."""
    return Wrapped(sentence, "    > ", "      ")
