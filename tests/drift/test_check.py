"""drift/check.py: every anchor found again by name and given one status; the check-and-mend flow; the JSON record."""

from __future__ import annotations

from pathlib import Path

from phase17.drift.check import MendRequest, check_and_mend, check_notes
from phase17.drift.findings import STATUSES, finding_data, summary_counts
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
    outcome = check_and_mend(paths.annotations, paths.upstream, MendRequest(fix=True))
    assert [(action, len(items)) for action, items in outcome.mended] == [("rewrote the lines of", moved_before)]
    assert not any(finding.status == "moved" for finding in outcome.findings)
    assert outcome.has_problems  # changed, missing and ambiguous remain for the reader
    assert load_notes(paths.annotations, "cuda").notes == prose_before
    assert load_health(paths.annotations)["interface"] == "ok"
    assert check_notes(paths.annotations, paths.upstream) == outcome.findings


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


def test_a_cited_line_that_moved_into_another_definition_is_moved_there_not_gone(noted: Path):
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
    assert cited["status"] == "moved" and cited["moved_into"] == "CpuPlatform.chosen_backend"
    assert cited["line_inside"] is False
    text = invoke("check").output
    assert "moved into CpuPlatform.chosen_backend, now line" in text and "gone from the symbol" not in text
    assert invoke("check", "--fix").exit_code == 1  # --fix does not pretend to mend it: the note must be re-cited
