"""phase17's speed on the real pinned upstream, against reference tools in the same runs; prints, asserts nothing.

Run from the project root after `phase17 fetch`:   python benchmarks/bench.py [--runs N]

Each row runs a phase17 command and its reference as a pair, one after the other, N times (fresh processes),
and reports the median wall time of each and the ratio of the medians. References: `python -c pass` for
start-up, and Universal Ctags over the same folders for work on the tree (install it with
`apt-get install universal-ctags`; without it those references are skipped with a notice).
The drift rows build a scratch project whose notes cite many definitions of the pinned tree (10, 100, 1,000
citations), to show how `check` grows.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASE17 = [sys.executable, "-m", "phase17"]
ONLY: list[str] = []  # --only: the rows whose label holds one of these


def timed(command: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)}: exit {result.returncode}: {result.stderr.decode(errors='replace')[-600:]}")
    return elapsed


def paired(
    label: str,
    command: Sequence[str],
    reference: Sequence[str] | None,
    runs: int,
    cwd: Path,
    env: dict[str, str],
    target: str,
    before: Sequence[str] | None = None,
) -> None:
    if ONLY and not any(word in label for word in ONLY):
        return
    ours, theirs = [], []
    for _ in range(runs):
        if before is not None:
            timed(before, cwd, env)
        ours.append(timed(command, cwd, env))
        if reference is not None:
            theirs.append(timed(reference, cwd, env))
    mine = statistics.median(ours)
    if reference is None:
        print(f"| {label} | {mine:.3f} s | — | — | {target} |")
        return
    other = statistics.median(theirs)
    shown = f"{Path(reference[0]).name} {' '.join(reference[1:2])}"
    print(f"| {label} | {mine:.3f} s | {other:.3f} s ({shown}) | {mine / other:.2f}× | {target} |")


# The floor under a cold `index --rebuild`: the same files read, named and parsed by the same worker processes,
# with nothing stored, no command line and no bar.
PARSE_ONLY = """
import sys
from pathlib import Path
from phase17.index import workers
from phase17.source import files as treefiles
upstream = Path(sys.argv[1])
paths = [seen.path for seen in sorted(treefiles.walk(upstream, ""), key=lambda seen: -seen.size)]
with workers.parsed_files(upstream, paths, lambda digest: False, ()) as parsed:
    sum(1 for _ in parsed)
"""


def ctags_command(folder: str, output: Path) -> list[str] | None:
    executable = shutil.which("ctags")
    if executable is None:
        return None
    version = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False).stdout
    if "Universal Ctags" not in version:
        return None
    return [executable, "-R", "-f", str(output), folder]


def citing_project(count: int, scratch: Path, own_upstream: bool = False) -> Path:
    """A copy of this project whose notes for `interface` cite `count` definitions of the pinned tree (with
    `own_upstream`, a copy of upstream/ it may re-pin, else a link to this project's)."""
    import yaml

    from phase17.index.lookup import file_definitions, python_files
    from phase17.index.tree import Tree
    from phase17.source.symbols import Symbol

    project = scratch / f"project-{count}"
    project.mkdir()
    for name in ("UPSTREAM_PIN.md",):
        shutil.copy(ROOT / name, project / name)
    (project / "annotations").mkdir()
    (project / "notebooks").mkdir()
    if own_upstream:
        shutil.copytree(ROOT / "upstream", project / "upstream", symlinks=True)
    else:
        os.symlink(ROOT / "upstream", project / "upstream")
    symbols: list[Symbol] = []
    tree = Tree(ROOT / "upstream")
    for path in python_files(tree, "vllm/platforms"):
        symbols += [symbol for symbol in file_definitions(tree, path) if symbol.kind != "assignment"]
        if len(symbols) >= count:
            break
    chosen = symbols[:count]
    while len(chosen) < count:
        chosen += symbols[: count - len(chosen)]
    pin = yaml.safe_load((ROOT / "annotations" / "interface.yaml").read_text())["pin"]
    notes = {
        "target": "interface",
        "path": "vllm/platforms/interface.py",
        "pin": pin,
        "anchors": [],
        "notes": {"data_structure": "See the cited code.", "invariant": "", "edge_case": ""},
        "citations": [
            {
                "note": "data_structure",
                "cited": symbol.ref,
                "symbol": symbol.ref,
                "kind": symbol.kind,
                "start": symbol.start_line,
                "end": symbol.end_line,
                "fingerprint": symbol.fingerprint,
            }
            for symbol in chosen
        ],
    }
    (project / "annotations" / "interface.yaml").write_text(yaml.safe_dump(notes, sort_keys=False))
    return project


# Ten of the real platform plugins on the package index (tests/pluginlab/test_real_plugins.py lists all twelve).
REAL_PLUGINS = (
    "vllm-rbln==0.12.0",
    "vllm-spyre==1.10.0",
    "vllm-kunlun==0.11.1",
    "vllm-musa==0.1.1",
    "vllm-metal==0.1.0",
    "vllm-mblt==0.8.0",
    "vllm-mlx==0.6.0",
    "pace-vllm==1.3.0",
    "vllm-spyre-next==0.1.0",
    "vllm-torchtpu-core==0.29.0",
)


def first_run_project(scratch: Path, env: dict[str, str]) -> tuple[Path, dict[str, str], list[str]]:
    """A copy of the project, its environment (an empty cache of its own), and the command that puts it back in
    the state of a reader's first question: the index just built (as `read` builds it), no answer kept."""
    project = scratch / "first-run"
    if not project.is_dir():
        project.mkdir()
        shutil.copy(ROOT / "UPSTREAM_PIN.md", project / "UPSTREAM_PIN.md")
        (project / "annotations").mkdir()
        shutil.copytree(ROOT / "upstream", project / "upstream", symlinks=True)
    fresh = {**env, "PHASE17_CACHE_DIR": str(scratch / "fresh-cache")}
    reset = [
        "sh",
        "-c",
        f"rm -rf {scratch / 'fresh-cache'} && {' '.join(PHASE17)} index --rebuild >/dev/null && "
        f"{' '.join(PHASE17)} read interface --json >/dev/null",
    ]
    return project, fresh, reset


# The instruments a reader asks the chapter's questions with: timed first (right after the index is built, no
# answer kept) and warm (asked again).
QUESTION_INSTRUMENTS = (
    ["callers", "Platform.check_and_update_config", "--depth", "3", "--json"],
    ["gates", "--json"],
    ["effects", "--json"],
    ["usages", "device_id_to_physical_device_id", "--json"],
)


def first_and_warm_rows(runs: int, scratch: Path, env: dict[str, str], ctags_vllm: Sequence[str] | None) -> None:
    project, fresh, reset = first_run_project(scratch, env)
    for arguments in QUESTION_INSTRUMENTS:
        label = f"`{' '.join(arguments[:-1])}`"
        paired(
            f"{label}, first run",
            [*PHASE17, *arguments],
            ctags_vllm,
            runs,
            project,
            fresh,
            "≤ 1.5× ctags vllm/",
            before=reset,
        )
        timed([*PHASE17, *arguments], project, fresh)  # its answer kept, as after a reader's first question
        paired(f"{label}, warm", [*PHASE17, *arguments], ctags_vllm, runs, project, fresh, "≤ 0.3× ctags vllm/")
    paired(  # a name defined nowhere: did-you-mean over the whole tree
        "`resolve SPDX` (defined nowhere: did-you-mean, warm)",
        [*PHASE17, "resolve", "SPDX"],
        ctags_vllm,
        runs,
        project,
        fresh,
        "≤ 0.3× ctags vllm/",
    )


def plugin_rows(runs: int, scratch: Path, env: dict[str, str], ctags_vllm: Sequence[str] | None) -> None:
    """The plugin lab: a real plugin checked warm; the first check after `read` (in a copy of the project whose
    index `read` has just built, with an empty cache: what the check builds is the engine's calls and classes
    across the tree, kept in the index, and its own answer); and the matrix of ten real plugins x the pin and
    0.33.0, both releases in the cache."""
    real = REAL_PLUGINS[0]
    for spec in REAL_PLUGINS:  # downloaded once, then read from the cache
        subprocess.run(
            [*PHASE17, "plugins", "check", spec, "--against", "0.33.0"], cwd=ROOT, env=env, capture_output=True
        )
    paired(
        f"`plugins check {real}` (warm)",
        [*PHASE17, "plugins", "check", real],
        ctags_vllm,
        runs,
        ROOT,
        env,
        "≤ 0.3× ctags vllm/",
    )
    project, fresh, reset = first_run_project(scratch, env)
    dummy = "upstream/tests/plugins/vllm_add_dummy_platform"
    paired(
        "`plugins check` upstream's dummy plugin, first run after `read`",
        [*PHASE17, "plugins", "check", dummy],
        ctags_vllm,
        runs,
        project,
        fresh,
        "≤ 1.5× ctags vllm/",
        before=reset,
    )
    paired(
        "`plugins matrix` of ten real plugins x v0.22.1, v0.33.0 (warm)",
        [*PHASE17, "plugins", "matrix", *REAL_PLUGINS, "--releases", "0.33.0", "--json"],
        ctags_vllm,
        runs,
        ROOT,
        env,
        "≤ 1× ctags vllm/",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="paired runs per row (median reported)")
    parser.add_argument(
        "--no-repin", action="store_true", help="skip the row that re-pins a copy to v0.33.0 (it downloads the sdist)"
    )
    parser.add_argument(
        "--no-plugins", action="store_true", help="skip the rows of real plugins (they download ten from the index)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="WORDS",
        help="only the rows whose label holds WORDS (repeatable)",
    )
    options = parser.parse_args()
    runs = options.runs
    ONLY.extend(options.only)
    if not (ROOT / "upstream" / "vllm").is_dir():
        sys.exit("upstream/ is missing: run phase17 fetch first")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    # Time the commands as an installed phase17 runs: pip compiles a package's bytecode when it installs it, and
    # an editable install writes it on first use, unless PYTHONDONTWRITEBYTECODE forbids it (as on some build
    # machines); then every run would compile phase17 again. Compiling it here once is what pip would have done.
    package = ROOT / "src" / "phase17"
    if package.is_dir():
        compileall.compile_dir(package, quiet=1)
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            print("note: PYTHONDONTWRITEBYTECODE is set; phase17's bytecode was compiled once before timing.")
    env.pop("PHASE17_UPSTREAM", None)
    with tempfile.TemporaryDirectory(prefix="phase17-bench-") as scratch_name:
        scratch = Path(scratch_name)
        ctags_vllm = ctags_command("upstream/vllm", scratch / "tags-vllm")
        ctags_all = ctags_command("upstream", scratch / "tags-all")
        if ctags_vllm is None:
            print("notice: Universal Ctags not found (apt-get install universal-ctags); ctags references skipped.\n")
        cpus = os.cpu_count()
        print(f"phase17 benchmarks: {platform.platform()}, {cpus} cores, Python {platform.python_version()}")
        print(f"median of {runs} paired runs, wall seconds; ratio = phase17 / reference\n")
        print("| what | phase17 | reference | ratio | target |")
        print("|---|---|---|---|---|")
        paired("`phase17 --help`", [*PHASE17, "--help"], [sys.executable, "-c", "pass"], runs, ROOT, env, "≤ 3×")
        subprocess.run([*PHASE17, "index"], cwd=ROOT, env=env, capture_output=True, check=False)  # warm
        dummy = "upstream/tests/plugins/vllm_add_dummy_platform"
        instruments = (
            ("`plugins check` upstream's dummy platform plugin (warm)", ["plugins", "check", dummy, "--json"]),
            ("`contract --against 0.33.0 --json` (warm)", ["contract", "--against", "0.33.0", "--json"]),
            ("`gates --json` (warm)", ["gates", "--json"]),
            ("`effects --json` (warm)", ["effects", "--json"]),
            (
                "`callers Platform.check_and_update_config --depth 3 --json` (warm)",
                ["callers", "Platform.check_and_update_config", "--depth", "3", "--json"],
            ),
        )
        for _, arguments in instruments:  # their kept answers, as a reader has them after the first call
            subprocess.run([*PHASE17, *arguments], cwd=ROOT, env=env, capture_output=True, check=False)
        for label, arguments in (
            ("`read interface --json`", ["read", "interface", "--json"]),
            ("`check` (shipped notes)", ["check"]),
            (
                "`resolve vllm/platforms/interface.py::Platform.get_attn_backend_cls` (found in its file)",
                ["resolve", "vllm/platforms/interface.py::Platform.get_attn_backend_cls"],
            ),
            *instruments,
        ):
            paired(label, [*PHASE17, *arguments], ctags_vllm, runs, ROOT, env, "≤ 0.3× ctags vllm/")
        paired(  # JSON: the lookup itself, as `read --json`; the table's text adds rich's import (about 25 ms)
            "`resolve Platform.get_attn_backend_cls --json` (whole tree)",
            [*PHASE17, "resolve", "Platform.get_attn_backend_cls", "--json"],
            ctags_vllm,
            runs,
            ROOT,
            env,
            "≤ 0.15× ctags vllm/",
        )
        paired(
            "`index --rebuild` (cold, all of upstream/)",
            [*PHASE17, "index", "--rebuild"],
            ctags_all,
            runs,
            ROOT,
            env,
            "≤ 1.5× ctags upstream/",
        )
        paired(
            "parse only, nothing stored (the floor under the cold rebuild)",
            [sys.executable, "-c", PARSE_ONLY, "upstream"],
            ctags_all,
            runs,
            ROOT,
            env,
            "(reference)",
        )
        paired("`index` (warm)", [*PHASE17, "index"], ctags_vllm, runs, ROOT, env, "≤ 0.15× ctags vllm/")
        first_and_warm_rows(runs, scratch, env, ctags_vllm)
        if not options.no_plugins:
            plugin_rows(runs, scratch, env, ctags_vllm)
        if not options.no_repin:
            project = citing_project(234, scratch, own_upstream=True)
            subprocess.run([*PHASE17, "pin", "0.33.0"], cwd=project, env=env, capture_output=True, check=False)
            paired(
                "`check`, 234 citations, right after `pin 0.33.0`",
                [*PHASE17, "check"],
                ctags_vllm,
                runs,
                project,
                env,
                "≤ 1× ctags vllm/",
            )
        for count in (10, 100, 1000):
            project = citing_project(count, scratch)
            paired(
                f"`check`, {count} citations", [*PHASE17, "check"], ctags_vllm, runs, project, env, "≤ 1× ctags vllm/"
            )


if __name__ == "__main__":
    main()
