"""The reading list: the guide's targets, in order, with their key symbols and the questions linked to them.

It is data (readinglists/phase17.yaml, shipped with the package), validated on load.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from phase17.errors import ReadingListError, TargetNotFoundError, YamlFileError
from phase17.symbols import parse_ref
from phase17.yamlfile import LineDict, LineList, parse_yaml, read_yaml_file

PROMPT_KEYS = ("data_structure", "invariant", "edge_case")


@dataclass(frozen=True)
class Target:
    """One reading target: a file or folder of upstream/ and the symbols a reader should look at."""

    key: str
    number: int  # 1-based position in the reading list; 0 for an ad-hoc path
    path: str
    title: str
    sentence: str
    symbols: tuple[str, ...]

    @property
    def is_folder(self) -> bool:
        return self.path.endswith("/")

    @property
    def place(self) -> str:
        """The path to search under (a folder target's path without its trailing slash)."""
        return self.path.rstrip("/")


@dataclass(frozen=True)
class Question:
    number: int
    text: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class ReadingList:
    guide: str
    pin: str
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
        raise TargetNotFoundError(f"no question {number}; the questions are 1 to {len(self.questions)}.")

    def next_target(self, target: Target) -> Target | None:
        later = [candidate for candidate in self.targets if candidate.number == target.number + 1]
        return later[0] if later and target.number else None


def load_reading_list(path: Path | None = None) -> ReadingList:
    """Load and validate a reading list (the shipped phase17.yaml unless `path` is given)."""
    try:
        if path is None:
            resource = files("phase17") / "readinglists" / "phase17.yaml"
            data = parse_yaml(resource.read_text(encoding="utf-8"), "phase17/readinglists/phase17.yaml")
            shown = "phase17/readinglists/phase17.yaml"
        else:
            data = read_yaml_file(path)
            shown = str(path)
    except YamlFileError as error:
        raise ReadingListError(str(error)) from None
    return _validate(data, shown)


def _require(mapping: object, key: str, kind: type, shown: str, where: str) -> object:
    if not isinstance(mapping, LineDict):
        raise ReadingListError(f"{shown}:1: {where} must be a mapping")
    if key not in mapping:
        raise ReadingListError(f"{shown}:{mapping.line}: {where} is missing {key!r}")
    value = mapping[key]
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise ReadingListError(f"{shown}:{mapping.key_lines[key]}: {where}.{key} must be a {kind.__name__}")
    return value


def _validate(data: object, shown: str) -> ReadingList:
    prompts = _require(data, "prompts", dict, shown, "the reading list")
    assert isinstance(prompts, LineDict)
    if sorted(prompts) != sorted(PROMPT_KEYS):
        raise ReadingListError(f"{shown}:{prompts.line}: prompts must be exactly {', '.join(PROMPT_KEYS)}")
    raw_targets = _require(data, "targets", list, shown, "the reading list")
    assert isinstance(raw_targets, LineList)
    targets = []
    for number, raw in enumerate(raw_targets, start=1):
        where = f"target {number}"
        symbols = _require(raw, "symbols", list, shown, where)
        assert isinstance(symbols, LineList)
        for symbol, line in zip(symbols, symbols.item_lines):
            if not isinstance(symbol, str):
                raise ReadingListError(f"{shown}:{line}: {where} symbols must be strings")
            try:
                parse_ref(symbol)
            except Exception as error:
                raise ReadingListError(f"{shown}:{line}: {error}") from None
        targets.append(
            Target(
                key=str(_require(raw, "key", str, shown, where)),
                number=number,
                path=str(_require(raw, "path", str, shown, where)),
                title=str(_require(raw, "title", str, shown, where)),
                sentence=str(_require(raw, "sentence", str, shown, where)),
                symbols=tuple(symbols),
            )
        )
    keys = [target.key for target in targets]
    if len(set(keys)) != len(keys):
        raise ReadingListError(f"{shown}:{raw_targets.line}: target keys must be unique, got {keys}")
    raw_questions = _require(data, "questions", list, shown, "the reading list")
    assert isinstance(raw_questions, LineList)
    questions = []
    for raw, line in zip(raw_questions, raw_questions.item_lines):
        linked = _require(raw, "targets", list, shown, "a question")
        unknown = [key for key in linked if key not in keys]  # type: ignore[attr-defined]
        if unknown:
            raise ReadingListError(f"{shown}:{line}: question links unknown target(s) {unknown}; known: {keys}")
        questions.append(
            Question(
                number=int(_require(raw, "number", int, shown, "a question")),  # type: ignore[call-overload]
                text=str(_require(raw, "text", str, shown, "a question")),
                targets=tuple(linked),  # type: ignore[arg-type]
            )
        )
    return ReadingList(
        guide=str(_require(data, "guide", str, shown, "the reading list")),
        pin=str(_require(data, "pin", str, shown, "the reading list")),
        prompts={key: str(prompts[key]) for key in PROMPT_KEYS},
        targets=tuple(targets),
        questions=tuple(questions),
    )


def find_target(reading_list: ReadingList, text: str, upstream: Path | None = None) -> Target:
    """A target by key, by number (1 to 5) or by a path under upstream/; else an error naming the valid keys."""
    wanted = text.strip()
    for target in reading_list.targets:
        if wanted == target.key or wanted == str(target.number) or wanted.rstrip("/") == target.place:
            return target
    if upstream is not None and wanted and not wanted.startswith("-"):
        candidate = (upstream / wanted).resolve()
        root = upstream.resolve()
        if candidate.exists() and (candidate == root or root in candidate.parents) and wanted.replace("\\", "/") not in ("", "."):
            relative = candidate.relative_to(root).as_posix() + ("/" if candidate.is_dir() else "")
            return Target(key=relative, number=0, path=relative, title=relative, sentence="", symbols=())
    closest = difflib.get_close_matches(wanted, reading_list.keys, n=1)
    hint = f" Did you mean {closest[0]!r}?" if closest else ""
    raise TargetNotFoundError(
        f"no reading target {wanted!r}.{hint} Valid targets: {', '.join(reading_list.keys)} "
        f"(or 1-{len(reading_list.targets)}, or a path under upstream/)."
    )
