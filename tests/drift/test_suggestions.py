"""suggestions.py: where a missing anchor went, ranked; what a changed one looked like, from upstream/'s history."""

from __future__ import annotations

from phase17.drift.suggestions import History, recorded_source, suggest
from phase17.index.tree import Tree
from phase17.notes.store import load_notes


def _anchor(paths, target: str, qualname: str):
    notes = load_notes(paths.annotations, target)
    return next(a for a in (*notes.anchors, *(c.anchor for c in notes.citations)) if a.qualname == qualname)


def test_a_method_renamed_in_place_is_the_first_suggestion(repinned):
    paths, _, _ = repinned
    ranked = suggest(
        History(Tree(paths.upstream), (paths.upstream,)), _anchor(paths, "cpu", "CpuPlatform.discover_numa_topology")
    )
    assert ranked[0].ref == "vllm/platforms/cpu.py::CpuPlatform.numa_topology"
    assert ranked[0].reason == "renamed in place" and ranked[0].score >= 0.8


def test_a_method_hoisted_into_its_base_class_is_found(repinned):
    paths, _, _ = repinned
    ranked = suggest(
        History(Tree(paths.upstream), (paths.upstream,)), _anchor(paths, "cuda", "NvmlCudaPlatform.device_count")
    )
    assert ranked[0].ref == "vllm/platforms/cuda.py::CudaPlatformBase.device_count"
    assert ranked[0].reason == "moved to another class"


def test_a_function_moved_to_another_file_is_found(repinned):
    paths, _, _ = repinned
    ranked = suggest(History(Tree(paths.upstream), (paths.upstream,)), _anchor(paths, "cuda", "with_nvml_context"))
    assert ranked[0].ref == "vllm/platforms/utils.py::with_nvml_context"
    assert ranked[0].reason.startswith("moved to another file")


def test_the_recorded_text_comes_from_the_kept_history(repinned):
    paths, _, _ = repinned
    old = recorded_source(
        History(Tree(paths.upstream), (paths.upstream,)), _anchor(paths, "cuda", "_get_backend_priorities")
    )
    assert old is not None and old[0].startswith("def _get_backend_priorities(use_mla: bool)")


def test_code_that_already_existed_is_never_a_successor_and_a_base_class_wins_a_tie(noted):
    """A method hoisted into the base class (in another file) while a sibling subclass keeps a same-named
    method that was already there: the sibling's is listed after the successor, as the closest code."""
    from pathlib import Path

    from helpers import git
    from phase17.drift.check import MendRequest, check_and_mend, check_notes
    from phase17.upstream.project import locate_project

    paths = locate_project(Path(noted))
    cuda = paths.upstream / "vllm" / "platforms" / "cuda.py"
    interface = paths.upstream / "vllm" / "platforms" / "interface.py"
    method = "    def device_count(cls) -> int:\n        return 1\n"
    sibling = "class NonNvmlCudaPlatform(CudaPlatformBase):\n"
    # the recorded commit: a sibling subclass already has an identical method
    cuda.write_text(cuda.read_text().replace(sibling, sibling + "    @classmethod\n" + method + "\n"))
    git(paths.upstream, "commit", "-qam", "a sibling's method, there when the note is recorded")
    check_and_mend(paths.annotations, Tree(paths.upstream), MendRequest(fix=True))  # the notes now stand on that commit
    # then the method leaves NvmlCudaPlatform and is hoisted into Platform, in another file
    nvml = "    @classmethod\n    @with_nvml_context\n" + method
    assert nvml in cuda.read_text()
    cuda.write_text(cuda.read_text().replace(nvml, "    pass\n"))
    interface.write_text(
        interface.read_text().replace(
            "    def is_out_of_tree(self)", "    @classmethod\n" + method + "\n    def is_out_of_tree(self)", 1
        )
    )
    (finding,) = [
        f for f in check_notes(paths.annotations, Tree(paths.upstream)) if f.qualname == "NvmlCudaPlatform.device_count"
    ]
    assert finding.status == "missing"
    ranked = list(finding.suggestions)
    assert ranked[0].ref == "vllm/platforms/interface.py::Platform.device_count" and not ranked[0].existed
    sibling_method = next(item for item in ranked if item.ref.endswith("NonNvmlCudaPlatform.device_count"))
    assert sibling_method.existed and "already there when the note was written" in sibling_method.reason
    assert sibling_method.score >= ranked[0].score - 0.05  # as close in text: the history decides, not the score
