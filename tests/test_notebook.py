"""notebook.py: recording notes and answers, the interview and the hand edit, driven directly."""

from __future__ import annotations

from phase17.notebook import sentence_warnings


def test_sentence_warnings():
    assert sentence_warnings("") == ["left empty."]
    assert sentence_warnings("One. Two. Three.") == []
    assert sentence_warnings("It calls `Platform.get_attn_backend_cls` e.g. here.") == []
    assert sentence_warnings("One. Two. Three. Four!") == [
        "4 sentences; the guide asks for one sentence per prompt, three in all."
    ]
