"""The reading guide: the upstream it reads, its targets in order with their key symbols, its prompts, and the
questions linked to the targets with the commands that gather their evidence.

It is data, checked against the schema on load: the shipped notes/readinglists/phase17.yaml, or another guide
named with `--guide` (PHASE17_GUIDE). Nothing else in the core knows which project or chapter is read.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from phase17.errors import UnknownTargetError
from phase17.prompts import PROMPT_KEYS
from phase17.yamlio.load import parse_yaml, read_yaml_file

__all__ = ["GuideUpstream", "Question", "ReadingList", "Target", "find_target", "load_reading_list"]


@dataclass(frozen=True)
class Target:
    """One reading target: a file or folder of upstream/ and the symbols a reader should look at."""

    key: str
    number: int  # 1-based position in the reading list; 0 for an ad-hoc path
    path: str
    title: str
    sentence: str
    symbols: tuple[str, ...]
    example_plugins: str | None = None  # entry-point groups holding this word are shown beside it ("*": every one)

    @property
    def place(self) -> str:
        """The path to search under (a folder target's path without its trailing slash)."""
        return self.path.rstrip("/")


@dataclass(frozen=True)
class Question:
    number: int
    text: str
    targets: tuple[str, ...]
    evidence: tuple[str, ...] = ()  # instrument commands that gather the evidence for an answer


@dataclass(frozen=True)
class GuideUpstream:
    """The upstream a guide reads, and the release it was written against."""

    name: str  # as the reader knows it
    repository: str  # its git repository (the one a pin is trusted to name)
    distribution: str  # its PyPI distribution (the sdist that carries the same tree)
    package: str  # its package folder in the tree, where the code the guide is about lives
    tag: str
    commit: str


@dataclass(frozen=True)
class ReadingList:
    guide: str
    upstream: GuideUpstream
    prompts: dict[str, str]
    targets: tuple[Target, ...]
    questions: tuple[Question, ...]

    @property
    def keys(self) -> list[str]:
        return [target.key for target in self.targets]

    def questions_for(self, key: str) -> list[Question]:
        return [question for question in self.questions if key in question.targets]

    def places_for(self, question: Question) -> tuple[str, ...]:
        """Where the code a question concerns lives: the places of its linked targets."""
        return tuple(target.place for target in self.targets if target.key in question.targets)

    def question(self, number: int) -> Question:
        for question in self.questions:
            if question.number == number:
                return question
        raise UnknownTargetError(f"no question {number}; the questions are 1 to {len(self.questions)}.")

    def next_target(self, target: Target) -> Target | None:
        later = [candidate for candidate in self.targets if candidate.number == target.number + 1]
        return later[0] if later and target.number else None


def load_reading_list(path: Path | None = None) -> ReadingList:
    """Load and validate a reading list (the shipped phase17.yaml unless `path` is given)."""
    from phase17.yamlio.validation import require_valid

    if path is None:
        shown = "phase17/notes/readinglists/phase17.yaml"
        data = parse_yaml((files("phase17.notes") / "readinglists" / "phase17.yaml").read_text(encoding="utf-8"), shown)
    else:
        shown = str(path)
        data = read_yaml_file(path, shown)
    require_valid("ReadingListFile", data, shown)  # so the keys below exist, with the right types
    targets = tuple(
        Target(
            key=item["key"],
            number=number,
            path=item["path"],
            title=item["title"],
            sentence=item["sentence"],
            symbols=tuple(item["symbols"]),
            example_plugins=item.get("example_plugins"),
        )
        for number, item in enumerate(data["targets"], start=1)
    )
    return ReadingList(
        guide=data["guide"],
        upstream=GuideUpstream(**{key: data["upstream"][key] for key in GuideUpstream.__dataclass_fields__}),
        prompts={key: data["prompts"][key] for key in PROMPT_KEYS},
        targets=targets,
        questions=tuple(
            Question(
                number=item["number"],
                text=item["text"],
                targets=tuple(item["targets"]),
                evidence=tuple(item.get("evidence") or ()),
            )
            for item in data["questions"]
        ),
    )


def find_target(reading_list: ReadingList, text: str, upstream: Path | None = None, cwd: Path | None = None) -> Target:
    """A target by key, by number (1 to 5) or by a path; else an error naming the valid keys.

    A path may be written relative to upstream/, with the `upstream/` prefix tab completion gives, or relative
    to `cwd` (from inside upstream/pkg/sub, `mod.py`). A path of a target is that target.
    """
    wanted = text.strip()
    for target in reading_list.targets:
        if wanted in (target.key, str(target.number)) or wanted.rstrip("/") == target.place:
            return target
    relative = _upstream_path(wanted, upstream, cwd) if upstream is not None and upstream.exists() else None
    if relative is not None:
        for target in reading_list.targets:
            if relative.rstrip("/") == target.place:
                return target
        return Target(key=relative, number=0, path=relative, title=relative, sentence="", symbols=())
    closest = difflib.get_close_matches(wanted, reading_list.keys, n=1)
    hint = f" Did you mean {closest[0]!r}?" if closest else ""
    raise UnknownTargetError(
        f"no reading target {wanted!r}.{hint} Valid targets: {', '.join(reading_list.keys)} "
        f"(or 1-{len(reading_list.targets)}, or a path under upstream/)."
    )


def _upstream_path(text: str, upstream: Path, cwd: Path | None) -> str | None:
    """`text` as a path relative to upstream/ (posix, a folder ending in /), or None if it names nothing there."""
    if not text or text.startswith("-") or text.replace("\\", "/").strip("/") in ("", ".", "upstream"):
        return None
    root = upstream.resolve()
    tries = [upstream / text.removeprefix("upstream/"), upstream / text]
    if cwd is not None:
        tries.insert(0, cwd / text)
    for candidate in tries:
        try:
            resolved = candidate.resolve()
        except (OSError, RuntimeError):
            continue
        if resolved != root and root in resolved.parents and resolved.exists():
            return resolved.relative_to(root).as_posix() + ("/" if resolved.is_dir() else "")
    return None
