"""Text from upstream files, notes, pins and file names is shown, never obeyed (issue 15).

Terminal control characters (ESC and the other C0 and C1 controls, DEL) would let a file or a note clear the
screen, move the cursor or plant a hyperlink to anywhere; each is shown as a visible stand-in instead. Newlines
and tabs are kept.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def _stand_in(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: U+241B is the picture of ESC
    return "\u2421" if code == 0x7F else "\ufffd"


def neutralized(text: str) -> str:
    """`text` with every terminal control character replaced by a visible stand-in (newlines and tabs kept)."""
    return _CONTROLS.sub(_stand_in, text) if _CONTROLS.search(text) else text


def has_controls(text: str) -> bool:
    return _CONTROLS.search(text) is not None
