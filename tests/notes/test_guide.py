from __future__ import annotations

from pathlib import Path

import pytest

from phase17.errors import InvalidFileError, UnknownTargetError
from phase17.notes.guide import find_target, load_reading_list
from phase17.prompts import PROMPT_KEYS


def test_the_shipped_reading_list_follows_the_guide():
    reading_list = load_reading_list()
    assert reading_list.keys == ["interface", "cuda", "cpu", "platforms", "plugins"]
    assert [t.path for t in reading_list.targets] == [
        "vllm/platforms/interface.py",
        "vllm/platforms/cuda.py",
        "vllm/platforms/cpu.py",
        "vllm/platforms/__init__.py",
        "vllm/plugins/",
    ]
    assert [q.number for q in reading_list.questions] == [1, 2, 3, 4, 5]
    assert all(q.targets for q in reading_list.questions)
    assert set(reading_list.prompts) == set(PROMPT_KEYS)
    for key in reading_list.keys:
        assert reading_list.questions_for(key), f"target {key} has no question linked"
    assert reading_list.question(4).text.startswith("CPU backend: what changes")
    assert reading_list.next_target(reading_list.targets[0]).key == "cuda"
    assert reading_list.next_target(reading_list.targets[-1]) is None


@pytest.mark.parametrize(
    ("text", "key"),
    [("interface", "interface"), ("2", "cuda"), ("vllm/plugins", "plugins"), ("vllm/platforms/cpu.py", "cpu")],
)
def test_find_target_by_key_number_or_path(text, key):
    assert find_target(load_reading_list(), text).key == key


def test_an_upstream_path_is_an_ad_hoc_target(plain_upstream: Path):
    target = find_target(load_reading_list(), "vllm/platforms", plain_upstream)
    assert (target.key, target.number, target.path, target.symbols) == ("vllm/platforms/", 0, "vllm/platforms/", ())


def test_an_unknown_target_names_the_valid_keys_and_the_closest():
    with pytest.raises(UnknownTargetError) as caught:
        find_target(load_reading_list(), "cuad")
    assert str(caught.value) == (
        "no reading target 'cuad'. Did you mean 'cuda'? Valid targets: interface, cuda, cpu, platforms, plugins "
        "(or 1-5, or a path under upstream/)."
    )


def test_a_path_outside_upstream_is_not_a_target(plain_upstream: Path):
    with pytest.raises(UnknownTargetError):
        find_target(load_reading_list(), "../", plain_upstream)


VALID = """\
guide: g
upstream: {name: U, repository: r, distribution: d, package: p, tag: v1, commit: abc1234}
prompts: {data_structure: a, invariant: b, edge_case: c}
targets:
  - {key: one, path: a.py, title: A, sentence: S, symbols: [A]}
questions:
  - {number: 1, text: Q, targets: [one]}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            VALID.replace("symbols: [A]", "symbols: ['A::']"),
            "list.yaml:5: targets[1].symbols[1]: 'A::' is not a symbol reference",
        ),
        (VALID.replace("targets: [one]", "targets: [two]"), "list.yaml:7: question links unknown target(s) ['two']"),
        (VALID.replace("title: A, ", ""), "list.yaml:5: targets[1] is missing 'title'"),
        (
            VALID.replace("edge_case: c", "other: c"),
            "list.yaml:3: unknown key 'other' in prompts (expected data_structure, invariant, edge_case)",
        ),
        (
            VALID + "  - {number: 2, text: Q, targets: one}\n",
            "list.yaml:8: questions[2].targets must be a list, not str 'one'",
        ),
        (
            VALID.replace("number: 1", "number: 0"),
            "list.yaml:7: questions[1].number must be a line number (1 or more), not the number 0",
        ),
        (VALID + "  - {number: 2, text: '  ', targets: [one]}\n", "list.yaml:8: questions[2].text: must not be empty"),
        (
            VALID.replace(
                "  - {key: one", "  - {key: one, path: b.py, title: B, sentence: S, symbols: []}\n  - {key: one"
            ),
            "list.yaml:6: target key 'one' is used twice",
        ),
    ],
)
def test_a_malformed_reading_list_names_the_line(tmp_path: Path, text: str, message: str):
    path = tmp_path / "list.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidFileError) as caught:
        load_reading_list(path)
    assert str(caught.value).startswith(f"{path.parent}/{message}"), str(caught.value)


def test_a_valid_custom_list_loads(tmp_path: Path):
    path = tmp_path / "list.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert load_reading_list(path).keys == ["one"]
