"""Fast codecs derived from construct schemas, for the layouts decoded at every stop.

construct stays the one description; this module reads a fixed-size schema's construct tree
and generates (once) a `struct.Struct` plus two small functions that turn its flat tuple into
the same nested dict/list shape construct's `parse` gives, and back.  Decoding then costs one
`unpack_from` and one dict display instead of construct's interpreter.
"""

from __future__ import annotations

import struct as _struct
from collections import namedtuple
from functools import lru_cache
from typing import Any, Callable

from construct import Array, Bytes, Construct, FormatField, Renamed, Struct

from .fields import unwrap

__all__ = ["Codec", "codec", "plain"]


def plain(v: Any) -> Any:
    """construct's parse result as the codec gives it: plain dicts and lists, without the `_io`
    bookkeeping construct adds (so the two can be compared, or the codec fed a parse)."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items() if k != "_io"}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


class Codec:
    """decode(buf, offset=0) -> nested dict; encode(dict) -> bytes; both exact inverses.

    Members whose name starts with "_" (padding, reserved) may be left out when encoding:
    they are then zero.  For flat layouts, unpack(buf, offset=0) -> Record (a named tuple in
    member order) and pack(Record) -> bytes are the cheaper pair.
    """

    __slots__ = ("size", "struct", "decode", "encode", "source", "Record", "unpack", "pack")

    def __init__(self, fmt: str, decode: Callable[..., dict], encode: Callable[[Any], bytes], source: str,
                 flat_names: tuple[str, ...] | None):
        self.struct = _struct.Struct(fmt)
        self.size = self.struct.size
        self.decode = decode
        self.encode = encode
        self.source = source
        # Flat layouts (every member a scalar or raw bytes) also get a tuple record: decoding to
        # it costs one unpack and no dict, which is what the per-stop register path wants.
        self.Record: type | None = None
        self.unpack: Callable[..., Any] | None = None
        self.pack: Callable[[Any], bytes] | None = None
        if flat_names is not None:
            rec = namedtuple("Record", [n.lstrip("_") or "pad" for n in flat_names], rename=True)  # type: ignore[misc]
            new, unpack_from, pack = tuple.__new__, self.struct.unpack_from, self.struct.pack
            self.Record = rec
            self.unpack = lambda buf, offset=0: new(rec, unpack_from(buf, offset))
            self.pack = lambda r: pack(*r)


class _Gen:
    def __init__(self) -> None:
        self.fmt: list[str] = []
        self.n = 0  # index into the unpacked tuple

    def dec(self, con: Construct) -> str:
        con = unwrap(con)
        if isinstance(con, Struct):
            items = []
            for sc in con.subcons:
                if not isinstance(sc, Renamed):
                    raise TypeError("anonymous struct members are not supported")
                items.append(f"{sc.name!r}: {self.dec(sc.subcon)}")
            return "{" + ", ".join(items) + "}"
        if isinstance(con, Array):
            sub = unwrap(con.subcon)
            if isinstance(sub, FormatField):
                self.fmt.append(f"{con.count}{sub.fmtstr[1:]}")
                i = self.n
                self.n += con.count
                return f"list(t[{i}:{self.n}])"
            return "[" + ", ".join(self.dec(sub) for _ in range(con.count)) + "]"
        if isinstance(con, FormatField):
            self.fmt.append(con.fmtstr[1:])
        elif isinstance(con, Bytes) and isinstance(con.length, int):
            self.fmt.append(f"{con.length}s")
        else:
            raise TypeError(f"{type(con).__name__} is not a fixed-size layout member")
        self.n += 1
        return f"t[{self.n - 1}]"

    def enc(self, con: Construct, ref: str, out: list[str], optional: bool) -> None:
        con = unwrap(con)
        if isinstance(con, Struct):
            for sc in con.subcons:
                name = sc.name
                # Underscore members (padding, reserved) may be omitted when they are leaves.
                opt = name.startswith("_") and isinstance(unwrap(sc.subcon), (Bytes, FormatField))
                sub = f"{ref}.get({name!r}, {_zero(sc.subcon)!r})" if opt else f"{ref}[{name!r}]"
                self.enc(sc.subcon, sub, out, opt)
            return
        if isinstance(con, Array):
            sub = unwrap(con.subcon)
            if isinstance(sub, FormatField):
                out.append(f"*_n({ref}, {con.count})")
                return
            for i in range(con.count):
                self.enc(sub, f"{ref}[{i}]", out, optional)
            return
        out.append(ref)


def _zero(con: Construct) -> Any:
    con = unwrap(con)
    if isinstance(con, Bytes):
        return b""
    if isinstance(con, FormatField):
        return 0
    raise TypeError("only scalar or raw-bytes members can be optional")


def _n(seq: Any, count: int) -> Any:
    if len(seq) != count:
        raise ValueError(f"expected {count} elements, got {len(seq)}")
    return seq


@lru_cache(maxsize=None)
def codec(con: Construct) -> Codec:
    """The fast codec of a fixed-size schema (generated once, then cached)."""
    g = _Gen()
    dec_expr = g.dec(con)
    fmt = "<" + "".join(g.fmt)
    args: list[str] = []
    g.enc(con, "d", args, False)
    src = (
        "def decode(buf, offset=0):\n"
        "    t = _unpack_from(buf, offset)\n"
        f"    return {dec_expr}\n"
        "def encode(d):\n"
        f"    return _pack({', '.join(args)})\n"
    )
    st = _struct.Struct(fmt)
    ns: dict[str, Any] = {"_unpack_from": st.unpack_from, "_pack": st.pack, "_n": _n}
    exec(compile(src, f"<codec {fmt[:40]}>", "exec"), ns)
    top = unwrap(con)
    flat = None
    if isinstance(top, Struct) and all(isinstance(unwrap(sc.subcon), (FormatField, Bytes)) for sc in top.subcons):
        flat = tuple(sc.name for sc in top.subcons)
    return Codec(fmt, ns["decode"], ns["encode"], src, flat)
