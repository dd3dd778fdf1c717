"""export.py: the Markdown lab notebook, deterministic, links pinned to commits."""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers import (
    COMMONMARK,
    PROJECT_ROOT,
    assert_golden,
    invoke,
    markdown_hazards,
)
from phase17.notes.export import EVIDENCE_MARK, export_markdown
from phase17.notes.guide import load_reading_list
from phase17.upstream.pin import load_pin


def test_export_matches_golden(fetched_project: Path):
    pin_file = fetched_project / "UPSTREAM_PIN.md"
    fixed = re.sub(r"repository: .*", "repository: https://example.invalid/vllm-project/vllm", pin_file.read_text())
    pin_file.write_text(fixed, encoding="utf-8")  # the fixture repository's tmp path would make links vary
    invoke(
        "notebook",
        "interface",
        "--data-structure",
        "A class with `Platform.device_type`.",
        "--invariant",
        "See interface.py:40.",
    )
    invoke("answer", "1", "Every platform sets `CpuPlatform.dist_backend`.")
    reading_list = load_reading_list()
    markdown = export_markdown(
        fetched_project / "annotations", reading_list, load_pin(fetched_project / "UPSTREAM_PIN.md")
    )
    assert markdown == (fetched_project / "notebooks" / "phase17.md").read_text()
    assert_golden("notebook_export.md", markdown)
    assert invoke("export").exit_code == 0
    assert (fetched_project / "notebooks" / "phase17.md").read_text() == markdown


def test_the_shipped_notebook_export_matches_the_shipped_annotations():
    root = PROJECT_ROOT
    markdown = export_markdown(root / "annotations", load_reading_list(), load_pin(root / "UPSTREAM_PIN.md"))
    shipped = (root / "notebooks" / "phase17.md").read_text(encoding="utf-8")
    notes, _, evidence = shipped.partition(EVIDENCE_MARK)
    assert markdown == notes.rstrip("\n") + "\n", "run phase17 export and commit it"
    assert "```mermaid\nclassDiagram\n    Platform <|-- CpuPlatform" in evidence  # phase17 export --evidence
    names = sorted(p.name for p in (root / "annotations").glob("*.yaml"))
    assert names == ["cpu.yaml", "cuda.yaml", "interface.yaml", "platforms.yaml", "plugins.yaml", "questions.yaml"]


def test_a_missing_annotations_folder_or_a_dangling_link_never_empties_the_export(fetched_project: Path):
    import shutil

    import pytest

    from phase17.errors import InvalidFileError, WriteError
    from phase17.notes.export import write_export

    invoke("notebook", "cpu", "--invariant", "Worth keeping.")
    notes_dir, notebooks = fetched_project / "annotations", fetched_project / "notebooks"
    exported = (notebooks / "phase17.md").read_text()
    pin, reading_list = load_pin(fetched_project / "UPSTREAM_PIN.md"), load_reading_list()
    moved = fetched_project / "annotations-elsewhere"
    shutil.move(notes_dir, moved)
    with pytest.raises(WriteError, match="annotations is missing"):
        write_export(notes_dir, notebooks, reading_list, pin)
    shutil.move(moved, notes_dir)
    (notes_dir / "cpu.yaml").rename(fetched_project / "cpu-moved.yaml")
    (notes_dir / "cpu.yaml").symlink_to(fetched_project / "gone.yaml")
    with pytest.raises(InvalidFileError, match="annotations/cpu.yaml: a symlink to nothing"):
        write_export(notes_dir, notebooks, reading_list, pin)
    assert (notebooks / "phase17.md").read_text() == exported and "Worth keeping." in exported


def test_notes_are_exported_as_text_never_as_html_scripts_or_foreign_links(fetched_project: Path):
    hostile = (
        "See `a<b` and <script>alert(1)</script> [click](javascript:alert(1)) [ok](https://example.org/x) "
        "<!-- hides the rest \x1b]8;;https://evil.example\x1b\\here"
    )
    assert invoke("notebook", "interface", "--data-structure", hostile).exit_code == 0
    assert invoke("answer", "1", "[ref]: javascript:alert(2)\n<img src=x onerror=alert(3)>").exit_code == 0
    assert invoke("notebook", "cpu", "--invariant", "``x` <b onmouseover=alert(4)>`` [c](command:x.y)").exit_code == 0
    markdown = (fetched_project / "notebooks" / "phase17.md").read_text()
    assert "\x1b" not in markdown
    assert "`a<b`" in markdown  # a code span is shown as written
    assert "[ok](https://example.org/x)" in markdown  # an https link still works
    assert markdown_hazards(markdown) == []  # as a CommonMark parser reads the whole export
    rendered = COMMONMARK.render(markdown)
    assert "&lt;script&gt;alert(1)" in rendered and "[ref]: javascript:alert(2)" in rendered  # shown, as text

    tour = invoke("export", "--format", "codetour")
    assert tour.exit_code == 0, tour.output
    steps = json.loads((fetched_project / "upstream" / ".tours" / "phase17.tour").read_text())["steps"]
    descriptions = "\n\n".join(step["description"] for step in steps)
    assert "alert(1)" in descriptions and "command:" not in descriptions
    assert markdown_hazards(descriptions) == []  # VS Code renders them with markdown-it too: no HTML, no command: link


def test_a_repository_that_is_not_an_https_address_gives_no_links(fetched_project: Path):
    pin_file = fetched_project / "UPSTREAM_PIN.md"
    pin_file.write_text(re.sub(r"repository: .*", "repository: 'javascript:alert(1)//'", pin_file.read_text()))
    invoke("notebook", "interface", "--data-structure", "Cites `Platform.device_type`.")
    markdown = export_markdown(
        fetched_project / "annotations", load_reading_list(), load_pin(fetched_project / "UPSTREAM_PIN.md")
    )
    assert "](" not in markdown  # no link at all, the pinned commit's included


def test_the_evidence_section_survives_later_saves_and_is_computed_from_the_tree(fetched_project: Path):
    result = invoke("export", "--evidence")
    assert result.exit_code == 0, result.output
    path = fetched_project / "notebooks" / "phase17.md"
    section = path.read_text().partition(EVIDENCE_MARK)[2]
    assert "Platform <|-- CudaPlatformBase" in section and "CudaPlatformBase <|-- NvmlCudaPlatform" in section
    assert "| dist_backend |" in section
    assert invoke("notebook", "cpu", "--invariant", "Saved later.").exit_code == 0  # a save re-exports...
    after = path.read_text()
    assert "Saved later." in after and after.partition(EVIDENCE_MARK)[2] == section  # ...and keeps the section


def test_a_note_written_after_a_repin_links_its_lines_to_the_new_commit(repinned):
    paths, before, _ = repinned
    after = load_pin(paths.pin_file)
    assert after.commit != before.commit
    from dataclasses import replace

    from phase17.upstream.pin import write_pin

    write_pin(paths.pin_file, replace(after, repository="https://example.invalid/vllm"))  # links: https only
    cpu = paths.upstream / "vllm" / "platforms" / "cpu.py"
    line = next(n for n, text in enumerate(cpu.read_text().splitlines(), 1) if "def " in text)
    result = invoke("notebook", "cpu", "--edge-case", f"See vllm/platforms/cpu.py:{line} for it.")
    assert result.exit_code == 0, result.output
    markdown = (paths.root / "notebooks" / "phase17.md").read_text()
    cited = next(text for text in markdown.splitlines() if f"[`vllm/platforms/cpu.py:{line}`](" in text)
    assert f"blob/{after.commit}/vllm/platforms/cpu.py#L{line})" in cited, cited
