"""swap.py: a new tree takes upstream/'s place in one step, and a killed swap is undone."""

from __future__ import annotations

from pathlib import Path

from phase17.upstream.swap import building_beside, move_into_place, sweep_stale_temporaries


def test_a_new_tree_replaces_the_old_in_one_step(tmp_path: Path):
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "old.py").write_text("old\n")
    with building_beside(upstream) as building:
        (building / "new.py").write_text("new\n")
        move_into_place(building, upstream)
    assert [p.name for p in upstream.iterdir()] == ["new.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upstream"]  # nothing left beside it


def test_a_build_that_fails_leaves_nothing_behind(tmp_path: Path):
    upstream = tmp_path / "upstream"
    try:
        with building_beside(upstream) as building:
            (building / "half.py").write_text("x\n")
            raise RuntimeError("interrupted")
    except RuntimeError:
        pass
    assert list(tmp_path.iterdir()) == []


def test_a_swap_killed_between_its_two_renames_is_undone(tmp_path: Path):
    retired = tmp_path / ".upstream.old-abc"
    retired.mkdir()
    (retired / "old.py").write_text("old\n")
    (tmp_path / ".upstream.tmp-xyz").mkdir()
    sweep_stale_temporaries(tmp_path, "upstream")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upstream"]
    assert (tmp_path / "upstream" / "old.py").read_text() == "old\n"
