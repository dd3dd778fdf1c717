"""Start the reader's editor and pager: $VISUAL, $EDITOR and $PAGER are split with shlex, never run by a shell."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from phase17.errors import ToolError

_VSCODE_LIKE = {"code", "code-insiders", "codium", "cursor"}


def editor_command(path: Path, line: int | None = None, environ: dict[str, str] | None = None) -> list[str]:
    """The argv that opens `path` at `line`: `+LINE path` for vi, emacs and nano; `-g path:line` for VS Code."""
    environ = dict(os.environ) if environ is None else environ
    raw = environ.get("VISUAL") or environ.get("EDITOR")
    if raw is None:
        raise ToolError("neither $VISUAL nor $EDITOR is set, so there is no editor to open; e.g. export EDITOR=vim.")
    try:
        argv = shlex.split(raw)
    except ValueError as error:
        raise ToolError(
            f"cannot split $VISUAL/$EDITOR {raw!r} ({error}); set it to a command such as 'vim' or 'code --wait'."
        ) from None
    if not argv:
        raise ToolError("$VISUAL/$EDITOR is empty; set it to a command such as 'vim' or 'code --wait'.")
    if line is None:
        return [*argv, str(path)]
    if Path(argv[0]).name in _VSCODE_LIKE:
        return [*argv, "-g", f"{path}:{line}"]
    return [*argv, f"+{line}", str(path)]


def run_editor(path: Path, line: int | None = None) -> int:
    """Open the editor and wait for it; its exit status is returned."""
    argv = editor_command(path, line)
    try:
        return subprocess.run(argv, check=False).returncode
    except OSError as error:
        raise ToolError(f"cannot start the editor {argv[0]!r} ({error.strerror}); check $VISUAL or $EDITOR.") from None


def page(text: str, environ: dict[str, str] | None = None) -> bool:
    """Show text through PHASE17_PAGER, else $PAGER, else `less -FRX` (which prints short text as it is, keeps
    colours and leaves it on the screen); False when paging is off (PHASE17_PAGER set empty) or no pager could be
    started, so the caller prints."""
    environ = dict(os.environ) if environ is None else environ
    raw = environ["PHASE17_PAGER"] if "PHASE17_PAGER" in environ else (environ.get("PAGER") or "less -FRX")
    try:
        argv = shlex.split(raw)
    except ValueError:
        return False
    if not argv or argv[0] == "cat":
        return False
    try:
        subprocess.run(argv, input=text.encode("utf-8"), check=False)
    except OSError:
        return False
    except KeyboardInterrupt:
        pass
    return True
