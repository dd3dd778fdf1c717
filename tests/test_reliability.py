"""Bad input never costs a note, a crash or a file outside the project (issue 7)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from helpers import FAKE_COMMIT, build_sdist, git, publish, serve, write_pin
from phase17 import annotations as store
from phase17.checkout import inspect_upstream
from phase17.cli import app
from phase17.errors import InvalidFileError, WriteError
from phase17.fetch import fetch_upstream
from phase17.launch import editor_command, page
from phase17.pin import load_pin

runner = CliRunner()
PINNED = store.PinStamp(tag="v9.9.9", commit=FAKE_COMMIT)


def invoke(*args: str, **kwargs):
    return runner.invoke(app, list(args), **kwargs)


# ---------------------------------------------------------------- YAML: malformed input never touches the file

GOOD_NOTES = """\
target: interface
path: vllm/platforms/interface.py
pin:
  tag: v9.9.9
  commit: abcdef0123456789abcdef0123456789abcdef01
anchors:
- symbol: vllm/platforms/interface.py::Platform
  kind: class
  start: 24
  end: 59
  fingerprint: 0123456789abcdef
notes:
  data_structure: ''
  invariant: ''
  edge_case: ''
citations: []
"""

MALFORMED: list[tuple[str, bytes]] = [
    ("unclosed bracket", GOOD_NOTES.replace("kind: class", "kind: [class").encode()),
    ("unclosed quote", GOOD_NOTES.replace("invariant: ''", "invariant: 'oops").encode()),
    ("tab indentation", GOOD_NOTES.replace("  kind: class", "\tkind: class").encode()),
    ("duplicate key", GOOD_NOTES.replace("  edge_case: ''", "  edge_case: ''\n  edge_case: 'again'").encode()),
    ("unknown top key", (GOOD_NOTES + "extra: 1\n").encode()),
    ("unknown note", GOOD_NOTES.replace("  edge_case: ''", "  edge_case: ''\n  mood: ''").encode()),
    ("start is text", GOOD_NOTES.replace("start: 24", "start: ten").encode()),
    ("start is negative", GOOD_NOTES.replace("start: 24", "start: -1").encode()),
    ("end before start", GOOD_NOTES.replace("end: 59", "end: 3").encode()),
    ("anchors is a mapping", GOOD_NOTES.replace("anchors:\n- symbol", "anchors:\n  x:\n    symbol").encode()),
    ("notes is a list", GOOD_NOTES.replace("notes:\n  data_structure: ''", "notes:\n- data_structure").encode()),
    ("symbol without ::", GOOD_NOTES.replace("interface.py::Platform", "interface.py:Platform").encode()),
    ("wrong target", GOOD_NOTES.replace("target: interface", "target: cuda").encode()),
    (
        "missing pin",
        GOOD_NOTES.replace("pin:\n  tag: v9.9.9\n  commit: abcdef0123456789abcdef0123456789abcdef01\n", "").encode(),
    ),
    ("a scalar document", b"just text\n"),
    ("an empty file", b""),
    ("only a comment", b"# nothing here\n"),
    ("two documents", (GOOD_NOTES + "---\n" + GOOD_NOTES).encode()),
    ("python object tag", GOOD_NOTES.replace("kind: class", "kind: !!python/object/apply:os.system ['true']").encode()),
    (
        "alias bomb",
        b"a: &a ['x','x','x','x','x','x','x','x','x']\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
    ),
    ("deep nesting", b"target: " + b"[" * 200 + b"]" * 200 + b"\n"),
    ("huge document", b"target: interface\nnotes:\n  data_structure: '" + b"x" * (3 * 1024 * 1024) + b"'\n"),
    ("not UTF-8", GOOD_NOTES.replace("invariant: ''", "invariant: 'caf\udce9'").encode("utf-8", "surrogateescape")),
    ("NUL byte", GOOD_NOTES.replace("invariant: ''", "invariant: '\x00'").encode()),
    ("non-string key", GOOD_NOTES.replace("  invariant: ''", "  12: ''").encode()),
]


@pytest.mark.parametrize(("name", "raw"), MALFORMED, ids=[name for name, _ in MALFORMED])
def test_malformed_notes_are_reported_by_line_and_left_alone(tmp_path: Path, name: str, raw: bytes):
    notes_dir = tmp_path / "annotations"
    notes_dir.mkdir()
    path = notes_dir / "interface.yaml"
    path.write_bytes(raw)
    with pytest.raises(InvalidFileError) as caught:
        store.load_notes(notes_dir, "interface")
    assert str(caught.value).startswith("annotations/interface.yaml:"), str(caught.value)
    line = str(caught.value).split(":")[1]
    assert line.isdigit(), str(caught.value)
    assert path.read_bytes() == raw


def test_malformed_notes_through_every_command_exit_2(fetched_project: Path, report_figure):
    assert invoke("notebook", "interface", "--data-structure", "x.").exit_code == 0
    path = fetched_project / "annotations" / "interface.yaml"
    tried = 0
    for _, raw in MALFORMED:
        path.write_bytes(raw)
        for command in (
            ["read", "interface", "--no-pager"],
            ["check"],
            ["export"],
            ["notebook", "interface", "--invariant", "y."],
        ):
            result = invoke(*command)
            assert result.exit_code == 2, (command, result.output)
            assert result.stderr.startswith("Error: annotations/interface.yaml:") and "Traceback" not in result.output
            assert path.read_bytes() == raw
            tried += 1
    report_figure(
        f"[reliability] malformed notes files tried: {len(MALFORMED)} inputs x 4 commands = {tried} runs, 0 files changed"
    )


def test_the_safe_loader_never_runs_a_python_tag(tmp_path: Path):
    notes_dir = tmp_path / "annotations"
    notes_dir.mkdir()
    marker = tmp_path / "pwned"
    (notes_dir / "interface.yaml").write_text(
        GOOD_NOTES.replace("kind: class", f"kind: !!python/object/apply:os.system ['touch {marker}']")
    )
    with pytest.raises(InvalidFileError):
        store.load_notes(notes_dir, "interface")
    assert not marker.exists()


# ---------------------------------------------------------------- failed writes keep the old file


@pytest.mark.parametrize(
    ("where", "error"),
    [
        ("mkstemp", OSError(30, "Read-only file system")),
        ("replace", PermissionError(13, "Permission denied")),
        ("fsync", OSError(28, "No space left on device")),
    ],
)
def test_a_failed_write_leaves_the_old_file_and_says_so(tmp_path: Path, monkeypatch, where, error):
    notes_dir = tmp_path / "annotations"
    old = store.NotesFile(name="questions", path=None, pin=PINNED, notes={"1": "old answer"})
    store.save_notes(notes_dir, old)
    path = notes_dir / "questions.yaml"
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise error

    target = {"mkstemp": ("tempfile", "mkstemp"), "replace": ("os", "replace"), "fsync": ("os", "fsync")}[where]
    monkeypatch.setattr(__import__(target[0]), target[1], fail)
    with pytest.raises(
        WriteError, match=rf"questions.yaml: could not write \({error.strerror}\); the previous file is unchanged"
    ):
        store.save_notes(notes_dir, store.NotesFile(name="questions", path=None, pin=PINNED, notes={"1": "new answer"}))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in notes_dir.iterdir() if not p.name.startswith(".questions.lock")) == ["questions.yaml"]


# ---------------------------------------------------------------- property tests

YAML_SPECIALS = [
    "no",
    "on",
    "off",
    "yes",
    "null",
    "~",
    "1e3",
    "0x1f",
    "- x",
    ": ",
    "#",
    "a: b",
    "'",
    '"',
    "[x]",
    "{x}",
    "*a",
    "&a",
    "!tag",
    "%",
    "@",
    "`",
    "|",
    ">",
    "\t",
    "\n",
    "\r\n",
    " lead",
    "trail ",
    "",
    "…",
    "日本語",
    "😀",
    "\u2028",
    "\x85",
    "\x07",
]
note_text = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120),
    st.lists(st.sampled_from(YAML_SPECIALS), max_size=6).map("".join),
)


def test_notes_round_trip_identically(report_figure):
    tried = []

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data_structure=note_text, invariant=note_text, edge_case=note_text, answer=note_text)
    def round_trip(data_structure: str, invariant: str, edge_case: str, answer: str) -> None:
        import tempfile

        tried.append(1)
        with tempfile.TemporaryDirectory() as folder:
            notes_dir = Path(folder)
            target = store.NotesFile(
                name="interface",
                path="vllm/platforms/interface.py",
                pin=PINNED,
                anchors=(store.Anchor("vllm/platforms/interface.py::Platform", "class", 1, 9, "0" * 16),),
                notes={"data_structure": data_structure, "invariant": invariant, "edge_case": edge_case},
            )
            questions = store.NotesFile(name="questions", path=None, pin=PINNED, notes={"1": answer})
            for notes in (target, questions):
                store.save_notes(notes_dir, notes)
                first = store.notes_path(notes_dir, notes.name).read_bytes()
                loaded = store.load_notes(notes_dir, notes.name)
                assert loaded == notes
                store.save_notes(notes_dir, loaded)
                assert store.notes_path(notes_dir, notes.name).read_bytes() == first

    round_trip()
    report_figure(f"[hypothesis] notes saved and loaded back identical: {len(tried)} examples")


NAMES = st.sampled_from(["alpha", "beta", "run", "get", "X", "_private", "__init__", "Platform"])
DECORATORS = st.lists(
    st.sampled_from(
        ["@property", "@classmethod", "@staticmethod", "@functools.cache", "@deco(1,\n    2)", "@alpha.setter"]
    ),
    max_size=2,
)


def _statements() -> st.SearchStrategy:
    simple = st.one_of(
        st.just(("pass",)),
        NAMES.map(lambda name: ("assign", name)),
        st.just(("comment",)),
        st.just(("string",)),
    )

    def compound(children: st.SearchStrategy) -> st.SearchStrategy:
        body = st.lists(children, min_size=1, max_size=4)
        return st.one_of(
            st.tuples(st.just("def"), NAMES, DECORATORS, st.booleans(), st.booleans(), body),
            st.tuples(st.just("class"), NAMES, DECORATORS, body),
            st.tuples(st.just("if"), body, body),
            st.tuples(st.just("try"), body, body),
            st.tuples(st.just("with"), body),
        )

    return st.recursive(simple, compound, max_leaves=25)


def _render(statements: list, indent: str = "") -> list[str]:
    lines: list[str] = []
    for statement in statements:
        kind = statement[0]
        if kind == "pass":
            lines.append(f"{indent}pass")
        elif kind == "assign":
            lines.append(f"{indent}{statement[1]} = 1")
        elif kind == "comment":
            lines.append(f"{indent}# a comment")
        elif kind == "string":
            lines.append(f'{indent}"""A docstring\n{indent}on two lines."""')
        elif kind == "def":
            _, name, decorators, is_async, wrapped, body = statement
            lines += [f"{indent}{decorator}".replace("\n", f"\n{indent}") for decorator in decorators]
            params = "(\n" + indent + "    self,\n" + indent + "    value=2,\n" + indent + ")" if wrapped else "(self)"
            lines.append(f"{indent}{'async ' if is_async else ''}def {name}{params}:")
            lines += _body(body, indent)
        elif kind == "class":
            _, name, decorators, body = statement
            lines += [f"{indent}{decorator}".replace("\n", f"\n{indent}") for decorator in decorators]
            lines.append(f"{indent}class {name}(Base):")
            lines += _body(body, indent)
        elif kind == "if":
            lines.append(f"{indent}if CONDITION:")
            lines += _body(statement[1], indent)
            lines.append(f"{indent}else:")
            lines += _body(statement[2], indent)
        elif kind == "try":
            lines.append(f"{indent}try:")
            lines += _body(statement[1], indent)
            lines.append(f"{indent}except ImportError:")
            lines += _body(statement[2], indent)
        elif kind == "with":
            lines.append(f"{indent}with context():")
            lines += _body(statement[1], indent)
    return lines


def _body(statements: list, indent: str) -> list[str]:
    inner = indent + "    "
    lines = _render(statements, inner)
    if all(line.strip().startswith("#") for line in lines):
        lines.append(f"{inner}pass")
    return lines


def test_resolver_agrees_with_ast_on_generated_sources(report_figure):
    import ast
    import collections

    from phase17.symbols import parse_definitions

    tried = []
    definitions = []

    @settings(max_examples=500, deadline=None)
    @given(statements=st.lists(_statements(), min_size=1, max_size=6))
    def agree(statements: list) -> None:
        source = "\n".join(_render(statements)) + "\n"
        tree = ast.parse(source)
        expected = collections.Counter(
            (node.name, min([d.lineno for d in node.decorator_list] + [node.lineno]), node.lineno, node.end_lineno)
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        )
        found = collections.Counter(
            (s.name, s.start_line, s.def_line, s.end_line)
            for s in parse_definitions(source.encode(), "gen.py")
            if s.kind not in ("assignment", "attribute")
        )
        assert found == expected, source
        tried.append(1)
        definitions.append(sum(expected.values()))

    agree()
    report_figure(
        f"[hypothesis] resolver vs ast on generated sources: {len(tried)} examples, {sum(definitions)} definitions, all agree"
    )


# ---------------------------------------------------------------- upstream sources that are not good Python


def test_bad_upstream_files_never_crash_a_command(fetched_project: Path, tmp_path: Path):
    plugins = fetched_project / "upstream" / "vllm" / "plugins"
    (plugins / "binary.py").write_bytes(b"\x7fELF\x00\x01\x02" * 100)
    (plugins / "broken.py").write_text(
        "def load_plugins_by_group(:\n    pass\nclass Fine:\n    x = 1\n", encoding="utf-8"
    )
    (plugins / "latin1.py").write_bytes(b"# caf\xe9\ndef latin(): return '\xff'\n")
    (plugins / "huge.py").write_bytes(b"x = 1\n" * (9 * 1024 * 1024 // 6 + 10))
    outside = tmp_path / "outside.py"
    outside.write_text("def load_plugins_by_group():\n    pass\n", encoding="utf-8")
    os.symlink(outside, plugins / "escape.py")
    for command in (
        ["read", "plugins", "--no-pager"],
        ["outline", "plugins"],
        ["resolve", "load_plugins_by_group"],
        ["list"],
        ["check"],
        ["read", "plugins", "--json"],
    ):
        result = invoke(*command)
        assert result.exit_code in (0, 1), (command, result.output)
        assert "Traceback" not in result.output
        if command[0] in ("read", "outline"):
            for name in ("binary.py", "huge.py", "escape.py"):
                assert result.output.count(f"vllm/plugins/{name}") == 1, (command, name, result.output)
    resolved = json.loads(invoke("resolve", "load_plugins_by_group", "--json").stdout)
    # broken.py's def is recovered from its syntax error; the link out of upstream/ is never followed
    assert [m["path"] for m in resolved["matches"]] == ["vllm/plugins/__init__.py", "vllm/plugins/broken.py"]
    assert {u["path"] for u in resolved["unreadable"]} == {"vllm/plugins/escape.py"}
    assert "Fine" in invoke("outline", "plugins").stdout and "latin" in invoke("outline", "plugins").stdout


# ---------------------------------------------------------------- fetch: verification is never skipped silently


def test_insecure_skip_verify_warns_and_is_recorded(tmp_path: Path):
    root = tmp_path / "p"
    write_pin(root, FAKE_COMMIT)
    index = tmp_path / "index"
    publish(index, build_sdist(tmp_path / "dist", commit_id="123abc456"), digest="0" * 64)
    os.chdir(root)
    with serve(index) as url:
        os.environ["PIP_INDEX_URL"] = url
        try:
            refused = invoke("fetch", "--source", "pypi")
            assert refused.exit_code == 2 and "sha256 is" in refused.stderr
            result = invoke("fetch", "--source", "pypi", "--insecure-skip-verify")
        finally:
            del os.environ["PIP_INDEX_URL"]
    assert result.exit_code == 0, result.output
    assert "INSECURE: --insecure-skip-verify" in result.stderr and "NOT verified" in result.stdout
    upstream = root / "upstream"
    assert (
        "verification: skipped (--insecure-skip-verify)" in (upstream / ".git" / "phase17-provenance.yaml").read_text()
    )
    assert "Verification: skipped (--insecure-skip-verify)" in git(upstream, "log", "-1", "--format=%B")
    state = inspect_upstream(upstream, load_pin(root / "UPSTREAM_PIN.md"))
    assert state.status == "matches" and not state.verified and not state.is_verified
    shown = invoke("pin")
    assert shown.exit_code == 1 and "NOT verified" in shown.stdout
    cache = Path(os.environ["PHASE17_CACHE_DIR"]) / "sdists"  # where the CLI keeps sdists in this test
    assert (cache / "vllm-9.9.9.tar.gz").is_file()  # the unverified download is there...
    assert not list(cache.glob("*.sha256"))  # ...but never recorded as verified, so it is never trusted later


def test_an_unexpected_repository_needs_a_yes(tmp_path: Path, git_source):
    root = tmp_path / "p"
    write_pin(root, git_source[1], repository=git_source[0].as_uri())
    os.chdir(root)
    refused = invoke("fetch")
    assert refused.exit_code == 2
    assert "names the repository" in refused.stderr and "set PHASE17_TRUSTED_REPOSITORY=" in refused.stderr
    assert not (root / "upstream").exists()
    accepted = invoke("fetch", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert inspect_upstream(root / "upstream", load_pin(root / "UPSTREAM_PIN.md")).status == "matches"


# ---------------------------------------------------------------- editor and pager: shlex, never a shell


def test_editor_and_pager_values_are_split_not_shelled(tmp_path: Path):
    marker = tmp_path / "shell-ran"
    assert editor_command(Path("/u/f.py"), 12, {"EDITOR": "'/opt/my editor/bin/ed' --flag 'two words'"}) == [
        "/opt/my editor/bin/ed",
        "--flag",
        "two words",
        "+12",
        "/u/f.py",
    ]
    assert editor_command(Path("/u/f.py"), 7, {"VISUAL": "code --wait", "EDITOR": "vim"}) == [
        "code",
        "--wait",
        "-g",
        "/u/f.py:7",
    ]
    assert editor_command(Path("/u/f.py"), None, {}) == ["vi", "/u/f.py"]
    log = tmp_path / "pager.log"
    script = tmp_path / "my pager.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\ncat >> "{log}"\n', encoding="utf-8")
    script.chmod(0o755)
    assert page("hello\n", {"PAGER": f"'{script}' -R; touch {marker}"})
    assert log.read_text().splitlines() == ["-R;", "touch", str(marker), "hello"]
    assert not marker.exists()
    assert page("x", {"PAGER": "/no/such/pager"}) is False


# ---------------------------------------------------------------- SIGKILL fault injection

WRITER = """
import sys
from pathlib import Path
from phase17 import annotations as store
notes_dir = Path(sys.argv[1])
for round_number in range(10_000):
    value = f"value {round_number} " + "x" * 20000
    store.update_notes(notes_dir, "questions", {"1": value, "2": value})
"""


def test_sigkill_during_notes_saves_leaves_old_or_new(tmp_path: Path, report_figure):
    notes_dir = tmp_path / "annotations"
    store.save_notes(
        notes_dir, store.NotesFile(name="questions", path=None, pin=PINNED, notes={"1": "initial", "2": "initial"})
    )
    kill_points = 0
    outcomes = {"old": 0, "new": 0}
    previous = "initial"
    for point in range(40):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(notes_dir)])
        time.sleep(0.2 + point * 0.03 + random.Random(point).uniform(0, 0.02))  # spread over start-up and many saves
        process.send_signal(signal.SIGKILL)
        process.wait()
        kill_points += 1
        notes = store.load_notes(notes_dir, "questions")  # must parse: never half a file
        first, second = notes.notes["1"], notes.notes["2"]
        assert first == second  # one save wrote both: a mix would differ
        assert first == "initial" or (first.startswith("value ") and first.endswith("x" * 20000))
        outcomes["new" if first != previous else "old"] += 1
        previous = first
    assert outcomes["new"] > 0  # the kills did land after saves had happened
    report_figure(
        f"[fault injection] notes saves killed with SIGKILL at {kill_points} points: 0 corrupted, 0 mixed ({outcomes})"
    )


def test_sigkill_during_fetch_leaves_old_or_new_tree(tmp_path: Path, report_figure):
    root = tmp_path / "p"
    write_pin(root, FAKE_COMMIT)
    index = tmp_path / "index"
    publish(index, build_sdist(tmp_path / "dist"))
    pin = load_pin(root / "UPSTREAM_PIN.md")
    upstream = root / "upstream"
    kill_points = 0
    outcomes = {"old tree": 0, "new tree": 0}
    with serve(index) as url:
        fetch_upstream(pin, upstream, source="pypi", cache_dir=root / "cache", index_url=url)
        pristine = _listing(upstream)
        environment = {**os.environ, "PIP_INDEX_URL": url, "PHASE17_CACHE_DIR": str(root / "cache"), "NO_COLOR": "1"}
        for round_number in range(14):
            (upstream / "OLD_TREE_MARKER").write_text("old\n", encoding="utf-8")
            old = _listing(upstream)
            process = subprocess.Popen(
                [sys.executable, "-m", "phase17", "fetch", "--force", "--source", "pypi"],
                cwd=root,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.05 + round_number * 0.3)  # evenly from start-up to well after the swap, on any machine
            process.send_signal(signal.SIGKILL)
            process.wait()
            kill_points += 1
            assert upstream.is_dir(), f"round {round_number}: upstream/ vanished"
            now = _listing(upstream)
            assert now in (old, pristine), f"round {round_number}: a mixed tree"
            cached = root / "cache" / "sdists" / "vllm-9.9.9.tar.gz"
            assert not cached.exists() or cached.read_bytes() == (index / "files" / "vllm-9.9.9.tar.gz").read_bytes()
            outcomes["old tree" if now == old else "new tree"] += 1
            if now == old:
                (upstream / "OLD_TREE_MARKER").unlink()
    assert outcomes["old tree"] and outcomes["new tree"]  # kills landed both before and after the swap
    report_figure(
        f"[fault injection] fetches killed with SIGKILL at {kill_points} points: upstream/ was the old or the new tree every time ({outcomes})"
    )


def _listing(folder: Path) -> list[tuple[str, bytes]]:
    return sorted(
        (p.relative_to(folder).as_posix(), p.read_bytes())
        for p in folder.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    )
