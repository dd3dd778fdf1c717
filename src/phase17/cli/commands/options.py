"""The options several commands share, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON (data on stdout).")]
FetchOption = Annotated[bool, typer.Option("--fetch/--no-fetch", help="Fetch the pinned upstream/ on first use.")]
