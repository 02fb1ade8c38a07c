"""The layout builder, the accessors and the fast codec, on small layouts with known C answers.

The per-header schemas are checked against the compiler and the Solaris reference in their own
test files; here the mechanism itself is held to the C rules it claims to follow.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from structs.codec import codec, plain
from structs.fields import field_at, leaves, memberof, offsetof, sizeof
from structs.layout import AMD64, I386, alignof, array, raw, struct



def _sample(m):
    inner = struct(("c", m.char), ("ll", m.llong))
    return struct(
        ("s", m.short),
        ("inner", inner),
        ("arr", array(m.int, 3)),
        ("name", raw(5)),
        ("l", m.long),
    )


# What gcc says for the same declaration (struct { char c; long long ll; } inner; ...):
#   amd64: inner at 8 (align 8), arr at 24, name at 36, l at 48, size 56
#   i386:  inner at 4, ll at 8 (long long is 4-aligned in structures), arr at 16, name at 28, l at 36, size 40
@pytest.mark.parametrize(
    "m, want",
    [
        (AMD64, {"inner": 8, "inner.ll": 16, "arr": 24, "name": 36, "l": 48, "size": 56, "align": 8}),
        (I386, {"inner": 4, "inner.ll": 8, "arr": 16, "name": 28, "l": 36, "size": 40, "align": 4}),
    ],
)
def test_c_alignment_rules(m, want):
    s = _sample(m)
    for path in ("inner", "inner.ll", "arr", "name", "l"):
        assert offsetof(s, path) == want[path], path
    assert sizeof(s) == want["size"]
    assert alignof(s) == want["align"]


def test_padding_is_explicit_and_raw():
    s = _sample(AMD64)
    pads = [lf for lf in leaves(s) if lf.path.rsplit(".", 1)[-1].startswith("_pad")]
    assert [(p.path, p.offset, p.size) for p in pads] == [
        ("_pad2", 2, 6),
        ("inner._pad1", 9, 7),
        ("_pad41", 41, 7),
    ]
    assert sum(lf.size for lf in leaves(s)) == sizeof(s)


def test_field_at_and_memberof():
    s = _sample(AMD64)
    assert field_at(s, 16).path == "inner.ll"
    assert field_at(s, 23).path == "inner.ll"
    assert field_at(s, 28).path == "arr[1]"
    assert field_at(s, 3).path == "_pad2"
    assert field_at(s, 56) is None
    assert field_at(s, -1) is None
    assert memberof(s, "arr") == (24, 12)
    assert memberof(s, "arr[2]") == (32, 4)
    with pytest.raises(KeyError):
        offsetof(s, "nope")


def test_size_assertion_catches_slips():
    with pytest.raises(AssertionError, match="expected 12"):
        struct(("a", AMD64.int), ("b", AMD64.long), size=12)


def test_raised_alignment_pads_the_tail():
    s = struct(("a", AMD64.int), align=16)
    assert sizeof(s) == 16 and alignof(s) == 16


def test_codec_rejects_wrong_array_length():
    s = _sample(I386)
    d = codec(s).decode(bytes(sizeof(s)))
    d["arr"] = [1, 2]
    with pytest.raises(ValueError, match="expected 3"):
        codec(s).encode(d)


def test_codec_pads_default_to_zero():
    s = _sample(AMD64)
    d = codec(s).decode(b"\xff" * sizeof(s))
    for k in [k for k in d if k.startswith("_pad")]:
        del d[k]
    del d["inner"]["_pad1"]
    out = codec(s).encode(d)
    assert out[2:8] == bytes(6) and out[9:16] == bytes(7)
    assert s.build(d) == out


@pytest.mark.parametrize("m", [AMD64, I386], ids=lambda m: m.name)
@given(data=st.data())
def test_codec_agrees_with_construct(m, data):
    s = _sample(m)
    b = data.draw(st.binary(min_size=sizeof(s), max_size=sizeof(s)))
    c = codec(s)
    parsed = plain(s.parse(b))
    assert c.decode(b) == parsed
    assert c.encode(parsed) == b == s.build(parsed)
    # decode at an offset inside a larger buffer
    assert c.decode(b"xyz" + b, 3) == parsed


@given(b=st.binary(min_size=24, max_size=24))
def test_flat_record_pair(b):
    s = struct(("a", AMD64.long), ("_pad", raw(4)), ("b", AMD64.int), ("c", AMD64.ulong))
    c = codec(s)
    r = c.unpack(b)
    d = c.decode(b)
    assert (r.a, r.b, r.c) == (d["a"], d["b"], d["c"])
    assert c.pack(r) == b
    assert c.pack(r._replace(b=7)) == c.encode({**d, "b": 7})


def test_nested_layout_has_no_record():
    assert codec(_sample(AMD64)).Record is None
