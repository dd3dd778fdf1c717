"""A tree's classes as the instruments read them: each file's classes (bases, own members with their form,
signature and returned expression, literal values) and module-level aliases, read with tree-sitter once per file
content and kept in the symbol index."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from phase17.cache import code_digest
from phase17.index.tree import Tree
from phase17.source.parsing import node_text, parse_tree

if TYPE_CHECKING:
    import tree_sitter


MemberKind = Literal["method", "attribute"]  # a def of any kind, or a name bound in the class body


MethodForm = Literal["method", "classmethod", "staticmethod", "property"]  # how a def is bound (its decorator)


@dataclass(frozen=True)
class Member:
    name: str
    kind: MemberKind
    line: int
    value: str | None = None  # an attribute's expression as written (None: annotated only)
    signature: str = ""
    returns: str | None = None  # a method whose body is one `return <literal>`: that literal
    expression: str | None = None  # a method whose body is one `return <expression>`: that expression, as written
    form: MethodForm = "method"
    abstract: bool = False  # its body only raises NotImplementedError, or it is an @abstractmethod
    empty: bool = False  # its body does nothing (`pass`, `...`, or a docstring alone): it returns None

    @property
    def label(self) -> str:
        """How the member reads in a table: `def`, `classmethod`, `staticmethod` or `property`."""
        return "def" if self.form == "method" else self.form


@dataclass(frozen=True)
class ClassInfo:
    name: str
    path: str
    line: int
    end: int
    bases: tuple[str, ...]
    members: Sequence[Member]

    def member(self, name: str) -> Member | None:
        return next((member for member in self.members if member.name == name), None)


class _StoredMembers(Sequence[Member]):
    """A class's members as the index keeps them, made into Members on first use: a whole-tree load reads some
    10,000 classes to find a base's few subclasses, and most are never looked into."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._records = records
        self._members: tuple[Member, ...] | None = None

    def _made(self) -> tuple[Member, ...]:
        if self._members is None:
            self._members = tuple(
                Member(
                    name=record["name"],
                    kind=record["kind"],
                    line=record["line"],
                    value=record.get("value"),
                    signature=record.get("signature", ""),
                    returns=record.get("returns"),
                    expression=record.get("expression"),
                    form=record.get("form", "method"),
                    abstract=record.get("abstract", False),
                    empty=record.get("empty", False),
                )
                for record in self._records
            )
        return self._members

    def __getitem__(self, index: Any) -> Any:
        return self._made()[index]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Member]:
        return iter(self._made())


def stored_members(records: list[dict[str, Any]]) -> Sequence[Member]:
    """A class's members from the records classes_of keeps (made into Members when first read)."""
    return _StoredMembers(records)


def classes_of(path: str, source: bytes) -> dict[str, Any]:
    """A file's top-level and nested classes with their bases and own members, and its module-level aliases."""
    if b"class " not in source and b"=" not in source:
        return {"classes": [], "aliases": []}
    tree = parse_tree(source)
    classes = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        for child in node.children:
            target = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
            if target is not None and target.type == "class_definition":
                classes.append(_class_record(target))
                body = target.child_by_field_name("body")
                if body is not None:
                    stack.append(body)
            elif child.type in (
                "if_statement",
                "try_statement",
                "block",
                "else_clause",
                "elif_clause",
                "except_clause",
            ):
                stack.append(child)
    aliases = []
    for statement in tree.root_node.children:
        if statement.type != "expression_statement" or not statement.named_children:
            continue
        assignment = statement.named_children[0]
        left, right = assignment.child_by_field_name("left"), assignment.child_by_field_name("right")
        if assignment.type == "assignment" and left is not None and right is not None and left.type == "identifier":
            names = sorted({node_text(node) for node in _identifiers_in(right)})
            aliases.append({"name": node_text(left), "line": statement.start_point.row + 1, "names": names})
    return {"classes": classes, "aliases": aliases}


def _class_record(node: tree_sitter.Node) -> dict[str, Any]:
    name = node.child_by_field_name("name")
    arguments = node.child_by_field_name("superclasses")
    bases = [
        node_text(argument)
        for argument in (arguments.named_children if arguments is not None else [])
        if argument.type not in ("keyword_argument", "comment")
    ]
    members: list[dict[str, Any]] = []
    body = node.child_by_field_name("body")
    for statement in body.named_children if body is not None else []:
        definition = (
            statement.child_by_field_name("definition") if statement.type == "decorated_definition" else statement
        )
        if definition is not None and definition.type == "function_definition":
            members.append(_method_record(definition))
        elif statement.type == "expression_statement" and statement.named_children:
            assignment = statement.named_children[0]
            left = assignment.child_by_field_name("left") if assignment.type == "assignment" else None
            if left is not None and left.type == "identifier":
                right = assignment.child_by_field_name("right")
                members.append(
                    {
                        "name": node_text(left),
                        "kind": "attribute",
                        "line": statement.start_point.row + 1,
                        "value": " ".join(node_text(right).split()) if right is not None else None,
                    }
                )
    return {
        "name": node_text(name) if name is not None else "?",
        "line": node.start_point.row + 1,
        "end": node.end_point.row + 1,
        "bases": bases,
        "members": members,
    }


def _method_record(node: tree_sitter.Node) -> dict[str, Any]:
    name = node.child_by_field_name("name")
    parameters = node.child_by_field_name("parameters")
    returned = node.child_by_field_name("return_type")
    signature = _without_comments(parameters) if parameters is not None else "()"
    if returned is not None:
        signature += f" -> {node_text(returned)}"
    body = node.child_by_field_name("body")
    statements = [child for child in (body.named_children if body is not None else []) if child.type != "comment"]
    if statements and statements[0].type == "expression_statement" and statements[0].named_children:
        if statements[0].named_children[0].type == "string":
            statements = statements[1:]  # the docstring
    returns = expression = None
    if len(statements) == 1 and statements[0].type == "return_statement" and statements[0].named_children:
        value = statements[0].named_children[0]
        expression = " ".join(node_text(value).split())
        if value.type in ("string", "integer", "float", "true", "false", "none"):
            returns = node_text(value)
    unimplemented = (
        len(statements) == 1
        and statements[0].type == "raise_statement"
        and (b"NotImplementedError" in (statements[0].text or b""))
    )
    return {
        "name": node_text(name) if name is not None else "?",
        "kind": "method",
        "line": node.start_point.row + 1,
        "signature": re.sub(r"([(\[])\s+|,?\s+([)\]])", r"\1\2", " ".join(signature.split())),
        "returns": returns,
        "expression": expression,
        "form": _form_of(node),
        "abstract": unimplemented or _decorated_with(node, "abstractmethod"),
        "empty": all(_does_nothing(statement) for statement in statements),
    }


def _without_comments(node: tree_sitter.Node) -> str:
    """A node's text with the comments inside it cut out (a `# legacy` line in a def's parameters would otherwise
    swallow the rest of the signature once it is written on one line)."""
    raw = node.text or b""
    for comment in sorted((child for child in node.children if child.type == "comment"), key=lambda c: -c.start_byte):
        start, end = comment.start_byte - node.start_byte, comment.end_byte - node.start_byte
        raw = raw[:start] + raw[end:]
    return raw.decode("utf-8", errors="replace")


def _does_nothing(statement: tree_sitter.Node) -> bool:
    if statement.type == "pass_statement":
        return True
    return statement.type == "expression_statement" and [child.type for child in statement.named_children] == [
        "ellipsis"
    ]


def _decorated_with(function: tree_sitter.Node, name: str) -> bool:
    outer = function.parent
    return (
        outer is not None
        and outer.type == "decorated_definition"
        and any(
            node_text(child).lstrip("@").strip().rsplit(".", 1)[-1] == name
            for child in outer.children
            if child.type == "decorator"
        )
    )


def _form_of(function: tree_sitter.Node) -> MethodForm:
    """classmethod, staticmethod or property by the decorators written above the def; else a plain method."""
    outer = function.parent
    if outer is None or outer.type != "decorated_definition":
        return "method"
    for decorator in outer.children:
        if decorator.type != "decorator":
            continue
        written = node_text(decorator).lstrip("@").split("(", 1)[0].strip()
        if written in ("classmethod", "builtins.classmethod"):
            return "classmethod"
        if written in ("staticmethod", "builtins.staticmethod"):
            return "staticmethod"
        if written in ("property", "functools.cached_property", "cached_property") or written.endswith(".setter"):
            return "property"
    return "method"


def _identifiers_in(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if current.type == "identifier":
            found.append(current)
        stack.extend(current.children)
    return found


def last_name_part(expression: str) -> str:
    """The class a base expression names: `interface.Platform` and `Generic[T]` are `Platform` and `Generic`."""
    return expression.rsplit(".", 1)[-1].split("[", 1)[0].strip()


def load_classes(
    upstream: Tree, under: Sequence[str], related_to: Collection[str]
) -> tuple[list[ClassInfo], dict[str, list[tuple[str, list[str]]]]]:
    """Every class below `under` that a question about the classes `related_to` can involve (those classes, their
    subclasses at any depth, and every base of any of them), with the other classes of their files, and the
    module-level aliases that name one of them.

    Such a class is written in a file that spells one of those names, so only the files that do are parsed: some
    20 of vllm's 1,758 for Platform, found by a byte search. Which files those are is kept for the tree as it is."""
    from phase17.index.kept import remembered

    kind = f"class-files:{','.join(sorted(related_to))}"
    kept = remembered(upstream, kind, under, lambda: {"paths": _related_files(upstream, under, set(related_to))})
    return classes_below(upstream, kept["paths"])


def _related_files(upstream: Tree, under: Sequence[str], related_to: set[str]) -> list[str]:
    """The files below `under` that hold a class related to `related_to` (see load_classes), or an alias of one:
    search the files for the names known so far, read the classes of those that spell one, and search again for
    the names those classes add, until none is new. A base that is not itself related (a mixin, `ABC`) is only
    looked for where a class of its name is defined."""
    from phase17.index.symbolindex import files_holding

    related, bases, searched = set(related_to), set[str](), set[str]()
    found: dict[str, list[dict[str, Any]]] = {}
    while (related | bases) - searched:
        new = sorted((related | bases) - searched)
        searched |= related | bases
        spelled = _spelling([name for name in new if name in related], defined=False)
        defined = _spelling([name for name in new if name not in related], defined=True)
        holding = files_holding(upstream, [name.encode() for name in new], under)  # (a plain search first: faster)
        hits = [
            path
            for path, data in holding.items()
            if path not in found and any(pattern.search(data) for pattern in (spelled, defined) if pattern)
        ]
        if hits:
            answers, _ = derived_answers_of_classes(upstream, hits)
            found.update((path, data["classes"]) for path, data in answers)
        grown = True
        while grown:  # the names the classes read so far add: subclasses of related ones, bases of those wanted
            grown = False
            for item in (item for classes in found.values() for item in classes):
                named = {last_name_part(base) for base in item["bases"]}
                if item["name"] not in related and named & related:
                    related.add(item["name"])
                    grown = True
                if item["name"] in related | bases and not named <= related | bases:
                    bases |= named - related
                    grown = True
    return sorted(found)


def _spelling(names: Sequence[str], *, defined: bool) -> re.Pattern[bytes] | None:
    """A search for any of `names` as a whole word (with `defined`: in a `class NAME` statement); None for none."""
    if not names:
        return None
    words = b"|".join(re.escape(name.encode()) for name in names)
    before = rb"\bclass\s+" if defined else rb"(?<![A-Za-z0-9_])"
    return re.compile(before + rb"(?:" + words + rb")(?![A-Za-z0-9_])")


def derived_answers_of_classes(upstream: Tree, paths: Sequence[str]) -> tuple[list[tuple[str, Any]], dict[str, str]]:
    """classes_of for each of the files `paths` (or below them), each content read once, ever."""
    from phase17.index.symbolindex import derived_answers

    return derived_answers(upstream, f"classes:{code_digest()}", paths, classes_of)


def classes_below(
    upstream: Tree, places: Sequence[str]
) -> tuple[list[ClassInfo], dict[str, list[tuple[str, list[str]]]]]:
    """Every class in the files below `places` (files or folders), and their module-level aliases by name."""
    answers, _ = derived_answers_of_classes(upstream, places) if places else ([], {})
    classes = [
        ClassInfo(
            name=item["name"],
            path=path,
            line=item["line"],
            end=item["end"],
            bases=tuple(item["bases"]),
            members=_StoredMembers(item["members"]),
        )
        for path, data in answers
        for item in data["classes"]
    ]
    aliases: dict[str, list[tuple[str, list[str]]]] = {}
    for path, data in answers:
        for alias in data["aliases"]:
            aliases.setdefault(alias["name"], []).append((path, alias["names"]))
    return classes, aliases


def class_methods(root: tree_sitter.Node, class_line: int) -> Iterator[tuple[str, tree_sitter.Node]]:
    """The function definitions in the body of the class defined at `class_line`, by name."""
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node.children:
            target = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
            if target is None:
                continue
            if target.type == "class_definition" and target.start_point.row + 1 == class_line:
                body = target.child_by_field_name("body")
                for statement in body.named_children if body is not None else []:
                    method = (
                        statement.child_by_field_name("definition")
                        if statement.type == "decorated_definition"
                        else statement
                    )
                    name = method.child_by_field_name("name") if method is not None else None
                    if method is not None and method.type == "function_definition" and name is not None:
                        yield node_text(name), method
                return
            if target.type in ("class_definition", "block", "if_statement", "else_clause", "try_statement"):
                stack.append(target.child_by_field_name("body") or target)
