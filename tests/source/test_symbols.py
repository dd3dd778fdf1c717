from __future__ import annotations

import pytest

from phase17.source.parsing import load_query
from phase17.source.symbols import build_outline, parse_definitions


def _by_name(source: str | bytes) -> dict[str, list]:
    raw = source.encode() if isinstance(source, str) else source
    found: dict[str, list] = {}
    for symbol in parse_definitions(raw, "m.py"):
        found.setdefault(symbol.qualname, []).append(symbol)
    return found


KINDS = '''\
import functools

LIMIT = 3
NAME: str = "x"
first = second = 0
left, right = 1, 2


class Outer:
    """Outer's docstring.

    More text.
    """

    attribute: int = 1
    bare: str

    class Inner:
        def method(self):
            pass

    def plain(self):
        local = 1

        def helper():
            return local

        return helper

    @property
    def prop(self):
        return 1

    @prop.setter
    def prop(self, value):
        pass

    @functools.cached_property
    def cached(self):
        return 2

    @classmethod
    def make(cls):
        return cls()

    @staticmethod
    def util():
        return 0

    async def fetch(self):
        return 1


async def run():
    return 2


@functools.lru_cache
@functools.wraps(run)
def decorated(
    a,
    b,  # a comment inside the signature
):
    """One line."""
    return a
'''


def test_every_kind_of_definition():
    found = _by_name(KINDS)
    kinds = {name: [s.kind for s in symbols] for name, symbols in found.items()}
    assert kinds == {
        "LIMIT": ["assignment"],
        "NAME": ["assignment"],
        "first": ["assignment"],
        "second": ["assignment"],
        "left": ["assignment"],
        "right": ["assignment"],
        "Outer": ["class"],
        "Outer.attribute": ["attribute"],
        "Outer.bare": ["attribute"],
        "Outer.Inner": ["class"],
        "Outer.Inner.method": ["method"],
        "Outer.plain": ["method"],
        "Outer.plain.helper": ["function"],
        "Outer.prop": ["property", "property"],
        "Outer.cached": ["property"],
        "Outer.make": ["classmethod"],
        "Outer.util": ["staticmethod"],
        "Outer.fetch": ["method"],
        "run": ["async function"],
        "decorated": ["function"],
    }


def test_lines_signature_docstring_and_bytes():
    found = _by_name(KINDS)
    decorated = found["decorated"][0]
    assert (decorated.start_line, decorated.def_line, decorated.end_line) == (58, 60, 65)
    assert decorated.signature == "def decorated(a, b):"
    assert decorated.docstring == "One line."
    assert KINDS.encode()[decorated.start_byte : decorated.end_byte].startswith(b"@functools.lru_cache")
    outer = found["Outer"][0]
    assert (outer.start_line, outer.end_line, outer.docstring, outer.signature) == (
        9,
        51,
        "Outer's docstring.",
        "class Outer:",
    )
    assert found["Outer.bare"][0].signature == "bare: str"


def test_locals_are_not_definitions_but_nested_defs_are():
    found = _by_name(KINDS)
    assert "Outer.plain.local" not in found and "local" not in found
    assert found["Outer.plain.helper"][0].scope == "Outer.plain"


def test_conditional_definitions_belong_to_the_enclosing_scope_and_are_ambiguous():
    source = """\
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    current: "Platform"

try:
    import fast
    HAVE_FAST = True
except ImportError:
    HAVE_FAST = False

with open("x") as handle:
    CONFIG = handle.read()


class Platform:
    if HAVE_FAST:
        def run(self):
            return 1
    else:
        def run(self):
            return 0

Alias = Platform if HAVE_FAST else None
"""
    found = _by_name(source)
    assert [s.kind for s in found["current"]] == ["assignment"]
    assert [s.start_line for s in found["HAVE_FAST"]] == [8, 10]
    assert found["CONFIG"][0].start_line == 13
    assert [(s.kind, s.start_line) for s in found["Platform.run"]] == [("method", 18), ("method", 21)]
    assert found["Alias"][0].kind == "assignment"


def test_trailing_comments_do_not_extend_a_definition():
    found = _by_name("def f():\n    return 1\n    # trailing\n\n# module comment\nx = 1\n")
    assert found["f"][0].end_line == 2


def test_fingerprint_ignores_reformatting_and_comments_but_not_code():
    original = _by_name("def f(a, b):\n    '''Doc.'''\n    return a + b  # sum\n")["f"][0]
    reformatted = _by_name('def f(\n    a,\n    b,\n):\n    """Doc."""\n    # a new comment\n    return a + b\n')["f"][
        0
    ]
    edited = _by_name("def f(a, b):\n    '''Doc.'''\n    return a - b\n")["f"][0]
    assert reformatted.fingerprint == original.fingerprint
    spaced = _by_name("def f(a,b):\n\n    '''Doc.'''\n\n    return a+b\n")["f"][0]
    assert spaced.fingerprint == original.fingerprint
    assert edited.fingerprint != original.fingerprint


def test_fingerprint_ignores_quote_style_and_trailing_commas():
    single = _by_name("X = {'a': 1}\n")["X"][0]
    double = _by_name('X = {\n    "a": 1,\n}\n')["X"][0]
    other = _by_name('X = {"b": 1}\n')["X"][0]
    assert single.fingerprint == double.fingerprint
    assert single.fingerprint != other.fingerprint


def test_syntax_errors_keep_what_tree_sitter_recovers():
    found = _by_name("def broken(:\n    pass\n\nclass Fine:\n    def ok(self):\n        return 1\n")
    assert found["Fine.ok"][0].def_line == 5


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\n\n\n",
        b"# only a comment\n",
        b"\xef\xbb\xbfdef f():\n    return 1\n",  # BOM
        b"def f():\r\n    return 1\r\n\r\nclass C:\r\n    pass\r\n",  # CRLF
        b"def f():\n\treturn 1\n\x0c\nclass C:\n\tpass\n",  # tabs and a form feed
        b"# caf\xe9 in latin-1\ndef f():\n    return '\xff\xfe'\n",  # not UTF-8
        b"x = '" + b"a" * 200_000 + b"'\ndef f():\n    pass\n",  # a very long line
        b"\x00\x01\x02 binary \xff\xfe",
        b"def (((((\n" * 50,
    ],
)
def test_odd_sources_never_crash(raw: bytes):
    symbols = parse_definitions(raw, "odd.py")
    for symbol in symbols:
        assert 1 <= symbol.start_line <= symbol.def_line <= symbol.end_line


def test_crlf_and_form_feed_lines_are_editor_lines():
    found = _by_name(b"def f():\r\n    return 1\r\n\r\nclass C:\r\n    pass\r\n")
    assert (found["f"][0].start_line, found["f"][0].end_line, found["C"][0].def_line) == (1, 2, 4)
    found = _by_name(b"def f():\n\treturn 1\n\x0c\nclass C:\n\tpass\n")
    assert found["C"][0].def_line == 4


def test_outline_nests_by_range():
    outline = build_outline(parse_definitions(KINDS.encode(), "m.py"))
    top = [node.symbol.qualname for node in outline]
    assert top == ["LIMIT", "NAME", "first", "second", "left", "right", "Outer", "run", "decorated"]
    outer = outline[6]
    assert [child.symbol.name for child in outer.children] == [
        "attribute",
        "bare",
        "Inner",
        "plain",
        "prop",
        "prop",
        "cached",
        "make",
        "util",
        "fetch",
    ]
    assert [child.symbol.qualname for child in outer.children[3].children] == ["Outer.plain.helper"]


def test_shipped_queries_compile():
    from importlib.resources import files

    names = [
        entry.name[:-4] for entry in (files("phase17.source") / "queries").iterdir() if entry.name.endswith(".scm")
    ]
    assert names
    for name in names:
        assert load_query(name).pattern_count > 0


def test_the_fingerprint_keeps_block_structure_but_not_formatting():
    nested = (
        "class Platform:\n"
        "    def __getattr__(self, key):\n"
        "        if key.startswith('x'):\n"
        "            attr = lookup(key)\n"
        "            if attr is not None:\n"
        "                return attr\n"
        "        raise AttributeError(key)\n"
    )
    dedented = nested.replace(
        "            if attr is not None:\n                return attr\n",
        "        if attr is not None:\n            return attr\n",
    )
    reformatted = nested.replace("lookup(key)", "lookup( key )  # why").replace("'x'", '"x"')
    (a,) = [s for s in parse_definitions(nested.encode(), "p.py") if s.qualname == "Platform.__getattr__"]
    (b,) = [s for s in parse_definitions(dedented.encode(), "p.py") if s.qualname == "Platform.__getattr__"]
    (c,) = [s for s in parse_definitions(reformatted.encode(), "p.py") if s.qualname == "Platform.__getattr__"]
    assert a.fingerprint != b.fingerprint  # control flow changed: not the same code
    assert a.fingerprint == c.fingerprint  # spacing, a comment and quote style: the same code
    assert a.legacy_fingerprint == b.legacy_fingerprint  # what the old form missed
    assert a.has_fingerprint(a.fingerprint) and a.has_fingerprint(a.legacy_fingerprint)
    assert not b.has_fingerprint(a.fingerprint)


def test_deeply_nested_valid_python_never_exhausts_the_stack():
    terms = "+".join(["1"] * 3000)
    nested_pattern = "(" * 400 + "d" + ",)" * 400
    source = f"def f(x={terms}, y={'(' * 500}1{')' * 500}):\n    pass\n(a, (b, {nested_pattern})) = z\n"
    source += "".join("    " * depth + f"def g{depth}():\n" for depth in range(1100)) + "    " * 1100 + "pass\n"
    symbols = parse_definitions(source.encode(), "deep.py")
    names = {symbol.qualname for symbol in symbols}
    assert {"f", "a", "b", "d"} <= names
    # tree-sitter gives up nesting near 1,000 levels and recovers the inner defs: no crash, and what is found
    # is consistent (each def nested in the one before)
    nested = sorted((s for s in symbols if s.name.startswith("g")), key=lambda s: s.start_line)
    assert len(nested) > 50 and all(
        b.qualname.startswith(a.qualname + ".") for a, b in zip(nested, nested[1:], strict=False)
    )
    (f,) = [symbol for symbol in symbols if symbol.qualname == "f"]
    assert f.signature.startswith("def f(x=1+1+1")
    outline = build_outline(symbols)
    assert outline


_EVERY_STATEMENT_HOLDER = b"""
import typing
A = B = 1
(C, [D, *E]) = 1, [2, 3]
F: int
type Alias = list[int]
if typing.TYPE_CHECKING:
    G = 1
elif True:
    def in_elif(): pass
else:
    class InElse: H = 2
for _ in []:
    def in_for(): pass
else:
    I = 3
while False:
    J = 4
else:
    def in_while_else(): pass
try:
    K = 5
except ValueError:
    def in_except(): pass
except* TypeError:
    pass
else:
    L = 6
finally:
    class InFinally: pass
with open("x") as handle:
    M = 7
match M:
    case 7:
        def in_case(): pass
    case _:
        N = 8
@decorated
class Outer:
    P = Q = 9
    async def method(self):
        local = 1
        class InFunction:
            hidden = 2
            def deeper(self): pass
        async with x:
            def in_async_with(): pass
        async for _ in y:
            def in_async_for(): pass
        return local
    if True:
        R = 10
"""


_NESTED_ODDLY = (
    b"def outer():\n    x = 'no such word here'\n    def\\\n  inner(): pass\n    return x\ndef plain():\n    return 1\n"
)


@pytest.mark.parametrize(
    "source",
    [_EVERY_STATEMENT_HOLDER, _NESTED_ODDLY, b"def broken(:\n    pass\nclass Kept:\n    X = 1\n"],
)
def test_walking_statements_finds_exactly_what_the_query_finds_anywhere(source: bytes, monkeypatch):
    """A tree without errors is walked statement by statement; the query (which visits every node) is the
    reference, and it alone reads a tree with errors."""
    from phase17.source import sites as symbols

    walked = symbols.definition_sites(source)
    monkeypatch.setattr(symbols, "_sites_in_blocks", symbols._sites_by_query)
    queried = symbols.definition_sites(source)
    assert walked == queried
    names = {site.qualname for site in walked}
    if source is _NESTED_ODDLY:
        assert names == {"outer", "outer.inner", "plain"}  # `def` then a line continuation: still a definition
    elif b"broken" not in source:
        root = symbols.parse_tree(source).root_node
        assert root.type == "module" and not root.has_error  # so this source took the walk
        expected = {"A", "B", "C", "D", "E", "F", "Alias", "G", "in_elif", "InElse", "InElse.H", "in_for", "I", "J"}
        expected |= {"in_while_else", "K", "in_except", "L", "InFinally", "M", "in_case", "N", "Outer", "Outer.P"}
        expected |= {"Outer.Q", "Outer.method", "Outer.method.InFunction", "Outer.method.InFunction.deeper"}
        expected |= {"Outer.method.in_async_with", "Outer.method.in_async_for", "Outer.R"}
        assert names == expected
    else:
        assert {"Kept", "Kept.X"} <= names


def test_a_methods_fingerprint_does_not_depend_on_its_place_in_its_class():
    first = b"class P:\n    def get(self):\n        return 1\n\n    def other(self):\n        return 2\n"
    inserted = first.replace(b"class P:\n", b"class P:\n    def new(self):\n        return 0\n\n")
    before = next(s for s in parse_definitions(first, "p.py") if s.qualname == "P.get")
    after = next(s for s in parse_definitions(inserted, "p.py") if s.qualname == "P.get")
    assert before.fingerprint == after.fingerprint  # the same text, first in its class or not
    # A record made while the start of the class body counted for its first method still matches, in either place.
    recorded_then = before.opening_fingerprint
    assert recorded_then != before.fingerprint
    assert before.has_fingerprint(recorded_then) and after.has_fingerprint(recorded_then)
    changed = next(
        s for s in parse_definitions(inserted.replace(b"return 1", b"return 3"), "p.py") if s.qualname == "P.get"
    )
    assert not changed.has_fingerprint(before.fingerprint) and not changed.has_fingerprint(recorded_then)
