"""yamlio: strict loading with lines, and writing that changes only what changed (comments survive)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phase17.errors import InvalidFileError
from phase17.yamlio.lines import LineDict, LineList
from phase17.yamlio.load import parse_yaml, read_yaml_file
from phase17.yamlio.roundtrip import render_yaml


def test_lines_of_keys_and_items_are_remembered():
    data = parse_yaml("a: 1\nb:\n  - x\n  - y\nc:\n  d: 2\n", "f.yaml")
    assert isinstance(data, LineDict) and data.key_lines == {"a": 1, "b": 2, "c": 5}
    assert isinstance(data["b"], LineList) and data["b"].item_lines == [3, 4]
    assert data["c"].key_lines == {"d": 6}


def _kept_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "parsed").glob("*"))


def test_a_text_read_again_comes_from_the_parse_cache_with_the_same_data_and_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    text = "a: 1\nb:\n  - x\n  - {c: 2.5, d: null, e: true}\nf: 'text: here'\n"
    first = parse_yaml(text, "f.yaml", line_offset=3)
    assert len(_kept_files(tmp_path)) == 1

    import phase17.yamlio.strict

    def never(*_: object) -> None:
        raise AssertionError("parsed again instead of read back")

    monkeypatch.setattr(phase17.yamlio.strict, "parse_strictly", never)
    again = parse_yaml(text, "f.yaml", line_offset=3)
    assert again == first
    assert again.line == first.line == 4 and again.key_lines == first.key_lines == {"a": 4, "b": 5, "f": 8}
    assert again["b"].item_lines == first["b"].item_lines == [6, 7]
    assert again["b"][1].key_lines == first["b"][1].key_lines
    assert type(again["b"][1]["c"]) is float and again["b"][1]["e"] is True
    with pytest.raises(AssertionError, match="parsed again"):  # another offset has other lines: its own entry
        parse_yaml(text, "f.yaml", line_offset=0)


def test_a_damaged_kept_parse_is_parsed_again_and_a_value_json_cannot_carry_is_never_kept(tmp_path: Path):
    text = "a: [1, 2]\n"
    expected = parse_yaml(text, "f.yaml")
    (kept,) = _kept_files(tmp_path)
    for damage in ('{"m": 1, "k": [["a"]]}', "[1, 2]", "not json", "", "[" * 100_000 + "]" * 100_000):
        kept.write_text(damage)
        assert parse_yaml(text, "f.yaml") == expected
    kept.unlink()
    os.mkfifo(kept)  # a FIFO planted in the cache is refused, never waited on
    assert parse_yaml(text, "f.yaml") == expected

    dated = parse_yaml("when: 2026-11-27\n", "f.yaml")
    assert str(dated["when"]) == "2026-11-27"
    assert len(_kept_files(tmp_path)) == 1  # the date is not JSON: parsed each time, never kept


def test_errors_are_never_kept(tmp_path: Path):
    for _ in range(2):
        with pytest.raises(InvalidFileError, match=r"^f.yaml:2: duplicate key 'a'$"):
            parse_yaml("a: 1\na: 2\n", "f.yaml")
    assert _kept_files(tmp_path) == []


def test_an_embedded_block_reports_lines_of_the_whole_file():
    with pytest.raises(InvalidFileError, match=r"^PIN.md:12: duplicate key 'a'$"):
        parse_yaml("a: 1\na: 2\n", "PIN.md", line_offset=10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x 1\nb: *x\n", "f.yaml:2: YAML aliases (*name) are not allowed in phase17 files"),
        ("a: 1\nb: 2\na: 3\n", "f.yaml:3: duplicate key 'a'"),
        ("1: x\n", "f.yaml:1: key 1 must be a string"),
        ("a: " + "[" * 40 + "]" * 40 + "\n", "f.yaml:1: nested deeper than 32 levels"),
        ("a: b\n\x07\n", "f.yaml:2: character U+0007 is not allowed in YAML"),
        ("a: !!python/name:os.system x\n", "f.yaml:1: could not determine a constructor"),
    ],
)
def test_strict_loading_refuses_with_the_line(text: str, message: str):
    with pytest.raises(InvalidFileError) as caught:
        parse_yaml(text, "f.yaml")
    assert str(caught.value).startswith(message), str(caught.value)


def test_files_too_large_or_not_utf8_are_refused_before_parsing(tmp_path: Path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: '" + b"x" * (3 * 1024 * 1024) + b"'\n")
    with pytest.raises(InvalidFileError, match=r"^big.yaml:1: file is larger than 2 MiB$"):
        read_yaml_file(big, "big.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(InvalidFileError, match=r"^latin.yaml:2: not valid UTF-8 \(byte 11\)$"):
        read_yaml_file(latin, "latin.yaml")
    with pytest.raises(InvalidFileError, match=r"^gone.yaml: file not found$"):
        read_yaml_file(tmp_path / "gone.yaml", "gone.yaml")


HAND_EDITED = """\
# my notebook header
target: cpu   # the CPU one
notes:
  # reminder: cite the NUMA code
  data_structure: "quoted by me"
  invariant: ''
citations:
- note: invariant   # first citation
  symbol: a::B
- note: invariant
  symbol: a::C      # second citation
"""


def test_a_rewrite_keeps_comments_order_and_quoting_and_changes_only_the_new_values():
    data = {
        "target": "cpu",
        "notes": {"data_structure": "quoted by me", "invariant": "Now written."},
        "citations": [{"note": "invariant", "symbol": "a::C"}, {"note": "invariant", "symbol": "a::D"}],
    }
    text = render_yaml(data, previous=HAND_EDITED)
    assert text.splitlines()[:6] == [
        "# my notebook header",
        "target: cpu   # the CPU one",
        "notes:",
        "  # reminder: cite the NUMA code",
        '  data_structure: "quoted by me"',
        "  invariant: Now written.",
    ]
    assert "symbol: a::C      # second citation" in text  # the kept citation kept its comment
    assert "a::B" not in text and "symbol: a::D" in text
    assert parse_yaml(text, "f.yaml") == data


def test_without_a_previous_file_the_header_comes_first():
    text = render_yaml({"a": "x"}, header="# written by phase17\n")
    assert text == "# written by phase17\na: x\n"


YAML_SPECIALS = ["no", "on", "off", "yes", "null", "~", "1e3", "0x1f", "1.0", "- x", ": ", "#", "a: b", "'", '"']
YAML_SPECIALS += ["[x]", "{x}", "*a", "&a", "!tag", "%", "@", "`", "|", ">", "\t", "\n", "\r\n", " lead", "trail "]
YAML_SPECIALS += ["", "…", "日本語", "😀", "\u2028", "\x85", "\x07", "\ufeff"]
text_values = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
    st.lists(st.sampled_from(YAML_SPECIALS), max_size=6).map("".join),
)


@pytest.mark.slow  # 300 generated texts (hypothesis): the full run
@settings(max_examples=300, deadline=None)
@given(first=text_values, second=text_values)
def test_any_text_is_read_back_by_the_strict_loader_exactly(first: str, second: str):
    fresh = render_yaml({"a": first, "b": [second]})
    assert parse_yaml(fresh, "f.yaml") == {"a": first, "b": [second]}
    rewritten = render_yaml({"a": second, "b": [first]}, previous=fresh)
    assert parse_yaml(rewritten, "f.yaml") == {"a": second, "b": [first]}
    assert render_yaml({"a": second, "b": [first]}, previous=rewritten) == rewritten


def test_a_number_too_long_to_read_is_an_error_at_its_line():
    with pytest.raises(InvalidFileError, match=r"^f.yaml:2: a number too long to read$"):
        parse_yaml("a: 1\nb: " + "9" * 5000 + "\n", "f.yaml")


def test_lines_are_counted_as_an_editor_counts_them_even_with_unicode_line_separators():
    # YAML breaks lines at U+2028, U+2029 and NEL too; the reader's editor does not
    text = 'a: "one\u2028two\u0085three\u2029four"\nb: 1\nb: 2\n'
    with pytest.raises(InvalidFileError, match=r"^f.yaml:3: duplicate key 'b'$"):
        parse_yaml(text, "f.yaml")
    assert parse_yaml(text.replace("b: 2\n", "c: 2\n"), "f.yaml").key_lines == {"a": 1, "b": 2, "c": 3}
    with pytest.raises(InvalidFileError, match=r"^f.yaml:2: "):
        parse_yaml('a: "x\u2028y"\n  - bad: [\n', "f.yaml")


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=12,
    )
)
def test_libyaml_and_the_pure_python_loader_read_the_same_data_and_lines(value):
    import yaml

    import phase17.yamlio.strict as yamlparse

    text = yaml.safe_dump({"value": value}, allow_unicode=True)
    fast_parsed, fast = yamlparse._fast_parse(text, "f.yaml", 0)
    slow = yamlparse._StrictLoader(text, "f.yaml").get_single_data()
    assert fast_parsed and fast == slow

    def lines(data):
        if isinstance(data, LineDict):
            return (data.line, data.key_lines, [lines(item) for item in data.values()])
        if isinstance(data, LineList):
            return (data.line, data.item_lines, [lines(item) for item in data])
        return None

    assert lines(fast) == lines(slow)


def test_hostile_input_never_reaches_libyaml_and_still_gets_the_exact_message():
    deep = "a: " + "[" * 100_000 + "]" * 100_000 + "\n"
    with pytest.raises(InvalidFileError, match=r"^f.yaml:1: nested deeper than 32 levels$"):
        parse_yaml(deep, "f.yaml")


def test_a_kept_parse_of_another_text_is_never_used_for_this_one(tmp_path: Path):
    pin = "target: x\n"  # (the pin's keys do not include `target`: a wrong parse would be a wrong error)
    other = "repository: https://example.org/r\n"
    parse_yaml(other, "f.yaml")
    (entry,) = _kept_files(tmp_path)
    expected = parse_yaml(pin, "f.yaml")
    mine = next(path for path in _kept_files(tmp_path) if path != entry)
    mine.write_bytes(entry.read_bytes())  # valid JSON, the right shape: another text's parse
    assert parse_yaml(pin, "f.yaml") == expected
    stored = json.loads(mine.read_text())
    stored["data"] = stored["data"].replace("target", "targex")  # damaged inside, still valid JSON
    mine.write_text(json.dumps(stored))
    assert parse_yaml(pin, "f.yaml") == expected
