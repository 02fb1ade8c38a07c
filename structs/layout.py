"""C data models and the construct layout builder every schema in `structs` is written with.

A schema is written once against a `DataModel` (amd64 = LP64, i386 = ILP32) and built for
each model, so the two ABIs never become two hand-kept copies.  The builder lays fields out
the way the C compiler does (natural alignment; on i386 8-byte scalars are 4-aligned inside
structures) and inserts every gap as an explicit raw `_pad<offset>` field, so that
`build(parse(b)) == b` holds for any bytes: nothing in a layout is thrown away.

What the builder returns is a plain construct `Struct`; everything else in the package
(offsets, the fast codec, field lookup) is derived from the construct tree, which stays the
one description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from construct import Array, Bytes, Construct, Default, FormatField, Struct

__all__ = [
    "CType",
    "DataModel",
    "AMD64",
    "I386",
    "MODELS",
    "array",
    "raw",
    "struct",
    "alignof",
]


@dataclass(frozen=True)
class CType:
    """A C type while a layout is being built: its construct, size and alignment."""

    con: Construct
    size: int
    align: int


def _scalar(fmt: str, size: int, align: int) -> CType:
    return CType(FormatField("<", fmt), size, align)


@dataclass(frozen=True)
class DataModel:
    """A C data model: the sizes and alignments of the scalar types.

    `name` is "amd64" (LP64) or "i386" (ILP32).  `long` and pointers are `word` bytes; 8-byte
    scalars (long long, double) are aligned to `align8` inside structures.
    """

    name: str
    word: int
    align8: int
    int8: CType = field(init=False)
    uint8: CType = field(init=False)
    int16: CType = field(init=False)
    uint16: CType = field(init=False)
    int32: CType = field(init=False)
    uint32: CType = field(init=False)
    int64: CType = field(init=False)
    uint64: CType = field(init=False)
    long: CType = field(init=False)
    ulong: CType = field(init=False)

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "int8", _scalar("b", 1, 1))
        s(self, "uint8", _scalar("B", 1, 1))
        s(self, "int16", _scalar("h", 2, 2))
        s(self, "uint16", _scalar("H", 2, 2))
        s(self, "int32", _scalar("l", 4, 4))
        s(self, "uint32", _scalar("L", 4, 4))
        s(self, "int64", _scalar("q", 8, self.align8))
        s(self, "uint64", _scalar("Q", 8, self.align8))
        if self.word == 8:
            s(self, "long", self.int64)
            s(self, "ulong", self.uint64)
        else:
            s(self, "long", self.int32)
            s(self, "ulong", self.uint32)

    # C spellings, so schemas read like the headers they come from.
    @property
    def char(self) -> CType:
        return self.int8

    @property
    def uchar(self) -> CType:
        return self.uint8

    @property
    def short(self) -> CType:
        return self.int16

    @property
    def ushort(self) -> CType:
        return self.uint16

    @property
    def int(self) -> CType:
        return self.int32

    @property
    def uint(self) -> CType:
        return self.uint32

    @property
    def llong(self) -> CType:
        return self.int64

    @property
    def ullong(self) -> CType:
        return self.uint64

    @property
    def ptr(self) -> CType:
        return self.ulong

    @property
    def size_t(self) -> CType:
        return self.ulong

    @property
    def lp64(self) -> bool:
        return self.word == 8


AMD64 = DataModel("amd64", word=8, align8=8)
I386 = DataModel("i386", word=4, align8=4)
MODELS: dict[str, DataModel] = {"amd64": AMD64, "i386": I386}

TypeLike = Union[CType, Construct]


def _ctype(t: TypeLike) -> CType:
    if isinstance(t, CType):
        return t
    align = getattr(t, "c_align", None)
    if align is None:
        raise TypeError(f"{t!r} was not made by structs.layout.struct(); alignment unknown")
    return CType(t, t.sizeof(), align)


def alignof(t: TypeLike) -> int:
    """The C alignment of a type built here."""
    return _ctype(t).align


def array(t: TypeLike, count: int) -> CType:
    """`T name[count]`."""
    c = _ctype(t)
    return CType(Array(count, c.con), c.size * count, c.align)


def raw(size: int, align: int = 1) -> CType:
    """Bytes kept raw: a union, reserved space, or an opaque area (its alignment given)."""
    return CType(Bytes(size), size, align)


def _pad(n: int) -> Construct:
    return Default(Bytes(n), bytes(n))


def struct(*fields: tuple[str, TypeLike], align: int | None = None, size: int | None = None) -> Struct:
    """A C structure laid out as the compiler would; gaps become raw `_pad<offset>` fields.

    `align` raises the structure's alignment (a member such as `long double` whose alignment
    the raw stand-in does not carry); `size` asserts the total, which catches transcription
    slips at import time instead of in a target's memory.
    """
    subcons = []
    off = 0
    max_align = align or 1
    for name, t in fields:
        c = _ctype(t)
        gap = -off % c.align
        if gap:
            subcons.append(f"_pad{off}" / _pad(gap))
            off += gap
        subcons.append(name / c.con)
        off += c.size
        max_align = max(max_align, c.align)
    tail = -off % max_align
    if tail:
        subcons.append(f"_pad{off}" / _pad(tail))
        off += tail
    if size is not None and off != size:
        raise AssertionError(f"layout is {off} bytes, expected {size}")
    s = Struct(*subcons)
    s.c_align = max_align
    return s
