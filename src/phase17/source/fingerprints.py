"""Fingerprints of a definition's code: equal when only whitespace, comments, trailing commas or quote style
changed, different when the code or its block structure did."""

from __future__ import annotations

import bisect
import hashlib
import re
from typing import TYPE_CHECKING

from phase17.source.parsing import node_text, string_value

if TYPE_CHECKING:
    import tree_sitter


FINGERPRINT_PREFIX = "b:"  # fingerprints that keep the block structure (indentation is syntax)


class Fingerprinter:
    """Fingerprints of byte ranges of one parsed file, from one token walk (definitions nest; tokens are shared).

    Whitespace, comments, trailing commas and quote style do not count: a reformat is not a change. Where each
    block begins and ends does count: dedenting a line out of an `if` changes what the code does.
    """

    _OPEN, _CLOSE = "\x02block", "\x03block"

    def __init__(self, root: tree_sitter.Node) -> None:
        self._starts: list[int] = []
        self._tokens: list[str] = []
        self._opened_at: list[int] = []  # for a block's end: where the block began (else -1)
        self._closes_at: list[int] = []  # for a block's start: where the block ends (else -1)
        self._docstring: list[bool] = []  # is the token a docstring (the first statement of a body, a string)
        cursor = root.walk()
        while True:
            node = cursor.node
            assert node is not None
            if node.type == "block":
                self._add(node.start_byte, self._OPEN, closes_at=node.end_byte)
            elif node.type in ("comment", "string") or node.child_count == 0:
                if node.type != "comment":
                    self._add(node.start_byte, _normalized_token(node), docstring=_is_docstring(node))
            if node.type not in ("comment", "string") and cursor.goto_first_child():
                continue
            while True:  # the node under the cursor is finished: close it, then move on
                done = cursor.node
                if done is not None and done.type == "block":
                    self._add(max(done.end_byte - 1, done.start_byte), self._CLOSE, opened_at=done.start_byte)
                if cursor.goto_next_sibling():
                    break
                if not cursor.goto_parent():
                    return

    def _add(self, start: int, token: str, opened_at: int = -1, docstring: bool = False, closes_at: int = -1) -> None:
        self._starts.append(start)
        self._tokens.append(token)
        self._opened_at.append(opened_at)
        self._closes_at.append(closes_at)
        self._docstring.append(docstring)

    def of(
        self, start_byte: int, end_byte: int, *, blocks: bool = True, docstrings: bool = True, opening: bool = False
    ) -> str:
        """The fingerprint of the tokens in a byte range; `docstrings=False` leaves docstrings out (the code's
        logic alone: a docstring reflow is a cosmetic change). An enclosing block's start or end is not the
        definition's, so a method's fingerprint is the same wherever it stands in its class. `opening` prefixes
        the start of its enclosing block, as fingerprints recorded before that was true have it for a class's
        first method: so those records still match the same code (Symbol.has_fingerprint)."""
        low = bisect.bisect_left(self._starts, start_byte)
        high = bisect.bisect_left(self._starts, end_byte)
        tokens = [self._OPEN] if opening and blocks else []
        tokens += [
            token
            for token, opened_at, closes_at, docstring in zip(
                self._tokens[low:high],
                self._opened_at[low:high],
                self._closes_at[low:high],
                self._docstring[low:high],
                strict=True,
            )
            if (blocks or token not in (self._OPEN, self._CLOSE))
            and (opened_at < 0 or opened_at >= start_byte)
            and closes_at <= end_byte
            and (docstrings or not docstring)
        ]  # the start or the end of an enclosing block that begins or ends with this definition is not its own
        kept = [
            token
            for index, token in enumerate(tokens)
            if not (
                token == "," and index + 1 < len(tokens) and tokens[index + 1] in (")", "]", "}")
            )  # a "magic trailing comma"
        ]
        digest = hashlib.sha256("\x1f".join(kept).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"{FINGERPRINT_PREFIX}{digest}" if blocks else digest


def _is_docstring(node: tree_sitter.Node) -> bool:
    """A string that is a whole statement, the first of a module, class or function body."""
    statement = node.parent
    if statement is None or statement.type != "expression_statement" or statement.named_child_count != 1:
        return False
    body = statement.parent
    if body is None or body.type not in ("block", "module"):
        return False
    before = statement.prev_named_sibling
    while before is not None and before.type == "comment":
        before = before.prev_named_sibling
    return before is None


def _normalized_token(node: tree_sitter.Node) -> str:
    text = node_text(node)
    if node.type == "string" and not re.match(r"^[A-Za-z]*[fF]", text):
        value = string_value(text)
        if value is not None:
            return repr(value)
    return text
