"""suggestions.py: where a missing anchor went, ranked; what a changed one looked like, from upstream/'s history."""

from __future__ import annotations

from phase17.annotations import load_notes
from phase17.suggestions import History, recorded_source, suggest


def _anchor(paths, target: str, qualname: str):
    notes = load_notes(paths.annotations, target)
    return next(a for a in (*notes.anchors, *(c.anchor for c in notes.citations)) if a.qualname == qualname)


def test_a_method_renamed_in_place_is_the_first_suggestion(repinned):
    paths, _, _ = repinned
    ranked = suggest(
        History(paths.upstream, (paths.upstream,)), _anchor(paths, "cpu", "CpuPlatform.discover_numa_topology")
    )
    assert ranked[0].ref == "vllm/platforms/cpu.py::CpuPlatform.numa_topology"
    assert ranked[0].reason == "renamed in place" and ranked[0].score >= 0.8


def test_a_method_hoisted_into_its_base_class_is_found(repinned):
    paths, _, _ = repinned
    ranked = suggest(
        History(paths.upstream, (paths.upstream,)), _anchor(paths, "cuda", "NvmlCudaPlatform.device_count")
    )
    assert ranked[0].ref == "vllm/platforms/cuda.py::CudaPlatformBase.device_count"
    assert ranked[0].reason == "moved to another class"


def test_a_function_moved_to_another_file_is_found(repinned):
    paths, _, _ = repinned
    ranked = suggest(History(paths.upstream, (paths.upstream,)), _anchor(paths, "cuda", "with_nvml_context"))
    assert ranked[0].ref == "vllm/platforms/utils.py::with_nvml_context"
    assert ranked[0].reason.startswith("moved to another file")


def test_the_recorded_text_comes_from_the_kept_history(repinned):
    paths, _, _ = repinned
    old = recorded_source(History(paths.upstream, (paths.upstream,)), _anchor(paths, "cuda", "_get_backend_priorities"))
    assert old is not None and old[0].startswith("def _get_backend_priorities(use_mla: bool)")
