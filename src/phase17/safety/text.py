"""Text from upstream files, notes, pins and file names is shown, never obeyed.

Terminal control characters (ESC and the other C0 and C1 controls, DEL) would let a file or a note clear the
screen, move the cursor or plant a hyperlink to anywhere, and Unicode's bidi and zero-width format controls would
make a line read other than it is; each is shown as a visible stand-in instead. Newlines and tabs are kept.
"""

from __future__ import annotations

import json
import re

# Unicode's format controls (category Cf) that reorder or hide text: the bidi embeddings, overrides and isolates
# (a "Trojan Source" line reads other than it runs), the marks, and the zero-width characters.
_FORMAT = "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_CONTROLS = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f\\x80-\\x9f{_FORMAT}]")
_JSON_UNESCAPED = re.compile(f"[\\x7f-\\x9f{_FORMAT}]")  # what json.dumps leaves as it is


def _stand_in(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: U+241B is the picture of ESC
    if code == 0x7F:
        return "\u2421"
    return "\ufffd" if code <= 0x9F else f"<U+{code:04X}>"  # a format control, named


def neutralized(text: str) -> str:
    """`text` with every terminal control character replaced by a visible stand-in (newlines and tabs kept)."""
    return _CONTROLS.sub(_stand_in, text) if _CONTROLS.search(text) else text


def shown_name(text: str) -> str:
    """A file or folder name as one line of output: neutralized, and a line break in it shown as U+240A (a
    folder named "x\nsome_name.forged  1 use(s)" must not print a line of its own)."""
    return neutralized(text).replace("\n", "\u240a")


def clipped(text: str, limit: int = 120) -> str:
    """`text` as an error echoes it: whole when short, else its start and its length (a pasted 100 kB argument
    must not come back as a 100 kB message)."""
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text):,} characters)"


def has_controls(text: str) -> bool:
    return _CONTROLS.search(text) is not None


def json_text(data: object) -> str:
    """`data` as JSON: json escapes the C0 controls itself; DEL and the C1 controls are escaped here too."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return _JSON_UNESCAPED.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


# ---------------------------------------------------------------- Markdown pieces (a whole note: safety/markdown.py)

_SAFE_URL = re.compile(r"^https://[^\s<>()\"'`\\]+$")


def code_span(text: str) -> str:
    """`text` as one inline code span, whatever backticks it holds."""
    text = neutralized(text).replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def safe_url(url: str) -> str | None:
    """`url` when it is a plain https address that cannot break out of a Markdown link, else None."""
    return url if _SAFE_URL.match(url) else None
