"""drift/review.py: each changed or deleted symbol beside the sentences citing it and the hunks under them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from phase17.drift.review import (
    SHOWN_HUNKS,
    SHOWN_ROWS,
    Citing,
    ReviewItem,
    hunks_under,
    items_naming,
    review_items,
    trimmed,
)
from phase17.errors import MendError
from phase17.notes.sentences import sentences_citing

DIFF = "\n".join(
    [
        "--- recorded",
        "+++ now",
        "@@ -10,5 +10,5 @@",
        " def a():",
        "-    return 1",
        "+    return 2",
        " ",
        "@@ -40,4 +40,6 @@",
        " def b():",
        "+    x = 0",
        "+    y = 1",
        "     return 3",
    ]
)


def test_the_hunks_under_a_cited_line_are_chosen_with_a_few_lines_of_context():
    assert [hunk.splitlines()[0] for hunk in hunks_under(DIFF, [11])] == ["@@ -10,5 +10,5 @@"]
    assert [hunk.splitlines()[0] for hunk in hunks_under(DIFF, [46])] == ["@@ -40,4 +40,6 @@"]  # within 3 lines
    assert hunks_under(DIFF, [25]) == ()  # nothing changed near it
    assert len(hunks_under(DIFF, None)) == 2  # a note about the whole symbol: every hunk
    assert "--- recorded" not in "".join(hunks_under(DIFF, None))


def test_the_sentences_that_cite_the_code_are_picked_out_of_the_note():
    note = "The CPU has no MLA. `Cpu.attn` raises for MLA (see cpu.py:84). Sparse is refused too."
    assert sentences_citing(note, "`Cpu.attn`".strip("`")) == ("`Cpu.attn` raises for MLA (see cpu.py:84).",)
    assert sentences_citing(note, "cpu.py:84") == ("`Cpu.attn` raises for MLA (see cpu.py:84).",)
    assert sentences_citing(note, "elsewhere.py:1") == (note,)  # none names it: the whole note
    assert sentences_citing("", "x") == ()


def test_after_the_repin_each_changed_symbol_is_one_item_with_its_notes(repinned):
    paths, _, findings = repinned
    items = review_items(findings, paths.annotations)
    statuses = {finding.status for finding in findings}
    assert items and all(item.status in ("changed", "missing", "deleted") for item in items)
    assert len({(item.anchor, item.recorded) for item in items}) == len(items)  # a symbol is asked once
    cited = [item for item in items if item.citing]
    assert cited, statuses
    for item in cited:
        for citing in item.citing:
            assert citing.sentences and all(citing.cited in sentence for sentence in citing.sentences)
    changed = [item for item in cited if item.status == "changed"]
    assert all(hunk.startswith("@@ ") for item in changed for hunk in item.hunks)


# A long hunk: old lines 100-129, one change at old line 110.
LONG = "\n".join(
    [
        "@@ -100,30 +100,31 @@",
        *[f" line{n}" for n in range(100, 110)],
        "-old110",
        "+new110",
        "+new110b",
        *[f" line{n}" for n in range(111, 130)],
    ]
)


def test_a_long_hunk_is_cut_to_the_cited_line_and_the_change_nearest_it():
    text, left = trimmed(LONG, [108])
    rows = text.splitlines()
    assert rows[0] == "@@ -100,30 +100,31 @@" and len(rows) - 1 == SHOWN_ROWS
    assert " line108" in rows and "-old110" in rows and "+new110" in rows
    assert left == 32 - SHOWN_ROWS  # counted, for the "... N more lines"
    far, _ = trimmed(LONG, [127])  # the cited line far from the change: the change, whole block first
    assert "-old110" in far.splitlines() and " line127" not in far
    uncited, _ = trimmed(LONG, [])
    assert uncited.splitlines()[1:3] == [" line109", "-old110"]  # no cited line in it: its first change
    assert trimmed(DIFF.split("\n", 2)[2].split("@@ -40")[0].rstrip("\n"), [11]) == (
        "@@ -10,5 +10,5 @@\n def a():\n-    return 1\n+    return 2\n ",
        0,
    )  # a short hunk: whole


def _item(hunks: tuple[str, ...], under_lines: int, anchor: str = "vllm/platforms/cpu.py::CpuPlatform.attn"):
    citing = (Citing("cpu", "edge_case", "cpu.py:108", 108, ("It raises.",)),)
    return ReviewItem(anchor, "changed", "vllm/platforms/cpu.py:1-200", None, hunks, citing, False, (108,), under_lines)


def test_a_screen_shows_the_first_hunks_under_the_cited_lines_and_counts_the_rest():
    item = _item((LONG, LONG, LONG, LONG), under_lines=3)
    shown, left = item.excerpt()
    assert len(shown) == SHOWN_HUNKS and left == 4 - SHOWN_HUNKS
    whole_symbol = _item((LONG, LONG), under_lines=0)  # a sentence about the whole symbol, no line under it
    assert len(whole_symbol.excerpt()[0]) == 1 and whole_symbol.excerpt()[1] == 1


def test_a_review_item_prints_a_few_rows_and_says_how_to_see_it_whole():
    from rich.console import Console

    from phase17.render.drift import review_item

    console = Console(width=200, record=True, color_system=None)
    console.print(review_item(_item((LONG, LONG, LONG), under_lines=3), 1, 1))
    text = console.export_text()
    assert "  cpu · edge case, citing cpu.py:108:\n    > It raises.\n" in text
    left = f"... {32 - SHOWN_ROWS} more line(s) of this hunk; 1 more hunk(s); phase17 review CpuPlatform.attn shows"
    assert left in text
    assert len(text.splitlines()) <= 7 + SHOWN_HUNKS * (SHOWN_ROWS + 2)
    console = Console(width=80, record=True, color_system=None)
    console.print(review_item(_item((LONG, LONG, LONG), under_lines=3), 1, 1, whole=True))
    assert console.export_text().count(" line129") == 3 and "more line" not in console.export_text()


def test_a_sentence_cites_a_name_whole():
    note = "`CpuPlatform.check` sets threads. `Platform.check` is the hook. `CpuPlatform` is a class (cpu.py:84)."
    assert sentences_citing(note, "Platform.check") == ("`Platform.check` is the hook.",)
    assert sentences_citing(note, "CpuPlatform") == ("`CpuPlatform` is a class (cpu.py:84).",)
    assert sentences_citing(note, "cpu.py:8") == (note,)  # (cites nothing: the whole note)
    assert sentences_citing("It is at cpu.py:84.", "cpu.py:84") == ("It is at cpu.py:84.",)


def test_review_symbol_picks_its_items_by_any_of_its_names():
    items = [_item((LONG,), 1), _item((LONG,), 1, anchor="vllm/platforms/cuda.py::Cuda.attn")]
    assert items_naming(items, ["CpuPlatform.attn"]) == [items[0]]
    assert items_naming(items, ["attn"]) == items  # a last name: every item it names
    assert items_naming(items, ["vllm/platforms/cuda.py::Cuda.attn", "Cuda.attn"]) == [items[1]]
    with pytest.raises(MendError, match=r"no item to review is named 'nope'; the items: CpuPlatform.attn, Cuda.attn"):
        items_naming(items, ["nope"])


SHORT = "@@ -108,5 +108,5 @@\n line108\n line109\n-old110\n+new110\n line111\n line112"


def test_a_range_citation_is_under_every_hunk_of_its_range(tmp_path):
    from phase17.drift.findings import Finding, Location

    (tmp_path / "cpu.yaml").write_text(
        "target: cpu\npath: vllm/platforms/cpu.py\npin: {tag: v1, commit: '" + "a" * 40 + "'}\nanchors: []\n"
        "notes: {data_structure: '', invariant: 'Threads are set at cpu.py:100-112.', edge_case: ''}\n"
        "citations: []\n",
        encoding="utf-8",
    )
    place = Location("vllm/platforms/cpu.py", 90, 140, "b:1")
    finding = Finding(
        "cpu", "vllm/platforms/cpu.py::CpuPlatform.check", "classmethod", "changed", place, place,
        note="invariant", cited="cpu.py:100-112", line=100, last_line=112, diff="--- a\n+++ b\n" + SHORT,
    )  # fmt: skip
    (item,) = review_items([finding], tmp_path)
    assert item.hunks == (SHORT,) and item.lines == tuple(range(100, 113))
    assert review_items([replace(finding, last_line=None)], tmp_path)[0].hunks == ()  # 100±3 misses line 110
