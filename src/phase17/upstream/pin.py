"""The pin: the one fenced YAML block of UPSTREAM_PIN.md, read through the schema and rewritten in place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from phase17.errors import InvalidFileError, WriteError
from phase17.safety.files import write_text_atomically
from phase17.yamlio.load import parse_yaml
from phase17.yamlio.roundtrip import render_yaml
from phase17.yamlio.validation import require_valid

PIN_FILE_NAME = "UPSTREAM_PIN.md"
_FENCE = re.compile(r"^```ya?ml\s*$")


@dataclass(frozen=True)
class Pin:
    """What upstream/ must hold: one commit of one repository, and the sdist that carries the same tree."""

    repository: str
    tag: str
    commit: str
    pypi_distribution: str
    pypi_version: str

    @property
    def short(self) -> str:
        return self.commit[:7]

    def describe(self) -> str:
        return f"{self.tag} @ {self.short}"

    def to_data(self) -> dict[str, object]:
        return {
            "repository": self.repository,
            "tag": self.tag,
            "commit": self.commit,
            "pypi": {"distribution": self.pypi_distribution, "version": self.pypi_version},
        }


def load_pin(pin_file: Path) -> Pin:
    """Read the one fenced YAML block of UPSTREAM_PIN.md, strictly: known keys, right types, a hex sha."""
    text = _read(pin_file)
    block, first_line = _fenced_yaml_block(text, str(pin_file))
    data = parse_yaml(block, str(pin_file), line_offset=first_line - 1)
    require_valid("PinFile", data, str(pin_file), first_line)  # so the keys below exist, with text values
    return Pin(
        repository=data["repository"].strip(),
        tag=data["tag"].strip(),
        commit=data["commit"].strip(),
        pypi_distribution=data["pypi"]["distribution"].strip(),
        pypi_version=data["pypi"]["version"].strip(),
    )


def _read(pin_file: Path) -> str:
    from phase17.errors import UnreadableSourceError
    from phase17.safety.files import read_limited

    try:
        return read_limited(pin_file, 1024 * 1024, root=pin_file.parent).decode("utf-8")
    except FileNotFoundError:
        raise InvalidFileError(
            f"{pin_file}: file not found; restore it from git (git checkout -- {pin_file.name})."
        ) from None
    except UnreadableSourceError as error:
        raise InvalidFileError(f"{pin_file}:1: {error.reason}") from None
    except UnicodeDecodeError as error:
        raise InvalidFileError(f"{pin_file}:1: cannot read it as UTF-8 text ({error})") from None


def _fenced_yaml_block(text: str, shown: str) -> tuple[str, int]:
    """The block's text and the line (1-based) of its first line."""
    lines = text.splitlines()
    openings = [number for number, line in enumerate(lines) if _FENCE.match(line.strip())]
    if len(openings) != 1:
        found = "no" if not openings else f"{len(openings)}"
        raise InvalidFileError(f"{shown}:1: expected exactly one ```yaml fenced block, found {found}")
    start = openings[0] + 1
    for end in range(start, len(lines)):
        if lines[end].strip() == "```":
            return "\n".join(lines[start:end]) + "\n", start + 1
    raise InvalidFileError(f"{shown}:{start}: the ```yaml block is never closed with ```")


def write_pin(pin_file: Path, pin: Pin) -> None:
    """Rewrite the values of the fenced YAML block that changed; its comments and the prose around it are kept."""
    text = _read(pin_file)
    block, first_line = _fenced_yaml_block(text, str(pin_file))
    lines = text.splitlines(keepends=True)
    end = next(index for index in range(first_line - 1, len(lines)) if lines[index].strip() == "```")
    new_block = render_yaml(pin.to_data(), previous=block)
    before, after = "".join(lines[: first_line - 1]), "".join(lines[end:])
    old = parse_yaml(block, str(pin_file), line_offset=first_line - 1)
    if isinstance(old, dict) and isinstance(old.get("tag"), str) and isinstance(old.get("commit"), str):
        # the prose that names the version ("v0.22.1 @ 0decac0") is kept in step with the block
        named, renamed = f"{old['tag']} @ {old['commit'][:7]}", f"{pin.tag} @ {pin.commit[:7]}"
        before, after = before.replace(named, renamed), after.replace(named, renamed)
    try:
        write_text_atomically(pin_file, before + new_block + after)
    except OSError as error:
        raise WriteError(
            f"{pin_file}: could not write ({error.strerror or error}); the previous pin is unchanged."
        ) from None
