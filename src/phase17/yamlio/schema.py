"""One declarative schema for every YAML file phase17 reads: the pin, the reading list and the notes files.

The shapes are pydantic models (strict: no coercion, no unknown keys), checked by one loader, `validate`, that
turns pydantic's error locations into `path:line: where: what` using the lines yamlio/load.py remembers. pydantic was
chosen over cfgv because its errors carry a machine-readable location, which is what the line lookup needs.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from phase17.errors import InvalidFileError
from phase17.prompts import PromptKey
from phase17.yamlio.lines import LineDict, LineList

_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_QUESTION_KEY = re.compile(r"^[1-9][0-9]?$")


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _no_number(what: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(f"YAML reads this {what} as the number {value!r}; quote it as text, e.g. '{value}'")
        return value

    return BeforeValidator(check)


def _sha(value: str) -> str:
    if not _SHA.match(value):
        raise ValueError(f"must be a lowercase hex sha (7 to 40 characters, full preferred), not {value!r}")
    return value


def _reference(value: str) -> str:
    from phase17.errors import BadReferenceError
    from phase17.source.refs import parse_ref  # the reference grammar has one home

    try:
        parse_ref(value)
    except BadReferenceError as error:
        raise ValueError(str(error)) from None
    return value


def _symbol(value: str) -> str:
    if "::" not in value:
        raise ValueError(f"must be path::qualname, not {value!r}")
    return value


def _phase17_command(value: str) -> str:
    if not value.startswith("phase17 "):
        raise ValueError(f"evidence is a phase17 command to run, not {value!r}")
    return value


def _none_is_empty(value: Any) -> Any:
    return [] if value is None else value


Text = Annotated[StrictStr, AfterValidator(_non_blank)]
Line = Annotated[StrictInt, Field(ge=1)]
Items = BeforeValidator(_none_is_empty)


Problem = tuple[tuple[Any, ...], str]  # (location of keys and indexes, message)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def problems(self) -> list[Problem]:
        """Rules across fields (unique keys, links between sections), each at the location to report."""
        return []


# ---------------------------------------------------------------- UPSTREAM_PIN.md


class PypiEntry(_Model):
    distribution: Text
    version: Annotated[Text, _no_number("version")]


class PinFile(_Model):
    repository: Text
    tag: Annotated[Text, _no_number("tag")]
    commit: Annotated[Text, _no_number("commit"), AfterValidator(_sha)]
    pypi: PypiEntry


# ---------------------------------------------------------------- the reading list


class PromptsEntry(_Model):
    data_structure: Text
    invariant: Text
    edge_case: Text


class GuideUpstreamEntry(_Model):
    name: Text
    repository: Text
    distribution: Text
    package: Text
    tag: Annotated[Text, _no_number("tag")]
    commit: Annotated[Text, _no_number("commit"), AfterValidator(_sha)]


class TargetEntry(_Model):
    key: Text
    path: Text
    title: Text
    sentence: Text
    symbols: list[Annotated[StrictStr, AfterValidator(_reference)]]
    example_plugins: Text | None = None


class QuestionEntry(_Model):
    number: Line
    text: Text
    targets: list[Text]
    evidence: list[Annotated[Text, AfterValidator(_phase17_command)]] = []


class ReadingListFile(_Model):
    guide: Text
    upstream: GuideUpstreamEntry
    prompts: PromptsEntry
    targets: Annotated[list[TargetEntry], Field(min_length=1)]
    questions: list[QuestionEntry]

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        keys = [target.key for target in self.targets]
        for index, key in enumerate(keys):
            if key in keys[:index]:
                found.append((("targets", index, "key"), f"target key {key!r} is used twice; keys must be unique"))
        for index, question in enumerate(self.questions):
            unknown = [key for key in question.targets if key not in keys]
            if unknown:
                found.append(
                    (("questions", index, "targets"), f"question links unknown target(s) {unknown}; known: {keys}")
                )
        return found


# ---------------------------------------------------------------- annotations/*.yaml


class PinStampEntry(_Model):
    tag: Text
    commit: Text


class AnchorEntry(_Model):
    symbol: Annotated[Text, AfterValidator(_symbol)]
    kind: Text
    start: Line
    end: Line
    fingerprint: Text
    commit: Annotated[Text, AfterValidator(_sha)] | None = None
    retired: Annotated[Text, AfterValidator(_sha)] | None = None

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: int, info: ValidationInfo) -> int:
        start = info.data.get("start")
        if isinstance(start, int) and end < start:
            raise ValueError(f"end ({end}) is before its start ({start})")
        return end


class CitationEntry(AnchorEntry):
    note: Annotated[Union[StrictStr, StrictInt], AfterValidator(str)]
    cited: Text
    line: Line | None = None
    line_text: StrictStr | None = None
    last_line: Line | None = None  # a range `path:A-B`: B
    last_text: StrictStr | None = None


def _note_texts(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: "" if text is None else text for key, text in value.items()}
    return value


def _cited_notes_exist(notes: Collection[str], citations: list[CitationEntry]) -> list[Problem]:
    return [
        (("citations", index, "note"), f"citations[{index + 1}].note {citation.note!r} names no note in this file")
        for index, citation in enumerate(citations)
        if str(citation.note) not in notes
    ]


class TargetNotesFile(_Model):
    target: Text
    path: Text
    pin: PinStampEntry
    anchors: Annotated[list[AnchorEntry], Items]
    notes: Annotated[dict[PromptKey, StrictStr], BeforeValidator(_note_texts)]
    citations: Annotated[list[CitationEntry], Items] = []

    def problems(self) -> list[Problem]:
        return _cited_notes_exist(set(self.notes), self.citations)


class QuestionNotesFile(_Model):
    target: Text
    pin: PinStampEntry
    notes: Annotated[dict[StrictStr, StrictStr], BeforeValidator(_note_texts)]
    citations: Annotated[list[CitationEntry], Items] = []

    def problems(self) -> list[Problem]:
        keys: list[Problem] = [
            (("notes", key), f"notes keys are question numbers ('1', '2', ...), not {key!r}")
            for key in self.notes
            if not _QUESTION_KEY.match(key)
        ]
        return keys + _cited_notes_exist(set(self.notes), self.citations)


# ---------------------------------------------------------------- the one loader

ModelT = TypeVar("ModelT", bound=_Model)


def validate(model: type[ModelT], data: Any, shown: str, first_line: int = 1) -> ModelT:
    """`data` (from yamlio.load) as `model`, or an InvalidFileError `shown:line: where: what` for its first problem."""
    try:
        entry = model.model_validate(data)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        # a misspelt key shows as "unknown" and "missing": the unknown one says more
        problem = next((item for item in problems if item["type"] == "extra_forbidden"), problems[0])
        raise located_error(shown, data, tuple(problem["loc"]), _message(model, problem), first_line) from None
    for loc, message in entry.problems()[:1]:
        raise located_error(shown, data, loc, message, first_line)
    return entry


def located_error(shown: str, data: Any, loc: tuple[Any, ...], message: str, first_line: int = 1) -> InvalidFileError:
    """An InvalidFileError at the line of `loc` (keys and indexes) inside `data`."""
    line = getattr(data, "line", 0) or first_line
    node = data
    for part in loc:
        if isinstance(node, LineDict) and part in node.key_lines:
            line, node = node.key_lines[part], node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and part < len(node.item_lines):
            line, node = node.item_lines[part], node[part]
        else:
            break
    return InvalidFileError(f"{shown}:{line}: {message}")


def _where(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        elif part != "[key]" and not str(part).startswith(("function-", "str", "int")):
            text += f".{part}" if text else str(part)
    return text or "the file"


_GISTS = {
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "greater_than_equal": "must be a line number (1 or more)",
    "too_short": "must not be empty",
    "literal_error": "is not one of the allowed values",
}


def _message(model: type[BaseModel], problem: Any) -> str:
    loc = tuple(problem["loc"])
    kind = problem["type"]
    if kind == "missing":
        return f"{_where(loc[:-1])} is missing {loc[-1]!r}"
    expected = ", ".join(_fields_at(model, loc[:-1] if kind == "extra_forbidden" else loc))
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r} in {_where(loc[:-1])}" + (f" (expected {expected})" if expected else "")
    if loc and loc[-1] == "[key]":
        allowed = str(problem.get("ctx", {}).get("expected", "")).replace("'", "").replace(" or ", ", ")
        reason = f"(expected {allowed})" if allowed else str(problem["msg"]).removeprefix("Value error, ")
        return f"unknown key {loc[-2]!r} in {_where(loc[:-2])} {reason}"
    if kind in _GISTS:
        gist = _GISTS[kind] + (f" with {expected}" if expected and kind in ("model_type", "dict_type") else "")
        return f"{_where(loc)} {gist}, not {_describe(problem.get('input'))}"
    return f"{_where(loc)}: {str(problem['msg']).removeprefix('Value error, ')}"


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, (int, float)):
        return f"the number {str(value)[:40]}"
    return f"{type(value).__name__} {str(value)[:40]!r}"


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the schema expects at `loc` (for "unknown key ... (expected ...)")."""
    current: Any = model
    for part in loc:
        while get_origin(current) is Annotated or get_origin(current) in (list, Union):
            current = get_args(current)[0]
        if isinstance(part, str) and isinstance(current, type) and issubclass(current, BaseModel):
            current = current.model_fields[part].annotation if part in current.model_fields else None
    while get_origin(current) is Annotated or get_origin(current) in (list, Union):
        current = get_args(current)[0]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []
