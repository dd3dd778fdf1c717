from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import phase17.index.database
import phase17.safety.files
import phase17.upstream.project
from helpers import UPSTREAM_V1, invoke, line_of, make_git_repository, make_v2, write_pin

# Where a RAM filesystem has room, the test folders go there: the suite makes and removes about 100,000 small
# files (project copies, git repositories), and on a disk that is about a third of its time (measured: 36.8 s
# on disk, 27.5 s in RAM, median of 4 paired runs).
_RAM_FOLDER = Path("/dev/shm")
_RAM_NEEDED = 2 * 2**30


def pytest_configure(config: pytest.Config) -> None:
    if config.option.basetemp or "PYTEST_DEBUG_TEMPROOT" in os.environ:
        return  # (a folder the runner chose)
    try:
        roomy = os.access(_RAM_FOLDER, os.W_OK) and shutil.disk_usage(_RAM_FOLDER).free > _RAM_NEEDED
    except OSError:
        roomy = False
    if roomy:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(_RAM_FOLDER)  # pytest's documented root for tmp_path


REAL_ROOT = Path(__file__).resolve().parent.parent
FIGURES: list[str] = []


@pytest.fixture
def report_figure(request: pytest.FixtureRequest):
    """Record a measured figure (counts of examples, kill points, ...) for the test report's summary.

    Figures travel as user properties, so they reach the summary from pytest-xdist's workers too.
    """
    return lambda text: request.node.user_properties.append(("phase17 figure", text))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        FIGURES.extend(str(value) for name, value in report.user_properties if name == "phase17 figure")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if FIGURES:
        terminalreporter.section("phase17 figures")
        for line in sorted(FIGURES):
            terminalreporter.write_line(line)


# What a reader of this checkout writes while the suite runs (their notes, their export, their index) is theirs:
# a test refuses to write there, instead of comparing the folders before and after (which failed the suite
# whenever the reader saved a note).
_READERS_OWN = tuple(REAL_ROOT / name for name in ("annotations", "notebooks", "upstream", ".tours"))


def _refuse_the_readers_own(path: object) -> None:
    resolved = Path(str(path)).resolve()
    if any(resolved == own or own in resolved.parents for own in _READERS_OWN):
        raise AssertionError(f"a test was about to write the reader's own {resolved}")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run every test in tmp_path, and fail loudly if anything would touch the real project's notes, export,
    upstream/ or index: the commands cannot find the real project, and no file or index is written there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHASE17_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PHASE17_UPSTREAM", raising=False)
    monkeypatch.delenv("PHASE17_GUIDE", raising=False)  # (a reader studying another chapter)
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setenv("PHASE17_TRUSTED_REPOSITORY", "")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("LINES", "50")
    monkeypatch.setenv("EDITOR", "false-editor-not-set-by-this-test")
    real_locate = phase17.upstream.project.locate_project

    def guarded(start: Path, upstream_override: Path | None = None):
        found = real_locate(start, upstream_override)
        if found.root.resolve() == REAL_ROOT or found.upstream.resolve() == (REAL_ROOT / "upstream"):
            raise AssertionError(f"a test reached the real project at {REAL_ROOT}")
        return found

    monkeypatch.setattr(phase17.upstream.project, "locate_project", guarded)
    guarded_writes = ((phase17.safety.files, "write_bytes_atomically"), (phase17.index.database, "_opened"))
    for module, name in (*guarded_writes, (phase17.index.database, "created")):
        real = getattr(module, name)

        def refusing(path, *args, _real=real, **kwargs):  # type: ignore[no-untyped-def]
            _refuse_the_readers_own(path)
            return _real(path, *args, **kwargs)

        monkeypatch.setattr(module, name, refusing)
    yield


@pytest.fixture
def git_source(tmp_path: Path, git_source_template: tuple[Path, str, str]) -> tuple[Path, str, str]:
    """A git repository of the fixture tree: (path, first commit (tagged v9.9.9), second commit), this test's own."""
    template, first, second = git_source_template
    folder = tmp_path / "source-repo"
    shutil.copytree(template, folder, symlinks=True)  # a repository is position-independent: a copy is the same
    return folder, first, second


@pytest.fixture(scope="session")
def git_source_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The fixture repository, made once per test process (its commits have fixed dates, so fixed shas)."""
    folder = tmp_path_factory.mktemp("template") / "source-repo"
    first, second = make_git_repository(folder)
    return folder, first, second


@pytest.fixture
def project(tmp_path: Path, git_source: tuple[Path, str, str]) -> Path:
    """A phase17 project pinned to the fixture repository's first commit (upstream/ not yet fetched)."""
    root = tmp_path / "project"
    source, first, _ = git_source
    write_pin(root, first, repository=source.as_uri())
    os.environ["PHASE17_TRUSTED_REPOSITORY"] = source.as_uri()  # restored by `isolated` (monkeypatch.delenv)
    os.chdir(root)
    return root


@pytest.fixture
def fetched_project(project: Path, fetched_upstream_template: Path) -> Path:
    """The project with upstream/ fetched from the fixture repository by the git path.

    The fetch itself runs once per test process (fetched_upstream_template); each test gets a copy, which is
    the same tree: a depth-1 fetch keeps no remote, so a checkout does not depend on where it lies.
    """
    shutil.copytree(fetched_upstream_template, project / "upstream", symlinks=True)
    return project


@pytest.fixture(scope="session")
def fetched_upstream_template(
    tmp_path_factory: pytest.TempPathFactory, git_source_template: tuple[Path, str, str]
) -> Path:
    from phase17.upstream.fetch import fetch_upstream
    from phase17.upstream.pin import load_pin

    root = tmp_path_factory.mktemp("fetched-template")
    source, first, _ = git_source_template
    write_pin(root, first, repository=source.as_uri())
    fetch_upstream(load_pin(root / "UPSTREAM_PIN.md"), root / "upstream", source=str(source), cache_dir=root / "cache")
    shutil.rmtree(root / "upstream" / ".git" / "phase17", ignore_errors=True)  # a symbol index of this path
    return root / "upstream"


@pytest.fixture
def plain_upstream(tmp_path: Path) -> Path:
    """A copy of the fixture tree, not a git repository: for symbol tests."""
    target = tmp_path / "plain-upstream"
    shutil.copytree(UPSTREAM_V1, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture(scope="session")
def real_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with the real pin fetched from PyPI (network tests), cached for this test session only."""

    from phase17.upstream.fetch import fetch_upstream
    from phase17.upstream.pin import load_pin

    root = tmp_path_factory.mktemp("real-project")
    shutil.copy2(REAL_ROOT / "UPSTREAM_PIN.md", root / "UPSTREAM_PIN.md")
    (root / "annotations").mkdir()
    pin = load_pin(root / "UPSTREAM_PIN.md")
    # a cache of this test session's own: the reader's user cache is never touched
    fetch_upstream(pin, root / "upstream", source="pypi", cache_dir=tmp_path_factory.getbasetemp() / "sdist-cache")
    return root


# What `noted` writes, made by the CLI once per test process and copied into later tests' projects: the same
# files every time, since they hold no path (checked when they are made).
_NOTED_FILES: dict[str, bytes] = {}


def _notes_files(project: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(project)): path.read_bytes()
        for folder in ("annotations", "notebooks")
        for path in sorted((project / folder).rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def noted(fetched_project: Path) -> Path:
    """Notes written at v1: the templates plus citations of a hoisted method and a path:line inside a method."""
    if _NOTED_FILES:
        for relative, data in _NOTED_FILES.items():
            (fetched_project / relative).parent.mkdir(parents=True, exist_ok=True)
            (fetched_project / relative).write_bytes(data)
        return fetched_project
    before = _notes_files(fetched_project)
    upstream = fetched_project / "upstream"
    line = line_of(upstream / "vllm/platforms/cpu.py", 'return "cpu_attn"')
    result = invoke(
        "notebook",
        "cuda",
        "--edge-case",
        f"`NvmlCudaPlatform.device_count` counts devices; cpu.py:{line} picks the backend.",
    )
    assert result.exit_code == 0, result.output
    assert invoke("check").exit_code == 0
    written = {
        relative: data for relative, data in _notes_files(fetched_project).items() if before.get(relative) != data
    }
    assert not any(str(fetched_project).encode() in data for data in written.values()), "noted's files name a path"
    _NOTED_FILES.update(written)
    return fetched_project


@pytest.fixture
def drifted(noted: Path, git_source) -> tuple[Path, str]:
    v2 = make_v2(git_source[0])
    return noted, v2


@pytest.fixture
def repinned(drifted: tuple[Path, str]):
    """The drifted project moved to v9.9.10 by the core re-pin (no CLI): (paths, pin before, findings)."""
    from dataclasses import replace

    from phase17.drift.repin import repin
    from phase17.progress import SilentReporter
    from phase17.upstream.pin import load_pin
    from phase17.upstream.project import locate_project

    project, v2 = drifted
    paths = locate_project(project)
    before = load_pin(paths.pin_file)
    findings = repin(
        paths, before, replace(before, tag="v9.9.10", commit=v2), cache_dir=project / "cache", reporter=SilentReporter()
    )
    return paths, before, findings
