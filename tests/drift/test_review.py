"""drift/review.py: each changed or deleted symbol beside the sentences citing it and the hunks under them."""

from __future__ import annotations

from phase17.drift.review import hunks_under, review_items, sentences_citing

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
