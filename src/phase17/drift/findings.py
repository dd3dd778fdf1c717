"""The records of a drift check, shared by the check, the mends, the export and the renderers: each anchor's
verdict (a Finding, with its one Status), where it is, and where a missing one may have gone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Status = Literal["ok", "moved", "changed", "missing", "deleted", "ambiguous", "retired"]
# What a reader reviews after a re-pin: code that changed, or is gone. (Moved code is mended by `check --fix`.)
REVIEWED: tuple[Status, ...] = ("changed", "missing", "deleted")
STATUSES: tuple[Status, ...] = get_args(Status)  # one spelling: the Literal


@dataclass(frozen=True)
class Suggestion:
    """Where a missing anchor may have gone, with a score from 0 to 1 (name and source similarity)."""

    ref: str
    path: str
    start: int
    end: int
    score: float
    reason: str
    existed: bool = False  # it was already there when the note was written: the closest code, not a successor

    def to_data(self) -> dict[str, object]:
        return {
            "ref": self.ref,
            "path": self.path,
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "reason": self.reason,
            "existed_when_recorded": self.existed,
        }


@dataclass(frozen=True)
class Location:
    path: str
    start: int
    end: int
    fingerprint: str


@dataclass(frozen=True)
class Finding:
    """One anchor's verdict."""

    target: str  # the notes file (target key, or "questions")
    anchor: str  # path::qualname as recorded
    kind: str
    status: Status
    recorded: Location
    current: Location | None = None
    matches: tuple[Location, ...] = ()  # every definition, when ambiguous
    suggestions: tuple[Suggestion, ...] = ()
    note: str | None = None  # set for a citation: the note it was cited in
    cited: str | None = None  # the citation as written
    line: int | None = None  # a path:line citation's line
    last_line: int | None = None  # a path:A-B citation's last line (line is A)
    line_inside: bool | None = None  # does that line still lie in the symbol it pointed into?
    diff: str | None = None  # recorded -> current source of a changed anchor, when git has the old text
    cosmetic: bool = False  # changed, but only in docstrings or comments (the logic is the recorded one)
    line_now: int | None = None  # a cited line found again: where its text is now
    line_text: str | None = None  # what the cited line held when the note was saved
    nearby: tuple[str, ...] = ()  # a cited line whose text is gone: the lines now around where it was
    symbol_status: Status | None = None  # for a cited line: the status of the symbol it lies in
    moved_into: str | None = None  # a hint: a cited line's text, gone from its definition, now lies in this one
    elsewhere_line: int | None = None  # ...at this line

    @property
    def is_problem(self) -> bool:
        return self.status not in ("ok", "retired") or self.line_inside is False

    @property
    def qualname(self) -> str:
        return self.anchor.split("::", 1)[-1]


def summary_counts(findings: Sequence[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {status: 0 for status in STATUSES}
    counts["cosmetic"] = sum(finding.cosmetic for finding in findings)
    for finding in findings:
        counts[finding.status] += 1
    counts["line left its symbol"] = sum(1 for finding in findings if finding.line_inside is False)
    return counts


def finding_data(finding: Finding) -> dict[str, object]:
    """The JSON record of a finding (see `phase17 check --json`)."""

    def place(location: Location | None) -> dict[str, object] | None:
        return (
            None
            if location is None
            else {
                "path": location.path,
                "start": location.start,
                "end": location.end,
                "fingerprint": location.fingerprint,
            }
        )

    data: dict[str, object] = {
        "target": finding.target,
        "anchor": finding.anchor,
        "kind": finding.kind,
        "status": finding.status,
        "recorded": place(finding.recorded),
        "current": place(finding.current),
        "suggestions": [suggestion.to_data() for suggestion in finding.suggestions],
    }
    if finding.matches:
        data["matches"] = [place(location) for location in finding.matches]
    if finding.cited is not None:
        data.update({"note": finding.note, "cited": finding.cited})
    if finding.line is not None:
        data.update({"line": finding.line, "line_inside": finding.line_inside, "moved_into": finding.moved_into})
        if finding.last_line is not None:
            data["last_line"] = finding.last_line
        if finding.elsewhere_line is not None:
            data["elsewhere_line"] = finding.elsewhere_line
    if finding.line_text is not None:
        data.update(
            {
                "line_text": finding.line_text,
                "line_now": finding.line_now,
                "nearby": list(finding.nearby),
                "symbol_status": finding.symbol_status,
            }
        )
    if finding.status == "changed":
        data["cosmetic"] = finding.cosmetic
    if finding.diff is not None:
        data["diff"] = finding.diff
    return data
