"""mends.py: only anchors are rewritten, each file locked and backed up; asking for the impossible is an error."""

from __future__ import annotations

import pytest

from phase17.drift.check import check_notes
from phase17.drift.mends import accept_changed, fix_moved, relink_missing
from phase17.errors import MendError
from phase17.index.tree import Tree
from phase17.notes.store import load_notes


def test_fix_moved_rewrites_lines_only_and_keeps_a_backup(repinned):
    paths, _, findings = repinned
    before_text = (paths.annotations / "cpu.yaml").read_text()
    mends = fix_moved(paths.annotations, findings)
    assert mends and all(mend.before != mend.after for mend in mends)
    assert (paths.annotations / "cpu.yaml.bak").read_text() == before_text
    assert not [f for f in check_notes(paths.annotations, Tree(paths.upstream)) if f.status == "moved"]


def test_accept_takes_the_current_code_of_a_reviewed_change(repinned):
    paths, _, findings = repinned
    accept_changed(paths.annotations, findings, "CudaPlatformBase.check_and_update_config")
    after = {f.qualname: f.status for f in check_notes(paths.annotations, Tree(paths.upstream)) if f.target == "cuda"}
    assert after["CudaPlatformBase.check_and_update_config"] == "ok"


def test_relink_points_a_missing_anchor_at_exactly_one_definition(repinned):
    paths, _, findings = repinned
    relink_missing(
        paths.annotations,
        Tree(paths.upstream),
        findings,
        "CpuPlatform.discover_numa_topology",
        "CpuPlatform.numa_topology",
    )
    anchors = [a.symbol for a in load_notes(paths.annotations, "cpu").anchors]
    assert "vllm/platforms/cpu.py::CpuPlatform.numa_topology" in anchors
    with pytest.raises(MendError, match="names 2 definitions"):
        relink_missing(paths.annotations, Tree(paths.upstream), findings, "_get_backend_priorities", "nvml_available")


def test_asking_for_an_anchor_in_the_wrong_state_names_the_ones_that_are(repinned):
    paths, _, findings = repinned
    with pytest.raises(MendError, match=r"no changed anchor named 'Platform'; changed now: .*check_and_update_config"):
        accept_changed(paths.annotations, findings, "Platform")
    with pytest.raises(MendError, match="no missing anchor named 'Platform'; missing now: "):
        relink_missing(paths.annotations, Tree(paths.upstream), findings, "Platform", "Platform")
