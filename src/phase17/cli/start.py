"""The `phase17` program. For a command that asks git about upstream/ (to verify it against the pin, and to learn
which files changed), those git commands are started first, so they run on another core while typer and the
command's modules load; then the command line runs as usual. `phase17 --help` prints the text it printed last
time, when nothing it depends on has changed. This module imports nothing heavy: it runs before everything else."""

from __future__ import annotations

import gc
import io
import os
import stat
import sys

from phase17.cli.argv import COMMANDS_ASKING_GIT, asked_command, upstream_option

TYPE_CHECKING = False  # (typing itself is 2 ms of a kept --help)
if TYPE_CHECKING:
    from collections.abc import Callable

    from phase17.upstream.gitrepo import Prefetched


def start_verification(arguments: list[str]) -> Prefetched | None:
    """Start the git commands about the upstream/ the command will read, if it asks git; never an error here (the
    command itself reports a missing project or tree in its own words). The command is handed them (app.main)."""
    name = asked_command(arguments)
    if name not in COMMANDS_ASKING_GIT or (name == "index" and "--rebuild" in arguments):
        return None  # (a rebuild reads every file: it does not ask git)
    from pathlib import Path

    from phase17.errors import Phase17Error
    from phase17.upstream.gitrepo import prefetch_verification
    from phase17.upstream.project import locate_project

    override = upstream_option(arguments)
    try:
        project = locate_project(Path.cwd(), Path(override) if override else None)
        return prefetch_verification(project.upstream)
    except (Phase17Error, OSError):
        return None


def help_key(arguments: list[str]) -> str | None:
    """What the text of `phase17 --help` depends on, the key it is kept under: the command line's code, typer's
    and click's, and the terminal width it is wrapped to; None for any other command line. Typer and click make
    the text, and importing them is two thirds of the run. (Computed before anything heavy is imported: plain
    `os` paths; the kept file is named by a checksum of the key and begins with the whole key.)"""
    if arguments not in (["--help"], ["-h"]) or any(name.startswith("_PHASE17_COMPLETE") for name in os.environ):
        return None
    import importlib.util
    import shutil

    cli = os.path.dirname(os.path.abspath(__file__))
    sources = sorted(
        os.path.join(folder, name) for folder, _, names in os.walk(cli) for name in names if name.endswith(".py")
    )
    for name in ("typer", "click"):
        spec = importlib.util.find_spec(name)
        sources += [spec.origin] if spec is not None and spec.origin else []
    key = [sys.version, str(shutil.get_terminal_size())]
    for source in sources:
        status = os.stat(source)
        key.append(f"{source} {status.st_size} {status.st_mtime_ns}")
    return "\n".join(key)


def _help_file(key: str) -> str:
    import zlib

    from phase17.cache import cache_folder

    return os.path.join(cache_folder(), "help", f"{zlib.crc32(key.encode()):08x}.txt")


def print_kept(key: str) -> bool:
    """Print the help kept under `key`; False when there is none (or it is not that key's, or no plain file: it
    is made again)."""
    path = _help_file(key)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # (a FIFO put there would block the read)
            return False
        with open(path, encoding="utf-8") as kept:
            text = kept.read(512 * 1024)
    except (OSError, UnicodeDecodeError):
        return False
    stored_key, separator, help_text = text.partition("\n\n\n")
    if stored_key != key or not separator:
        return False
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")  # (as the app does: LANG=C never crashes the help)
    sys.stdout.write(help_text)
    return True


def run_and_keep(run: Callable[[], None], key: str) -> None:
    """Run the command line, its output captured, printed, and kept under `key` when it ended well."""
    import contextlib

    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            run()
    except SystemExit as done:
        if done.code in (0, None) and captured.getvalue():
            _keep(_help_file(key), f"{key}\n\n\n{captured.getvalue()}")
        raise
    finally:
        sys.stdout.write(captured.getvalue())


def _keep(kept: str, text: str) -> None:
    from pathlib import Path

    from phase17.cache import cache_root
    from phase17.errors import WriteError
    from phase17.safety.files import safe_folder, write_text_atomically

    try:
        safe_folder(Path(kept).parent, cache_root())
        write_text_atomically(Path(kept), text)
    except (OSError, WriteError):
        pass  # a read-only cache only costs speed


def main() -> None:
    key = help_key(sys.argv[1:]) if sys.stdout is not None else None  # (no stdout: the app says so)
    if key is not None and print_kept(key):
        return
    prefetched = start_verification(sys.argv[1:])
    from phase17.cli.app import main as run_command_line

    try:
        if key is None:
            run_command_line(prefetched)
        else:
            run_and_keep(lambda: run_command_line(prefetched), key)
    finally:
        # The interpreter's last cycle collection walks every object typer, rich and tree-sitter made, only to
        # find almost nothing: a tenth of a warm command. Frozen, they are freed as modules are torn down.
        gc.freeze()
