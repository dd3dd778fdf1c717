"""usages.py: where code uses a name (attributes through a variable, or callers of a function), code only."""

from __future__ import annotations

from pathlib import Path

import pytest

from phase17.errors import BadReferenceError
from phase17.index import workers
from phase17.index.database import index_location
from phase17.index.tree import Tree
from phase17.instruments.usages import find_usages

ENGINE = """\
from vllm.platforms import current_platform
import vllm.platforms


def pick_backend(config):
    # current_platform.is_tpu() in a comment is not a use
    note = "current_platform.is_xpu() in a string is not a use"
    if current_platform.is_cuda():
        return current_platform.get_attn_backend_cls("flash")
    if vllm.platforms.current_platform.is_cuda():
        return None
    current_platform.check_and_update_config(config)
    return current_platform.device_type


class Worker:
    def start(self):
        self.platform = current_platform
        return current_platform.is_cuda()
"""

PLATFORM = """\
class Platform:
    device_type = "cuda"

    def check_and_update_config(self, config):
        pass

    def is_cuda(self):
        return True


def check_and_update_config(config):
    return Platform().check_and_update_config(config)
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "vllm" / "platforms").mkdir(parents=True)
    (root / "vllm" / "engine.py").write_text(ENGINE)
    (root / "vllm" / "platforms" / "interface.py").write_text(PLATFORM)
    (root / "vllm" / "unrelated.py").write_text("x = 1\n")
    return root


def test_a_variable_is_reported_by_attribute_most_used_first_with_the_enclosing_function(tree: Path):
    report = find_usages(Tree(tree), "current_platform")
    assert report.mode == "attributes"
    assert report.groups() == [
        ("is_cuda", 3),
        ("(referenced)", 1),
        ("check_and_update_config", 1),
        ("device_type", 1),
        ("get_attn_backend_cls", 1),
    ]
    cuda = [usage for usage in report.usages if usage.group == "is_cuda"]
    assert [(u.line, u.is_call, u.enclosing) for u in cuda] == [
        (8, True, "pick_backend"),
        (10, True, "pick_backend"),  # through vllm.platforms.current_platform
        (19, True, "Worker.start"),
    ]
    assert not [u for u in report.usages if u.group in ("is_tpu", "is_xpu")]  # comment and string: not code
    device = [u for u in report.usages if u.group == "device_type"]
    assert device[0].is_call is False and device[0].code == "return current_platform.device_type"
    assert find_usages(Tree(tree), "current_platform", attribute="is_cuda").groups() == [("is_cuda", 3)]


def test_a_function_name_gives_its_callers_by_receiver(tree: Path):
    report = find_usages(Tree(tree), "check_and_update_config")
    assert report.mode == "callers"
    assert sorted(report.groups()) == [("Platform()", 1), ("current_platform", 1)]
    dotted = find_usages(Tree(tree), "Platform.is_cuda")
    assert dotted.groups() == [("current_platform", 2), ("vllm.platforms.current_platform", 1)]
    assert all(usage.is_call for usage in dotted.usages)


def test_a_second_run_reads_stored_answers_and_a_changed_file_is_read_again(tree: Path):
    first = find_usages(Tree(tree), "current_platform")
    (tree / "vllm" / "unrelated.py").write_text(
        "from vllm.platforms import current_platform\ncurrent_platform.is_cpu()\n"
    )
    second = find_usages(Tree(tree), "current_platform")
    assert len(second.usages) == len(first.usages) + 1 and ("is_cpu", 1) in second.groups()


def test_a_name_that_is_not_python_is_refused(tree: Path):
    with pytest.raises(BadReferenceError, match="is not a Python name"):
        find_usages(Tree(tree), 'x"); (identifier')


def test_many_files_are_answered_by_workers_with_a_bar_the_same_as_here(tree: Path, monkeypatch: pytest.MonkeyPatch):
    from helpers import RecordingReporter

    for number in range(70):  # enough to fork workers; three copies of each content, answered once
        for copy in range(3):
            (tree / "vllm" / f"user_{number}_{copy}.py").write_text(
                f"from vllm.platforms import current_platform\n\n\ndef use_{number}():\n"
                f"    return current_platform.attribute_{number}\n"
            )
    bars: list[RecordingReporter] = []
    drawn = Tree(tree, reporter_factory=lambda: bars.append(RecordingReporter()) or bars[-1])
    in_workers = find_usages(drawn, "current_platform")
    originals = ("engine.py", "unrelated.py", "platforms/interface.py")
    naming = 70 + sum(b"current_platform" in (tree / "vllm" / name).read_bytes() for name in originals)
    # one bar: the uses of current_platform, asked of the files that name it (the others answer at once); the
    # classes behind `declared` are read from the few files that name a platform class, here
    scanning = [bar for bar in bars if bar.events[0][1].startswith("scanning")]
    assert [bar.events[0][1] for bar in scanning] == [f"scanning {naming} files of tree/"]
    for bar in scanning:
        assert sum(amount for kind, amount in bar.events if kind == "advance") == int(bar.events[0][1].split()[1])
        assert bar.events[-1][0] == "finish"
    index_location(tree).unlink()
    monkeypatch.setattr(workers, "PARALLEL_FROM", 10_000)  # every file read here
    here = find_usages(Tree(tree), "current_platform")
    assert in_workers == here and len(here.usages) == 70 * 3 + 7


def test_an_attribute_passed_to_a_call_is_a_read_not_a_call_of_it(tmp_path: Path):
    root = tmp_path / "tree"
    (root / "vllm").mkdir(parents=True)
    (root / "vllm" / "passing.py").write_text(
        "from vllm.platforms import current_platform\n\n\n"
        "def run(log):\n"
        "    log(current_platform.device_name)\n"
        "    return current_platform.device_name()\n"
    )
    report = find_usages(Tree(root), "current_platform")
    assert [(usage.line, usage.group, usage.is_call) for usage in report.usages] == [
        (5, "device_name", False),
        (6, "device_name", True),
    ]


def test_an_attribute_no_platform_declares_is_marked_and_self_current_platform_is_no_use(tree: Path):
    (tree / "vllm" / "runtime.py").write_text(
        "from vllm.platforms import current_platform\n\n\n"
        "class Runner:\n"
        "    def start(self):\n"
        "        self.current_platform = current_platform\n"
        "        return current_platform.mem_get_info()\n"
    )
    report = find_usages(Tree(tree), "current_platform")
    groups = {item["group"]: item for item in report.to_data()["groups"]}
    assert groups["mem_get_info"]["declared"] is False and groups["is_cuda"]["declared"] is True
    assert "declared" not in groups["(referenced)"]  # the name itself, not an attribute of it
    runtime = [usage for usage in report.usages if usage.path == "vllm/runtime.py"]
    assert [(usage.line, usage.group) for usage in runtime] == [(6, "(referenced)"), (7, "mem_get_info")]


def test_a_name_or_attribute_that_matches_nothing_gets_did_you_mean(tree: Path):
    from phase17.instruments.usages import close_to_nothing

    assert find_usages(Tree(tree), "current_platform", attribute="is_cdua").usages == ()
    assert close_to_nothing(Tree(tree), "current_platform", "is_cdua") == ["is_cuda"]
    assert "Platform.is_cuda" in close_to_nothing(Tree(tree), "is_cdua")


def test_a_file_of_generated_data_is_skipped_with_a_line_saying_so(tree: Path):
    # 150,000 one-line assignments, each a definition: parsed, it cost seconds and hundreds of MB (a million, 33 s
    # and 1.9 GB); as data, not reading material, it is skipped like a file over 8 MiB
    (tree / "vllm" / "generated.py").write_text("from vllm.platforms import current_platform\n" + "x = 1\n" * 150_000)
    report = find_usages(Tree(tree), "current_platform")
    assert [(item.path, item.reason) for item in report.unreadable] == [
        ("vllm/generated.py", "more than 100,000 lines: generated data, not read")
    ]
    assert ("is_cuda", 3) in report.groups()
