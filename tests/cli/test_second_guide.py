"""A second reading guide over a small upstream of its own: read, notebook, answer, check, review and export work
on it as on the shipped chapter, because everything chapter-specific is the guide's data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import git, invoke

GUIDE = Path(__file__).resolve().parent.parent / "fixtures" / "second_guide"
PIN = """# Upstream pin (a second chapter's project)

```yaml
repository: {repository}
tag: {tag}
commit: {commit}
pypi:
  distribution: toyq
  version: {version}
```
"""


@pytest.fixture
def toy_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A project reading the toy upstream with the second guide: (project, the upstream's git repository)."""
    import shutil

    source = tmp_path / "toyq-repo"
    shutil.copytree(GUIDE / "upstream", source)
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "toyq 1.0.0")
    git(source, "tag", "v1.0.0")
    project = tmp_path / "chapter2"
    project.mkdir()
    commit = git(source, "rev-parse", "HEAD")
    text = PIN.format(repository=source.as_uri(), tag="v1.0.0", commit=commit, version="1.0.0")
    (project / "UPSTREAM_PIN.md").write_text(text, encoding="utf-8")
    (project / "annotations").mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("PHASE17_GUIDE", str(GUIDE / "guide.yaml"))
    monkeypatch.setenv("PHASE17_TRUSTED_REPOSITORY", source.as_uri())  # (the guide names example.invalid)
    fetched = invoke("fetch", "--source", str(source))
    assert fetched.exit_code == 0, fetched.output
    return project, source


def test_read_opens_the_second_guides_target_with_its_symbols_and_question(toy_project):
    result = invoke("read", "queue")
    assert result.exit_code == 0, result.output
    assert "The job queue" in result.output and "toyq/queue.py" in result.output
    assert "JobQueue.push" in result.output and "self._jobs.append(job)" in result.output
    assert "How does a job get from push to a worker?" in result.output
    assert "phase17 usages push --in toyq" in result.output  # its evidence commands, from the guide
    assert "Platform" not in result.output and "vllm" not in result.output.lower()
    listed = invoke("list")
    assert listed.exit_code == 0 and "queue" in listed.output and "scheduler" in listed.output
    assert "interface" not in listed.output


def test_notes_answers_check_review_and_export_follow_the_second_guide(toy_project):
    project, source = toy_project
    saved = invoke("notebook", "queue", "--edge-case", "`JobQueue.pop` returns None when the queue is empty.")
    assert saved.exit_code == 0, saved.output
    notes = (project / "annotations" / "queue.yaml").read_text(encoding="utf-8")
    assert "symbol: toyq/queue.py::JobQueue.pop" in notes
    answered = invoke("answer", "1", "`schedule` pops each job and asks `Policy.choose` for a worker.")
    assert answered.exit_code == 0, answered.output
    assert invoke("check").exit_code == 0

    queue = source / "toyq" / "queue.py"
    queue.write_text(queue.read_text().replace("            return None\n", '            raise LookupError("empty")\n'))
    git(source, "commit", "-q", "-am", "toyq 1.1.0: pop raises when empty")
    git(source, "tag", "v1.1.0")
    assert invoke("pin", "v1.1.0").exit_code in (0, 1)
    checked = json.loads(invoke("check", "--json").stdout)
    changed = {item["anchor"] for item in checked if item["status"] == "changed"}
    assert "toyq/queue.py::JobQueue.pop" in changed
    review = invoke("review")
    assert review.exit_code == 1
    assert "queue · edge case, citing JobQueue.pop:" in review.output
    assert '+            raise LookupError("empty")' in review.output

    assert invoke("export").exit_code == 0
    notebook = (project / "notebooks" / "phase17.md").read_text(encoding="utf-8")
    assert notebook.startswith("# Chapter 2 — A toy job queue: lab notebook")
    assert "Pinned to Toyq v1.1.0" in notebook and "**What happens when it is empty?**" in notebook
    assert "`JobQueue.pop` returns None when the queue is empty. \\[unreviewed since v1.0.0\\]" in notebook
