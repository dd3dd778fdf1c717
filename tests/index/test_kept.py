"""index/kept.py: a whole-tree answer is kept under the tree's contents, and only trusted when it is its own."""

from __future__ import annotations

import json
from pathlib import Path

from phase17.index.kept import remembered
from phase17.index.tree import Tree


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "vllm").mkdir(parents=True)
    (root / "vllm" / "a.py").write_text("def a():\n    pass\n")
    return root


def test_an_answer_is_computed_once_per_tree_state(tmp_path: Path):
    root = _tree(tmp_path)
    calls: list[int] = []

    def compute() -> dict[str, object]:
        calls.append(1)
        return {"answer": len(calls)}

    assert remembered(Tree(root), "count", ("vllm",), compute) == {"answer": 1}
    assert remembered(Tree(root), "count", ("vllm",), compute) == {"answer": 1} and len(calls) == 1
    assert remembered(Tree(root), "other", ("vllm",), compute) == {"answer": 2}  # another question
    (root / "vllm" / "a.py").write_text("def b():\n    pass\n")
    assert remembered(Tree(root), "count", ("vllm",), compute) == {"answer": 3}  # the tree changed


def test_a_kept_file_that_is_not_its_own_answer_is_not_trusted(tmp_path: Path):
    root = _tree(tmp_path)
    assert remembered(Tree(root), "count", ("vllm",), lambda: {"answer": "real"}) == {"answer": "real"}
    kept = next((tmp_path / "cache" / "answers").iterdir())
    stored = json.loads(kept.read_text())
    kept.write_text(json.dumps({"key": "planted", "answer": {"answer": "planted"}}))
    assert remembered(Tree(root), "count", ("vllm",), lambda: {"answer": "again"}) == {"answer": "again"}
    assert json.loads(kept.read_text())["key"] == stored["key"]
