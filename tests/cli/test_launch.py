"""launch.py: editors and pagers are split with shlex, never run through a shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from phase17.cli.launch import editor_command, page
from phase17.errors import ToolError


def test_editor_and_pager_values_are_split_not_shelled(tmp_path: Path):
    marker = tmp_path / "shell-ran"
    assert editor_command(Path("/u/f.py"), 12, {"EDITOR": "'/opt/my editor/bin/ed' --flag 'two words'"}) == [
        "/opt/my editor/bin/ed",
        "--flag",
        "two words",
        "+12",
        "/u/f.py",
    ]
    assert editor_command(Path("/u/f.py"), 7, {"VISUAL": "code --wait", "EDITOR": "vim"}) == [
        "code",
        "--wait",
        "-g",
        "/u/f.py:7",
    ]
    assert editor_command(Path("/u/f.py"), None, {"EDITOR": "vi"}) == ["vi", "/u/f.py"]
    with pytest.raises(ToolError, match=r"neither \$VISUAL nor \$EDITOR is set"):
        editor_command(Path("/u/f.py"), 3, {})
    log = tmp_path / "pager.log"
    script = tmp_path / "my pager.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\ncat >> "{log}"\n', encoding="utf-8")
    script.chmod(0o755)
    assert page("hello\n", {"PAGER": f"'{script}' -R; touch {marker}"})
    assert log.read_text().splitlines() == ["-R;", "touch", str(marker), "hello"]
    assert not marker.exists()
    assert page("x", {"PAGER": "/no/such/pager"}) is False
