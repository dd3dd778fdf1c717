"""drift/check.py: every anchor found again by name and given one status; the check-and-mend flow; the JSON record."""

from __future__ import annotations

from pathlib import Path

from phase17.drift.check import MendRequest, check_and_mend, check_notes
from phase17.drift.findings import STATUSES, finding_data, summary_counts
from phase17.index.tree import Tree
from phase17.notes.store import load_health, load_notes
from phase17.upstream.pin import load_pin


def _by_qualname(findings):
    return {(finding.target, finding.qualname, finding.cited): finding for finding in findings}


def test_each_status_after_the_repin(repinned):
    paths, before, findings = repinned
    assert load_pin(paths.pin_file).tag == "v9.9.10"
    found = _by_qualname(findings)
    assert found[("cpu", "get_max_threads", None)].status == "moved"
    moved = found[("cpu", "get_max_threads", None)]
    assert (moved.recorded.start + 4, moved.recorded.end + 4) == (moved.current.start, moved.current.end)
    assert found[("cpu", "CpuPlatform.discover_numa_topology", None)].status == "missing"
    assert found[("cuda", "CudaPlatformBase.check_and_update_config", None)].status == "changed"
    assert found[("cuda", "_get_backend_priorities", None)].status == "deleted"  # no candidate above 0.6
    assert found[("platforms", "cpu_platform_plugin", None)].status == "ambiguous"
    assert found[("interface", "Platform.is_out_of_tree", None)].status == "ok"  # a reformat is not a change
    counts = summary_counts(findings)
    assert sum(counts[status] for status in STATUSES) == len(findings)


def test_a_changed_anchor_carries_a_diff_in_real_file_lines(repinned):
    _, _, findings = repinned
    changed = _by_qualname(findings)[("cuda", "CudaPlatformBase.check_and_update_config", None)]
    assert "-        config.block_size = config.block_size or 16" in changed.diff
    assert "+        config.block_size = config.block_size or 32" in changed.diff
    assert f"@@ -{changed.recorded.start}" in changed.diff and f"+{changed.current.start}" in changed.diff


def test_a_cited_line_is_checked_against_its_symbol(repinned):
    _, _, findings = repinned
    cited = [finding for finding in findings if finding.line is not None]
    assert len(cited) == 1 and cited[0].cited.startswith("cpu.py:")
    data = finding_data(cited[0])
    assert data["line"] == cited[0].line and data["line_inside"] is cited[0].line_inside


def test_check_and_mend_fixes_moved_anchors_and_remembers_health(repinned):
    paths, _, findings = repinned
    moved_before = sum(1 for finding in findings if finding.status == "moved")
    prose_before = load_notes(paths.annotations, "cuda").notes
    outcome = check_and_mend(paths.annotations, Tree(paths.upstream), MendRequest(fix=True))
    assert [(action, len(items)) for action, items in outcome.mended] == [("rewrote the lines of", moved_before)]
    assert not any(finding.status == "moved" for finding in outcome.findings)
    assert outcome.has_problems  # changed, missing and ambiguous remain for the reader
    assert load_notes(paths.annotations, "cuda").notes == prose_before
    assert load_health(paths.annotations)["interface"] == "ok"
    assert check_notes(paths.annotations, Tree(paths.upstream)) == outcome.findings


def test_a_gone_anchor_is_missing_only_when_a_successor_scores_at_least_the_threshold():
    from phase17.drift.check import DELETED_BELOW, missing_or_deleted
    from phase17.drift.findings import Suggestion

    def candidate(score: float, *, existed: bool = False) -> Suggestion:
        return Suggestion("vllm/a.py::A.renamed", "vllm/a.py", 1, 2, score, "renamed in place", existed=existed)

    assert missing_or_deleted([candidate(DELETED_BELOW)]) == "missing"
    assert missing_or_deleted([candidate(0.87)]) == "missing"  # a rename, as measured on the real releases
    assert missing_or_deleted([candidate(DELETED_BELOW - 0.01)]) == "deleted"
    assert missing_or_deleted([candidate(0.56)]) == "deleted"  # a deleted method's best look-alike
    assert missing_or_deleted([candidate(0.95, existed=True), candidate(0.5)]) == "deleted"  # the closest, no heir
    assert missing_or_deleted([]) == "deleted"


def test_a_cited_line_whose_text_went_into_another_definition_is_changed_with_a_hint(noted: Path):
    # The verdict is the definition's own: its line is gone from it. That the same text stands in another method is
    # a hint, not a move: two methods can end in the same `return`, and a sentence about one is not about the other.
    import json

    from helpers import edit_file, invoke

    cpu = noted / "upstream" / "vllm" / "platforms" / "cpu.py"
    edit_file(cpu, '        return "cpu_attn"\n', "        return cls.chosen_backend()\n")  # the line leaves...
    edit_file(
        cpu,
        "    @classmethod\n    def check_and_update_config",
        '    @classmethod\n    def chosen_backend(cls) -> str:\n        return "cpu_attn"\n\n'  # ...into another method
        "    @classmethod\n    def check_and_update_config",
    )
    findings = json.loads(invoke("check", "--json").stdout)
    (cited,) = [item for item in findings if item.get("cited", "").startswith("cpu.py:")]
    assert cited["status"] == "changed" and cited["moved_into"] == "CpuPlatform.chosen_backend"
    assert cited["elsewhere_line"] == 25 and cited["line_now"] is None
    assert any("return cls.chosen_backend()" in line for line in cited["nearby"])  # where it was, now
    text = " ".join(invoke("check").output.split())
    assert "gone from the symbol" in text and "the same text is now in CpuPlatform.chosen_backend at 25 (a hint" in text
    assert invoke("check", "--fix").exit_code == 1  # --fix does not pretend to mend it: the note must be re-cited


def test_a_cited_line_is_flagged_by_its_neighbours_never_by_the_rest_of_its_definition(fetched_project: Path):
    import json

    from helpers import edit_file, git, invoke

    upstream = fetched_project / "upstream"
    cpu = upstream / "vllm" / "platforms" / "cpu.py"
    body = "".join(f"    value_{number} = {number}\n" for number in range(1, 16))
    cpu.write_text(cpu.read_text() + f"\n\ndef long_function():\n{body}    return value_1\n")
    git(upstream, "commit", "-q", "-am", "a long function, as the note reads it")
    line = cpu.read_text().splitlines().index("    value_5 = 5") + 1
    assert invoke("notebook", "cpu", "--invariant", f"It starts at five (cpu.py:{line}).").exit_code == 0

    def cited() -> dict:
        findings = json.loads(invoke("check", "--json").stdout)
        return next(item for item in findings if item.get("cited") == f"cpu.py:{line}")

    edit_file(cpu, "    value_12 = 12\n", "    value_12 = 1200\n")  # the definition changed, 7 lines away
    assert (cited()["symbol_status"], cited()["status"]) == ("changed", "ok")
    edit_file(cpu, "    value_7 = 7\n", "    value_7 = 700\n")  # 2 lines away: what the note says may change
    changed = cited()
    assert changed["status"] == "changed" and changed["line_now"] == line
    assert f"{line + 2}: value_7 = 700" in changed["nearby"]


def test_a_cited_range_follows_its_lines_and_is_changed_when_one_inside_changes(fetched_project: Path):
    import json

    from helpers import edit_file, invoke

    cpu = fetched_project / "upstream" / "vllm" / "platforms" / "cpu.py"
    assert invoke("notebook", "cpu", "--invariant", "The backend is chosen in cpu.py:19-21.").exit_code == 0
    edit_file(cpu, "def get_max_threads(pid=0):", "def inserted():\n    return 0\n\n\ndef get_max_threads(pid=0):")

    def cited() -> dict:
        return next(
            item for item in json.loads(invoke("check", "--json").stdout) if item.get("cited") == "cpu.py:19-21"
        )

    assert (cited()["status"], cited()["line_now"]) == ("moved", 23)
    assert invoke("check", "--fix", "--rewrite-lines").exit_code == 0
    notes = (fetched_project / "annotations" / "cpu.yaml").read_text()
    assert "cpu.py:23-25" in notes and "last_line: 25" in notes
    edit_file(cpu, 'return "cpu_attn"', 'return "cpu_attn_v2"')  # the range's last line
    assert (
        next(i for i in json.loads(invoke("check", "--json").stdout) if i.get("cited") == "cpu.py:23-25")["status"]
        == "changed"
    )
