"""The platform gates: every capability predicate of the base class (`supports_fp8`, `is_cuda`, `use_custom_allreduce`,
...), what each platform answers, and where the engine asks it.

A platform's answer is read, never run: a literal it returns, or an expression phase17 can evaluate from the class
attributes alone (`self._enum == PlatformEnum.CUDA`, `self.is_tpu()`, `not ...`, `and`/`or`); anything else is
"computed" at run time (a device query), with the line to read.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from phase17.index.tree import Tree
from phase17.instruments.classes import ClassInfo, Member
from phase17.instruments.contract import BASE_NAME, BASE_PATH, Contract, build_contract
from phase17.instruments.contract import inherited_member as _inherited_member
from phase17.source.parsing import python_expression

GATE_NAMES = re.compile(r"^(?:supports?|is|has|can|uses?)_\w+$")
GateHow = Literal["literal", "computed", "inherited"]
GATE_HOWS: tuple[GateHow, ...] = get_args(GateHow)
SHOWN_SITES = 3


@dataclass(frozen=True)
class GateAnswer:
    """One platform's answer to one gate: its own literal or computed override, or inherited (from `origin`)."""

    how: GateHow
    value: bool | None  # None: only known at run time
    origin: str | None = None  # the class it is inherited from
    line: int | None = None  # the line of the definition that answers (own or inherited)
    path: str | None = None
    why: tuple[str, ...] = ()  # a computed answer: the lines that decide it ("615: return ...")
    summary: str | None = None  # ...and its docstring's first line

    def to_data(self) -> dict[str, Any]:
        data = {"how": self.how, "value": self.value, "from": self.origin, "line": self.line, "path": self.path}
        return {**data, **({"why": list(self.why), "summary": self.summary} if self.why or self.summary else {})}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> GateAnswer:
        why = tuple(data.get("why", ()))
        return cls(data["how"], data["value"], data["from"], data["line"], data["path"], why, data.get("summary"))


@dataclass(frozen=True)
class Gate:
    """A capability predicate of the base, each platform's answer, and the engine's calls of it."""

    name: str
    line: int
    answers: dict[str, GateAnswer]  # by class name, the base first
    call_sites: int
    first_sites: tuple[str, ...]  # path:line of the first few `current_platform.<gate>` uses

    @property
    def spread(self) -> int:
        """How many distinct answers the platforms give (True, False, run time): the gates that differ most first."""
        return len({answer.value for answer in self.answers.values()})

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "line": self.line,
            "call_sites": self.call_sites,
            "first_sites": list(self.first_sites),
            "platforms": {name: answer.to_data() for name, answer in self.answers.items()},
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Gate:
        answers = {name: GateAnswer.from_data(answer) for name, answer in data["platforms"].items()}
        return cls(data["name"], data["line"], answers, data["call_sites"], tuple(data["first_sites"]))


@dataclass(frozen=True)
class GatesReport:
    base: ClassInfo
    platforms: tuple[str, ...]
    gates: tuple[Gate, ...]

    def to_data(self) -> dict[str, Any]:
        return {
            "base": {"name": self.base.name, "path": self.base.path, "line": self.base.line},
            "platforms": list(self.platforms),
            "gates": [gate.to_data() for gate in self.gates],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> GatesReport:
        base = data["base"]
        info = ClassInfo(base["name"], base["path"], base["line"], base["line"], (), ())
        return cls(info, tuple(data["platforms"]), tuple(Gate.from_data(gate) for gate in data["gates"]))


def is_gate(member: Member) -> bool:
    """A capability predicate: named like one, or a method declared to return bool."""
    if member.kind != "method" or member.name.startswith("_"):
        return False
    return bool(GATE_NAMES.match(member.name)) or member.signature.replace(" ", "").endswith("->bool")


def gates_report(upstream: Tree, platforms: Sequence[str] = (), under: Sequence[str] = ("vllm",)) -> GatesReport:
    """find_gates, kept for the tree as it is (a second call on the same tree reads the kept answer)."""
    from phase17.index.kept import remembered

    kind = f"gates:{','.join(platforms)}"
    return GatesReport.from_data(
        remembered(upstream, kind, under, lambda: find_gates(upstream, platforms, under).to_data())
    )


def find_gates(upstream: Tree, platforms: Sequence[str] = (), under: Sequence[str] = ("vllm",)) -> GatesReport:
    """Every gate of the base Platform, each platform's answer, and the engine's `current_platform.<gate>` uses."""
    from phase17.instruments.usages import find_usages

    contract = build_contract(upstream, BASE_NAME, BASE_PATH, under=under, platforms=platforms)
    classes = [contract.base, *contract.platforms]
    by_name: dict[str, list[ClassInfo]] = {}
    for info in classes:
        by_name.setdefault(info.name, []).append(info)
    uses = find_usages(upstream, "current_platform", under=under)
    sites: dict[str, list[str]] = {}
    for usage in uses.usages:
        sites.setdefault(usage.group, []).append(f"{usage.path}:{usage.line}")
    gates = []
    reasons = _Reasons(upstream)
    for member in contract.base.members:
        if not is_gate(member):
            continue
        answers = {
            info.name: reasons.of(_answer(info, member.name, contract, by_name), member.name) for info in classes
        }
        found = sites.get(member.name, [])
        gates.append(Gate(member.name, member.line, answers, len(found), tuple(found[:SHOWN_SITES])))
    gates.sort(key=lambda gate: (-gate.spread, -_overrides(gate), gate.name))
    return GatesReport(contract.base, tuple(info.name for info in classes), tuple(gates))


MAX_WHY = 4  # lines shown of what decides a computed answer


class _Reasons:
    """What decides a computed answer, read from its definition: the lines that return (its only line, when it
    returns nothing on its own), at most MAX_WHY, and its docstring's first line. Each file is read once."""

    def __init__(self, upstream: Tree) -> None:
        self.upstream = upstream
        self._symbols: dict[str, dict[tuple[str, int], Any]] = {}

    def of(self, answer: GateAnswer, name: str) -> GateAnswer:
        if answer.value is not None or answer.path is None or answer.line is None:
            return answer
        symbol = self._symbol(answer.path, name, answer.line)
        if symbol is None:
            return answer
        from phase17.index.lookup import editor_lines, source_text

        lines = editor_lines(source_text(self.upstream, answer.path))
        body = [(number, lines[number - 1].strip()) for number in range(symbol.start_line, symbol.end_line + 1)]
        returns = [(number, text) for number, text in body if text.startswith(("return ", "return(", "raise "))]
        chosen = returns or [item for item in body if item[1] and not item[1].startswith(("@", "def ", '"""'))][-1:]
        why = tuple(f"{number}: {text}" for number, text in chosen[:MAX_WHY])
        more = (f"... {len(chosen) - MAX_WHY} more",) if len(chosen) > MAX_WHY else ()
        return replace(answer, why=why + more, summary=symbol.docstring)

    def _symbol(self, path: str, name: str, line: int) -> Any:
        if path not in self._symbols:
            from phase17.errors import Phase17Error
            from phase17.index.lookup import file_definitions

            try:
                symbols = file_definitions(self.upstream, path)
            except Phase17Error:
                symbols = []
            self._symbols[path] = {(s.qualname.rsplit(".", 1)[-1], s.start_line): s for s in symbols}
        found = self._symbols[path]
        return found.get((name, line)) or next(
            (symbol for (named, start), symbol in found.items() if named == name and start <= line <= symbol.end_line),
            None,
        )


def _overrides(gate: Gate) -> int:
    return sum(answer.how != "inherited" for answer in gate.answers.values())


def _answer(info: ClassInfo, name: str, contract: Contract, by_name: dict[str, list[ClassInfo]]) -> GateAnswer:
    value = _evaluate_gate(info, name, contract, by_name, depth=0)
    own = info.member(name)
    if own is not None:
        how: GateHow = "literal" if own.returns in ("True", "False") else "computed"
        return GateAnswer(how, value, None, own.line, info.path)
    parent, found = _inherited_member(info, name, contract.base, by_name)
    return GateAnswer("inherited", value, parent.name, found.line if found else None, parent.path)


def _evaluate_gate(
    info: ClassInfo, name: str, contract: Contract, by_name: dict[str, list[ClassInfo]], depth: int
) -> bool | None:
    """What `info.name()` returns, read from the definition that answers for `info`; None when only a run tells."""
    member = info.member(name)
    if member is None:
        member = _inherited_member(info, name, contract.base, by_name)[1]
    if member is None or member.expression is None or depth > 8:
        return None
    expression = python_expression(member.expression)
    if expression is None:
        return None
    try:
        result = _Evaluator(info, contract, by_name, depth).value(expression)
    except RecursionError:  # an expression nested past Python's stack: only a run would tell
        return None
    return result if isinstance(result, bool) else None


class _Evaluator:
    """A tiny reader of gate expressions over class attributes; anything it does not know is None (run time)."""

    def __init__(self, info: ClassInfo, contract: Contract, by_name: dict[str, list[ClassInfo]], depth: int):
        self.info, self.contract, self.by_name, self.depth = info, contract, by_name, depth

    def value(self, node: ast.expr) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            operand = self.value(node.operand)
            return None if operand is None else not operand
        if isinstance(node, ast.BoolOp):
            values = [self.value(item) for item in node.values]
            if any(value is None for value in values):
                return None
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return self._compare(node)
        if isinstance(node, ast.Call) and not node.args and not node.keywords and self._on_self(node.func):
            assert isinstance(node.func, ast.Attribute)
            return _evaluate_gate(self.info, node.func.attr, self.contract, self.by_name, self.depth + 1)
        if isinstance(node, ast.Attribute) and self._on_self(node):
            return self._attribute(node.attr)
        if isinstance(node, ast.Attribute | ast.Name):
            return ast.unparse(node)  # a constant's name, such as PlatformEnum.CUDA
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return tuple(self.value(item) for item in node.elts)
        return None

    def _compare(self, node: ast.Compare) -> object:
        left, right = self.value(node.left), self.value(node.comparators[0])
        if left is None or right is None:
            return None
        operator = node.ops[0]
        if isinstance(operator, ast.Eq | ast.NotEq):
            if not isinstance(left, str | bool | int) or not isinstance(right, str | bool | int):
                return None
            return (left == right) == isinstance(operator, ast.Eq)
        if isinstance(operator, ast.In | ast.NotIn) and isinstance(right, tuple):
            if None in right:
                return None
            return (left in right) == isinstance(operator, ast.In)
        return None

    def _on_self(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")

    def _attribute(self, name: str) -> object:
        member = self.info.member(name) or _inherited_member(self.info, name, self.contract.base, self.by_name)[1]
        if member is None or member.kind != "attribute" or member.value is None:
            return None
        expression = python_expression(member.value)
        return self.value(expression) if expression is not None else None
