"""citations.py: code cited in a note is anchored when it resolves to one definition, and only warned about else."""

from __future__ import annotations

from pathlib import Path

from phase17.index.tree import Tree
from phase17.notes.citations import reanchor_citations, resolve_citations
from phase17.notes.guide import load_reading_list
from phase17.notes.store import NotesFile, PinStamp

NEAR_CPU = ("vllm/platforms/cpu.py",)


def test_each_kind_of_citation_is_anchored(plain_upstream: Path):
    text = (
        "`CpuPlatform.check_and_update_config` sets it; `vllm/platforms/interface.py::Platform` too; cpu.py:21 picks."
    )
    citations, warnings = resolve_citations(Tree(plain_upstream), "invariant", text, NEAR_CPU)
    assert warnings == []
    assert [(c.cited, c.anchor.symbol, c.line) for c in citations] == [
        ("cpu.py:21", "vllm/platforms/cpu.py::CpuPlatform.get_attn_backend_cls", 21),
        ("CpuPlatform.check_and_update_config", "vllm/platforms/cpu.py::CpuPlatform.check_and_update_config", None),
        ("vllm/platforms/interface.py::Platform", "vllm/platforms/interface.py::Platform", None),
    ]


def test_a_bare_name_is_looked_up_near_the_target_first(plain_upstream: Path):
    citations, _ = resolve_citations(
        Tree(plain_upstream), "invariant", "`get_attn_backend_cls` of `CpuPlatform`", NEAR_CPU
    )
    # the method's bare name is the end of CpuPlatform's method's qualified name, found in the target first
    assert [c.anchor.symbol for c in citations] == [
        "vllm/platforms/cpu.py::CpuPlatform.get_attn_backend_cls",
        "vllm/platforms/cpu.py::CpuPlatform",
    ]


def test_what_cannot_be_anchored_is_a_warning_and_the_text_is_kept(plain_upstream: Path):
    text = "`NoSuchThing`, `nvml_available`, nope.py:3, cpu.py:1, `x + y`, `../../../../etc/passwd::root`, ../../x.py:2"
    citations, warnings = resolve_citations(Tree(plain_upstream), "edge_case", text, NEAR_CPU)
    assert citations == []
    assert warnings == [
        "nope.py:3: no file nope.py in upstream/; not anchored.",
        "cpu.py:1: line 1 of vllm/platforms/cpu.py is not inside one definition; not anchored.",
        "../../x.py:2: no file ../../x.py in upstream/; not anchored.",
        "`NoSuchThing` is not defined in upstream/; it is kept as text but not anchored"
        " (write `!NoSuchThing` for code that is not a citation; edit the note with phase17 notebook TARGET --edit).",
        "`nvml_available` is defined 2 times (vllm/platforms/cuda.py:49, vllm/platforms/cuda.py:53); "
        "write path::name to anchor one.",
        "`../../../../etc/passwd::root`: ../../../../etc/passwd: outside upstream/; give a path under upstream/.; "
        "it is kept as text but not anchored (write `!../../../../etc/passwd::root` for code that is not a "
        "citation; edit the note with phase17 notebook TARGET --edit).",
    ]


def test_a_hand_edit_is_anchored_again_from_its_prose(plain_upstream: Path):
    notes = NotesFile(
        name="cpu",
        path="vllm/platforms/cpu.py",
        pin=PinStamp("v1", "abc1234"),
        notes={"data_structure": "`CpuPlatform`", "invariant": "", "edge_case": "`Nope`"},
    )
    anchored, warnings = reanchor_citations(notes, Tree(plain_upstream), load_reading_list())
    assert [c.anchor.symbol for c in anchored.citations] == ["vllm/platforms/cpu.py::CpuPlatform"]
    assert warnings == [
        "edge_case: `Nope` is not defined in upstream/; it is kept as text but not anchored (write `!Nope` for "
        "code that is not a citation; edit the note with phase17 notebook TARGET --edit)."
    ]


def test_pythons_own_names_are_code_not_citations(plain_upstream: Path):
    text = "It raises `ValueError`, never `NotImplementedError`; `os.environ` and `threading.Lock` are Python's."
    assert resolve_citations(Tree(plain_upstream), "edge_case", text, NEAR_CPU) == ([], [])
    # a name of the tree that shadows a builtin's is still the tree's
    citations, _ = resolve_citations(Tree(plain_upstream), "edge_case", "`CpuPlatform` and `Platform`", NEAR_CPU)
    assert [c.anchor.symbol.split("::")[1] for c in citations] == ["CpuPlatform", "Platform"]


def test_a_range_is_anchored_with_its_first_and_last_line(plain_upstream: Path):
    citations, warnings = resolve_citations(
        Tree(plain_upstream), "invariant", "See cpu.py:19-21 and cpu.py:21-19.", NEAR_CPU
    )
    (cited,) = citations
    assert (cited.cited, cited.line, cited.last_line) == ("cpu.py:19-21", 19, 21)
    assert (cited.line_text, cited.last_text) == ("@classmethod", 'return "cpu_attn"')
    assert cited.anchor.symbol == "vllm/platforms/cpu.py::CpuPlatform.get_attn_backend_cls"
    assert warnings == ["cpu.py:21-19: a range ends after it starts (A-B with B > A); not anchored."]
    across, warned = resolve_citations(Tree(plain_upstream), "invariant", "cpu.py:7-11", NEAR_CPU)
    assert across == [] and warned == [
        "cpu.py:7-11: lines 7-11 of vllm/platforms/cpu.py are not inside one definition; not anchored."
    ]
