"""The plugin lab's test data: a small upstream at two releases (tests/fixtures/pluginlab/release_a and release_b,
shaped like vLLM's platform layer, written for these tests) and small plugins, one for each idiom and case."""

from __future__ import annotations

import zipfile
from pathlib import Path

from phase17.pluginlab.findings import Finding, PluginReport

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pluginlab"
RELEASE_A, RELEASE_B = FIXTURES / "release_a", FIXTURES / "release_b"
PLUGINS = FIXTURES / "plugins"


def plugin_folder(name: str) -> Path:
    return PLUGINS / name


def wheel_of(folder: Path, wheel: Path) -> Path:
    """A folder zipped as it is: a wheel's layout (dist-info, NAME-VER.data/purelib) kept."""
    with zipfile.ZipFile(wheel, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(folder).as_posix())
    return wheel


def by_key(report: PluginReport) -> dict[tuple[str, str], list[Finding]]:
    """(member, kind) -> the findings."""
    found: dict[tuple[str, str], list[Finding]] = {}
    for finding in report.findings:
        found.setdefault((finding.member, finding.kind), []).append(finding)
    return found


def sites(finding: Finding) -> set[tuple[str, str, int]]:
    return {(site.release, site.path, site.line) for site in finding.sites}
