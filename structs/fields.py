"""Named accessors over construct schemas: sizeof, offsetof, and "which field holds byte N".

All answers are derived by walking the construct tree of a fixed-size schema, so they can never
disagree with what `parse`/`build` do.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache

from construct import Array, Bytes, Construct, FormatField, Renamed, Struct, Subconstruct

__all__ = ["Leaf", "sizeof", "offsetof", "memberof", "leaves", "field_at", "unwrap"]


@dataclass(frozen=True)
class Leaf:
    """One scalar or raw-bytes member of a layout, by its dotted path ("regs.rip", "u_debugreg[7]")."""

    path: str
    offset: int
    size: int
    fmt: str | None  # struct format char for scalars, None for raw bytes


def unwrap(con: Construct) -> Construct:
    """The construct under Renamed/Default/... wrappers."""
    while isinstance(con, Subconstruct) and not isinstance(con, Array):
        con = con.subcon
    return con


def sizeof(con: Construct) -> int:
    """sizeof(T) of a fixed-size schema."""
    return con.sizeof()


def _walk(con: Construct, prefix: str, off: int, out: list[Leaf]) -> int:
    con = unwrap(con)
    if isinstance(con, Struct):
        for sc in con.subcons:
            name = sc.name if isinstance(sc, Renamed) else None
            path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            off = _walk(sc, path, off, out)
        return off
    if isinstance(con, Array):
        for i in range(con.count):
            off = _walk(con.subcon, f"{prefix}[{i}]", off, out)
        return off
    if isinstance(con, FormatField):
        out.append(Leaf(prefix, off, con.length, con.fmtstr[1:]))
        return off + con.length
    if isinstance(con, Bytes) and isinstance(con.length, int):
        out.append(Leaf(prefix, off, con.length, None))
        return off + con.length
    raise TypeError(f"{prefix or 'schema'}: {type(con).__name__} is not a fixed-size layout member")


@lru_cache(maxsize=None)
def leaves(con: Construct) -> tuple[Leaf, ...]:
    """Every leaf of the layout in offset order (arrays expanded, padding included)."""
    out: list[Leaf] = []
    _walk(con, "", 0, out)
    return tuple(out)


@lru_cache(maxsize=None)
def _members(con: Construct) -> dict[str, tuple[int, int]]:
    """path -> (offset, size) for every member at every level, arrays and structs included."""
    table: dict[str, tuple[int, int]] = {}

    def walk(c: Construct, prefix: str, off: int) -> int:
        start = off
        c = unwrap(c)
        if isinstance(c, Struct):
            for sc in c.subcons:
                name = sc.name if isinstance(sc, Renamed) else None
                path = f"{prefix}.{name}" if prefix and name else (name or prefix)
                off = walk(sc, path, off)
        elif isinstance(c, Array):
            for i in range(c.count):
                off = walk(c.subcon, f"{prefix}[{i}]", off)
        else:
            off += c.sizeof()
        if prefix:
            table[prefix] = (start, off - start)
        return off

    walk(con, "", 0)
    return table


def offsetof(con: Construct, path: str) -> int:
    """offsetof(T, member): `path` is dotted with optional indexes ("pr_lwp.pr_reg[17]")."""
    try:
        return _members(con)[path][0]
    except KeyError:
        raise KeyError(f"no member {path!r} in this layout") from None


def memberof(con: Construct, path: str) -> tuple[int, int]:
    """(offset, size) of a member at any level."""
    try:
        return _members(con)[path]
    except KeyError:
        raise KeyError(f"no member {path!r} in this layout") from None


@lru_cache(maxsize=None)
def _starts(con: Construct) -> list[int]:
    return [leaf.offset for leaf in leaves(con)]


def field_at(con: Construct, offset: int) -> Leaf | None:
    """The leaf that holds byte `offset`, or None when the offset is outside the layout."""
    if offset < 0:
        return None
    ls = leaves(con)
    i = bisect.bisect_right(_starts(con), offset) - 1
    if i < 0:
        return None
    leaf = ls[i]
    return leaf if offset < leaf.offset + leaf.size else None
