"""The environment every git process runs with: nothing from a repository's config can start a program.

Git reads a repository's own `.git/config`, and no option turns that off; a checkout handed over (a shared
folder, an unpacked tarball, `--upstream DIR`) can name programs there that git would start: filters, diff
drivers, gpg, an fsmonitor, hooks. So every git process gets no system or global config, and overrides (passed
as GIT_CONFIG_KEY_n/VALUE_n, which need no quoting) that empty every key able to start a program: the fixed
ones, and each `filter.<name>.clean`-like key the repository's config defines, found by `git config --list`
(reading config starts nothing). Submodules are not entered: their config was not read.
"""

from __future__ import annotations

import os
import re
import subprocess
from functools import cache
from pathlib import Path

from phase17.errors import ToolError

TIMEOUT_SECONDS = 600

# Keys that name a program git may start, set to nothing (or off) whatever the repository says.
_FIXED_OVERRIDES = {
    "core.fsmonitor": "false",
    "core.hooksPath": "/dev/null",
    "core.attributesFile": "/dev/null",
    "core.sshCommand": "",
    "core.gitProxy": "",
    "core.askPass": "",
    "core.pager": "cat",
    "core.editor": "false",
    "core.alternateRefsCommand": "",
    "credential.helper": "",
    "diff.external": "",
    "log.showSignature": "false",
    "gpg.program": "false",
    "protocol.ext.allow": "never",
    "gc.auto": "0",
    "maintenance.auto": "false",
    "commit.gpgsign": "false",
}
# Per-driver keys (`filter.evil.clean`): found in the repository's config, each emptied (`required` turned off,
# or a required filter with no command would stop git).
_DRIVER_KEY = re.compile(
    r"(?is)(filter|diff|merge|remote)\..+\.(clean|smudge|process|required|textconv|command|driver|uploadpack|receivepack)"
    r"|gpg\.[^.]+\.program"
)
_BASE_ENVIRONMENT = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "true",
    "GIT_EXTERNAL_DIFF": "",
    "GIT_PAGER": "cat",
}

# Variables of the reader's shell that would point git at another repository, index or config.
_STRIPPED_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)


def environment_changes(path: Path | None, extra: dict[str, str] | None = None) -> dict[str, str | None]:
    """What to change in the environment of a git process run in `path` (None: remove the variable): no system
    or global config, and every key able to start a program overridden (see the module's docstring)."""
    overrides = dict(_FIXED_OVERRIDES)
    if path is not None:
        overrides.update(_driver_overrides(path))
    overrides.update(extra or {})
    changes: dict[str, str | None] = {name: None for name in _STRIPPED_VARIABLES if name in os.environ}
    changes.update(_BASE_ENVIRONMENT)
    changes["GIT_CONFIG_COUNT"] = str(len(overrides))
    for number, (key, value) in enumerate(overrides.items()):
        changes[f"GIT_CONFIG_KEY_{number}"] = key
        changes[f"GIT_CONFIG_VALUE_{number}"] = value
    return changes


def safe_environment(path: Path | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    environment = dict(os.environ)
    for name, value in environment_changes(path, extra).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


def _driver_overrides(path: Path) -> dict[str, str]:
    """Each per-driver key able to start a program that the repository at `path` configures, emptied."""
    config = path / ".git" / "config"
    try:
        changed = config.stat().st_mtime_ns
    except OSError:
        return {}
    return dict(_configured_drivers(os.path.realpath(path), changed))


@cache
def _configured_drivers(path: str, config_changed: int) -> tuple[tuple[str, str], ...]:
    """_driver_overrides of the repository at `path` as its config was at `config_changed` (its mtime): asked of
    git once a process for each version of the config."""
    try:
        listed = subprocess.run(
            [executable(), "config", "--list", "--name-only", "-z"],
            cwd=path,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=safe_environment(None),
            timeout=TIMEOUT_SECONDS,
            check=False,
        ).stdout.decode("utf-8", errors="surrogateescape")
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ToolError(f"git config could not run in {path}: {error}") from None
    names = [name for name in listed.split("\0") if name and _DRIVER_KEY.fullmatch(name)]
    return tuple((name, "false" if name.lower().endswith((".required", ".program")) else "") for name in names)


def executable() -> str:
    return os.environ.get("GIT_PYTHON_GIT_EXECUTABLE", "git")
