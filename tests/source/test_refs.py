"""refs.py: the reference grammar readers write (`Class.method`, `path.py::Class.method`)."""

from __future__ import annotations

import pytest

from phase17.errors import BadReferenceError
from phase17.source.refs import parse_ref


@pytest.mark.parametrize(
    ("text", "path", "qualname"),
    [
        ("Platform", None, "Platform"),
        ("Platform.get_attn_backend_cls", None, "Platform.get_attn_backend_cls"),
        (
            "vllm/platforms/interface.py::Platform.get_attn_backend_cls",
            "vllm/platforms/interface.py",
            "Platform.get_attn_backend_cls",
        ),
        ("  __getattr__ ", None, "__getattr__"),
    ],
)
def test_parse_ref(text, path, qualname):
    ref = parse_ref(text)
    assert (ref.path, ref.qualname) == (path, qualname)


@pytest.mark.parametrize("text", ["", "Platform.", "a b", "interface.py::", "1abc", "x::y::"])
def test_bad_refs_say_how_to_write_one(text):
    with pytest.raises(BadReferenceError, match="is not a symbol reference; write Class.method"):
        parse_ref(text)
