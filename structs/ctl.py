"""The Solaris /proc control-message stream (what is written to ``ctl`` and ``lwpctl``).

What this module promises (source: ``/work/shared/reference/solaris-proc-control.md`` §1,
illumos-gate ``usr/src/uts/common/fs/proc/prcontrol.c``):

* The ``PC*`` command codes as data (``CTL_BY_NAME`` name -> code, ``CTL_NAMES`` code -> name)
  and module constants, the ``PCRUN`` flags, and this project's extension codes (below); the
  values come from ``structs.procfs_consts`` (``PC``, ``PCX``, ``PCRUN_FLAGS``).
* For each data model, the operand each code takes (``CTL_OPERANDS[model][code]``, a construct
  schema) and a construct schema for one message (``CTL_MESSAGE[model]``: the ``long`` code,
  then a ``Switch`` on it).  The message schema does not contain the inter-message padding,
  which depends on the message's place in the write; the stream functions handle it.
* ``encode_ctl(model, [(code, operand), ...]) -> bytes`` and
  ``decode_ctl(model, data) -> (messages, error)``, pure functions.  Decoding stops at the
  first message that cannot be taken whole (unknown code, truncated operand, a trailing piece
  shorter than a command word, a malformed variable operand) and reports it as
  ``CtlError("EINVAL", offset_of_that_message, reason)``, with every well-formed message before
  it returned, because the engine runs the messages before a bad one (ARCHITECTURE "Settled
  after review" item 2).

Wire format:

* A message is a ``long`` command code (8 bytes for an LP64 writer, 4 for ILP32: the *writer's*
  model decides) followed by its operand in that model's layout.
* LP64: a message whose size is not a multiple of 8 is followed by pad bytes up to the next
  multiple of 8 unless it is the last in the write.  ILP32: always padded to a multiple of 4.
  A message whose required padding runs past the end of the write is truncated (EINVAL), as
  prcontrol.c rounds the size up before checking it against what was written.
* Operand values (what ``decode_ctl`` returns and ``encode_ctl`` takes): ``None`` for no operand;
  ``int`` for ``long``/``ulong_t``/address operands; a plain ``dict`` (the fast codec's shape,
  padding keys included) for structure operands -- ``encode_ctl`` also takes the raw bytes of a
  structure operand; a ``list`` of ints for ``prgregset_t``; ``bytes`` for PCSXREG; dicts for
  the two variable forms (PCSCREDX, PCSPRIV, see their schemas).
* Canonical streams are what ``encode_ctl`` writes: zero pad bytes, no pad after the last LP64
  message.  ``encode_ctl(m, decode_ctl(m, b)[0]) == b`` for every canonical ``b``, and
  ``decode_ctl(m, encode_ctl(m, msgs)) == (msgs, None)`` for every list of well-formed messages
  in decoded form.  Like the kernel, ``decode_ctl`` also accepts non-zero pad bytes and a padded
  last message; those are not reproduced byte for byte.

Non-Solaris extension codes (ARCHITECTURE items 9 and 10; the named brand hooks that replace the
seed's ``SYS_brand`` calls).  They live from 0x1000 on, outside the Solaris range, and no
illumos kernel accepts them:

* ``PCXSYSCALL_ONCE`` (0x1000), operand ``ulong_t`` flags: make the LWP's next resume stop at
  the next system-call entry (``XSYSCALL_ENTRY`` = 1), exit (``XSYSCALL_EXIT`` = 2) or either
  (3), reported as PR_SYSENTRY / PR_SYSEXIT (the seed's ``B_PTRACE_SYSCALL``).
* ``PCXSETSYSNUM`` (0x1001), operand ``long``: the system-call number the stopped LWP will
  execute; -1 skips the call (Linux's orig_rax write).
* ``PCXSTOPFOROPT`` (0x1002), operand ``ulong_t``: the process's mask of Linux ptrace events
  that stop it (``procfs_consts.PCX_EVENT``, Linux's PTRACE_O_* bit values; the lx brand's
  ``B_PTRACE_STOP_FOR_OPT``).
* ``PCXLISTEN`` (0x1003), no operand: Linux's PTRACE_LISTEN for an LWP in a reportable group
  stop.
* ``PCXTAKEN`` (0x1004), no operand: the tracer's wait took this LWP's signal-delivery stop
  (PR_SIGNALLED); a release at the last close lets it go without that signal, as Linux drops
  the signal of a stop its dead tracer had waited for.
"""

from __future__ import annotations

import struct as _struct
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Sequence, Union

from construct import (
    Array,
    Bytes,
    Check,
    Construct,
    Error,
    GreedyBytes,
    Pass,
    Prefixed,
    Struct,
    Switch,
    this,
)

from .codec import codec
from .layout import MODELS, DataModel
from .procfs_consts import PC, PCRUN_FLAGS, PCX
from .procfs import (
    FLTSET,
    PRCRED,
    PRFPREGSET,
    PRGREGSET,
    PRIOVEC,
    PRWATCH,
    SIGINFO,
    SIGSET,
    SYSSET,
)

__all__ = [
    "CTL_BY_NAME",
    "CTL_NAMES",
    "EXTENSION_CODES",
    "CTL_OPERANDS",
    "CTL_MESSAGE",
    "CtlError",
    "Message",
    "encode_ctl",
    "decode_ctl",
    "operand_kind",
    # codes
    "PCNULL", "PCSTOP", "PCDSTOP", "PCWSTOP", "PCTWSTOP", "PCRUN", "PCCSIG", "PCCFAULT",
    "PCSSIG", "PCKILL", "PCUNKILL", "PCSHOLD", "PCSTRACE", "PCSFAULT", "PCSENTRY", "PCSEXIT",
    "PCSET", "PCUNSET", "PCSREG", "PCSFPREG", "PCSXREG", "PCNICE", "PCSVADDR", "PCWATCH",
    "PCAGENT", "PCREAD", "PCWRITE", "PCSCRED", "PCSASRS", "PCSPRIV", "PCSZONE", "PCSCREDX",
    "PCXSYSCALL_ONCE", "PCXSETSYSNUM", "PCXSTOPFOROPT", "PCXLISTEN", "PCXTAKEN",
    # flags
    "PRCSIG", "PRCFAULT", "PRSTEP", "PRSABORT", "PRSTOP",
    "XSYSCALL_ENTRY", "XSYSCALL_EXIT",
]  # fmt: skip

# ---- codes ----------------------------------------------------------------------------------
# The values live in structs.procfs_consts (PC, PCX, PCRUN_FLAGS); they are re-exported here
# under their C names so a ctl writer needs one import.

PCNULL = PC.PCNULL
PCSTOP = PC.PCSTOP
PCDSTOP = PC.PCDSTOP
PCWSTOP = PC.PCWSTOP
PCTWSTOP = PC.PCTWSTOP
PCRUN = PC.PCRUN
PCCSIG = PC.PCCSIG
PCCFAULT = PC.PCCFAULT
PCSSIG = PC.PCSSIG
PCKILL = PC.PCKILL
PCUNKILL = PC.PCUNKILL
PCSHOLD = PC.PCSHOLD
PCSTRACE = PC.PCSTRACE
PCSFAULT = PC.PCSFAULT
PCSENTRY = PC.PCSENTRY
PCSEXIT = PC.PCSEXIT
PCSET = PC.PCSET
PCUNSET = PC.PCUNSET
PCSREG = PC.PCSREG
PCSFPREG = PC.PCSFPREG
PCSXREG = PC.PCSXREG
PCNICE = PC.PCNICE
PCSVADDR = PC.PCSVADDR
PCWATCH = PC.PCWATCH
PCAGENT = PC.PCAGENT
PCREAD = PC.PCREAD
PCWRITE = PC.PCWRITE
PCSCRED = PC.PCSCRED
PCSASRS = PC.PCSASRS
PCSPRIV = PC.PCSPRIV
PCSZONE = PC.PCSZONE
PCSCREDX = PC.PCSCREDX

# Non-Solaris extensions (see the module docstring).
PCXSYSCALL_ONCE = PCX.PCXSYSCALL_ONCE
PCXSETSYSNUM = PCX.PCXSETSYSNUM
PCXSTOPFOROPT = PCX.PCXSTOPFOROPT
PCXLISTEN = PCX.PCXLISTEN
PCXTAKEN = PCX.PCXTAKEN
XSYSCALL_ENTRY = 0x1  # PCXSYSCALL_ONCE flag: stop at the next system-call entry
XSYSCALL_EXIT = 0x2  # PCXSYSCALL_ONCE flag: stop at the next system-call exit

# PCRUN operand flags.
PRCSIG = PCRUN_FLAGS.PRCSIG
PRCFAULT = PCRUN_FLAGS.PRCFAULT
PRSTEP = PCRUN_FLAGS.PRSTEP
PRSABORT = PCRUN_FLAGS.PRSABORT
PRSTOP = PCRUN_FLAGS.PRSTOP

#: name -> code for every code, PCSASRS included (a Solaris code that no model here accepts).
CTL_BY_NAME: dict[str, int] = {c.name: int(c) for c in (*PC, *PCX)}
#: code -> name.
CTL_NAMES: dict[int, str] = {v: k for k, v in CTL_BY_NAME.items()}
EXTENSION_CODES: frozenset[int] = frozenset(int(c) for c in PCX)

ModelLike = Union[str, DataModel]


class CtlError(NamedTuple):
    """Why decoding stopped: the errno the write fails with, where the bad message starts."""

    errno: str
    offset: int
    reason: str


Message = tuple[int, Any]


# ---- operands -------------------------------------------------------------------------------
# Each operand kind has: a construct schema (the description), a fast decoder and encoder that
# must agree with it (held to that by the tests), and a size rule.

_NONE = "none"
_LONG = "long"
_ULONG = "ulong"
_STRUCT = "struct"
_CREDX = "credx"
_PRIV = "priv"
_XREG = "xreg"

# code -> (kind, structure table for _STRUCT)
_OPERAND_KINDS: dict[int, tuple[str, dict[str, Construct] | None]] = {
    PCNULL: (_NONE, None),
    PCSTOP: (_NONE, None),
    PCDSTOP: (_NONE, None),
    PCWSTOP: (_NONE, None),
    PCTWSTOP: (_LONG, None),  # timeout in milliseconds
    PCRUN: (_ULONG, None),  # PR* flags
    PCCSIG: (_NONE, None),
    PCCFAULT: (_NONE, None),
    PCSSIG: (_STRUCT, SIGINFO),
    PCKILL: (_LONG, None),
    PCUNKILL: (_LONG, None),
    PCSHOLD: (_STRUCT, SIGSET),
    PCSTRACE: (_STRUCT, SIGSET),
    PCSFAULT: (_STRUCT, FLTSET),
    PCSENTRY: (_STRUCT, SYSSET),
    PCSEXIT: (_STRUCT, SYSSET),
    PCSET: (_ULONG, None),
    PCUNSET: (_ULONG, None),
    PCSREG: (_STRUCT, PRGREGSET),
    PCSFPREG: (_STRUCT, PRFPREGSET),
    PCSXREG: (_XREG, None),
    PCNICE: (_LONG, None),
    # caddr_t: an address, so read unsigned (same size as long).  The modern LP64 table in
    # prcontrol.c lacks PCSVADDR (reference §1.2); the man page documents it, and so do we.
    PCSVADDR: (_ULONG, None),
    PCWATCH: (_STRUCT, PRWATCH),
    PCAGENT: (_STRUCT, PRGREGSET),
    PCREAD: (_STRUCT, PRIOVEC),
    PCWRITE: (_STRUCT, PRIOVEC),
    PCSCRED: (_STRUCT, PRCRED),
    PCSPRIV: (_PRIV, None),
    # zoneid as a long of the writer's model (legacy prcontrol.c: int32_t for ILP32 writers;
    # the modern ILP32 table's 8 bytes is noted in the reference as a probable slip).
    PCSZONE: (_LONG, None),
    PCSCREDX: (_CREDX, None),
    # PCSASRS: SPARC only, an unknown command (EINVAL) here.
    # ulong_t flags XSYSCALL_ENTRY | XSYSCALL_EXIT.  (procfs_consts.PCX's docstring says "no
    # operand, whichever comes first"; the interpreter must follow one: this table is the wire.)
    PCXSYSCALL_ONCE: (_ULONG, None),
    PCXSETSYSNUM: (_LONG, None),
    PCXSTOPFOROPT: (_ULONG, None),  # PCX_EVENT bits
    PCXLISTEN: (_NONE, None),
    PCXTAKEN: (_NONE, None),
}


def operand_kind(code: int) -> str | None:
    """"none", "long", "ulong", "struct", "credx", "priv" or "xreg"; None for an unknown code."""
    entry = _OPERAND_KINDS.get(code)
    return entry[0] if entry else None


def _credx_schema(m: DataModel) -> Struct:
    # prcred_t with pr_ngroups groups.  Its size is 32 + 4 * (pr_ngroups - 1), and 32 (one
    # unused group slot, as in the declared prcred_t) when pr_ngroups is 0: pr_groups always
    # holds max(1, pr_ngroups) entries, so the 0-group form keeps its slot's bytes.
    u = m.uint.con
    return Struct(
        "pr_euid" / u,
        "pr_ruid" / u,
        "pr_suid" / u,
        "pr_egid" / u,
        "pr_rgid" / u,
        "pr_sgid" / u,
        "pr_ngroups" / m.int.con,
        Check(this.pr_ngroups >= 0),
        "pr_groups" / Array(lambda ctx: max(1, ctx.pr_ngroups), u),
    )


def _priv_schema(m: DataModel) -> Struct:
    # prpriv_t sized from its own header, PRIV_PRPRIV_SIZE (sys/priv.h):
    #   sizeof (prpriv_t) + (pr_nsets * pr_setsize - 1) * sizeof (priv_chunk_t) + pr_infosize.
    # A header with no set words at all would make that smaller than the header itself; it is
    # malformed here (the kernel sizes the sets from its own PRIV_SETBYTES and then rejects a
    # header that does not match the system's set geometry, so the end result is EINVAL too).
    w = m.uint32.con
    return Struct(
        "pr_nsets" / w,
        "pr_setsize" / w,
        "pr_infosize" / w,
        Check(this.pr_nsets * this.pr_setsize >= 1),
        "pr_sets" / Array(this.pr_nsets * this.pr_setsize, w),
        "pr_info" / Bytes(this.pr_infosize),
    )


def _xreg_schema(m: DataModel) -> Construct:
    # This project's own framing, not illumos's prxregset_t: a ulong_t byte count, then that
    # many bytes.  ARCHITECTURE item 12: "the xregs file and PCSXREG carry the host's XSAVE
    # area raw, at the host's size", so the operand is the host XSAVE image, opaque here.  The
    # size is a property of the machine (576 bytes with AVX off, 832 with AVX, ~2.7 KiB with
    # AVX-512), not of the data model, so the wire carries it and this layer accepts any count;
    # the engine takes exactly the size its `xregs` file reads (which the host decides) and
    # refuses any other with EINVAL (native_proc/control.py, pcsxreg).
    return Prefixed(m.ulong.con, GreedyBytes)


def _operand_schema(m: DataModel, code: int) -> Construct:
    kind, table = _OPERAND_KINDS[code]
    if kind == _NONE:
        return Pass
    if kind == _LONG:
        return m.long.con
    if kind == _ULONG:
        return m.ulong.con
    if kind == _STRUCT:
        assert table is not None
        return table[m.name]
    if kind == _CREDX:
        return _credx_schema(m)
    if kind == _PRIV:
        return _priv_schema(m)
    return _xreg_schema(m)


CTL_OPERANDS: dict[str, dict[int, Construct]] = {
    name: {code: _operand_schema(m, code) for code in _OPERAND_KINDS} for name, m in MODELS.items()
}

CTL_MESSAGE: dict[str, Struct] = {
    name: Struct(
        "code" / m.long.con,
        # Unknown codes (PCSASRS included) fail to parse, as the kernel refuses them.
        "operand" / Switch(this.code, CTL_OPERANDS[name], default=Error),
    )
    for name, m in MODELS.items()
}


# ---- the fast stream codec ------------------------------------------------------------------


class _Bad(Exception):
    """Raised inside a decoder: the operand is malformed (EINVAL)."""


class _Truncated(Exception):
    """Raised inside a decoder: the write ends before the operand does (EINVAL)."""


# decode(buf, off, end) -> (operand, operand size in bytes), reading buf[off:end]; raises
# _Truncated or _Bad.  encode(operand) -> the operand's bytes (no command word, no padding).
_Decoder = Callable[[bytes, int, int], tuple[Any, int]]
_Encoder = Callable[[Any], bytes]


@dataclass(frozen=True)
class _Spec:
    kind: str
    decode: _Decoder
    encode: _Encoder


def _fixed_struct(con: Construct) -> tuple[_Decoder, _Encoder]:
    c = codec(con)
    size = c.size

    def dec(buf: bytes, off: int, end: int) -> tuple[Any, int]:
        if end - off < size:
            raise _Truncated
        return c.decode(buf, off), size

    def enc(v: Any) -> bytes:
        if isinstance(v, (bytes, bytearray, memoryview)):
            b = bytes(v)
            if len(b) != size:
                raise ValueError(f"raw operand is {len(b)} bytes, expected {size}")
            return b
        return c.encode(v)

    return dec, enc


def _scalar(fmt: str) -> tuple[_Decoder, _Encoder]:
    st = _struct.Struct("<" + fmt)
    size = st.size
    unpack_from = st.unpack_from

    def dec(buf: bytes, off: int, end: int) -> tuple[Any, int]:
        if end - off < size:
            raise _Truncated
        return unpack_from(buf, off)[0], size

    def enc(v: Any) -> bytes:
        return st.pack(v)

    return dec, enc


def _none() -> tuple[_Decoder, _Encoder]:
    def dec(buf: bytes, off: int, end: int) -> tuple[Any, int]:
        return None, 0

    def enc(v: Any) -> bytes:
        if v is not None:
            raise ValueError("this command takes no operand")
        return b""

    return dec, enc


def _credx(m: DataModel) -> tuple[_Decoder, _Encoder]:
    head = _struct.Struct("<6Ii")  # uid_t/gid_t x6, int pr_ngroups: the same in both models
    names = ("pr_euid", "pr_ruid", "pr_suid", "pr_egid", "pr_rgid", "pr_sgid", "pr_ngroups")

    def dec(buf: bytes, off: int, end: int) -> tuple[Any, int]:
        # The 28-byte fixed part must be there before pr_ngroups can be read.
        if end - off < head.size:
            raise _Truncated
        vals = head.unpack_from(buf, off)
        n = vals[6]
        if n < 0:
            raise _Bad("PCSCREDX: negative pr_ngroups")
        slots = max(1, n)
        size = head.size + 4 * slots
        if end - off < size:
            raise _Truncated
        d = dict(zip(names, vals))
        d["pr_groups"] = list(_struct.unpack_from(f"<{slots}I", buf, off + head.size))
        return d, size

    def enc(v: Any) -> bytes:
        n = v["pr_ngroups"]
        if n < 0:
            raise ValueError("PCSCREDX: negative pr_ngroups")
        groups = list(v.get("pr_groups", []))
        if n == 0 and not groups:
            groups = [0]  # the unused slot of the 0-group form
        if len(groups) != max(1, n):
            raise ValueError(f"PCSCREDX: pr_groups has {len(groups)} entries for pr_ngroups={n}")
        return head.pack(*(v[k] for k in names)) + _struct.pack(f"<{len(groups)}I", *groups)

    return dec, enc


def _priv(m: DataModel) -> tuple[_Decoder, _Encoder]:
    head = _struct.Struct("<3I")

    def dec(buf: bytes, off: int, end: int) -> tuple[Any, int]:
        # The kernel reads a whole prpriv_t (16 bytes) before it sizes the rest.
        if end - off < 16:
            raise _Truncated
        nsets, setsize, infosize = head.unpack_from(buf, off)
        words = nsets * setsize
        if words < 1:
            raise _Bad("PCSPRIV: no privilege set words")
        size = 12 + 4 * words + infosize
        if end - off < size:
            raise _Truncated
        sets = list(_struct.unpack_from(f"<{words}I", buf, off + 12))
        info = bytes(buf[off + 12 + 4 * words : off + size])
        return {
            "pr_nsets": nsets,
            "pr_setsize": setsize,
            "pr_infosize": infosize,
            "pr_sets": sets,
            "pr_info": info,
        }, size

    def enc(v: Any) -> bytes:
        words = v["pr_nsets"] * v["pr_setsize"]
        sets, info = list(v["pr_sets"]), bytes(v["pr_info"])
        if words < 1 or len(sets) != words:
            raise ValueError(f"PCSPRIV: {len(sets)} set words for {v['pr_nsets']} x {v['pr_setsize']}")
        if len(info) != v["pr_infosize"]:
            raise ValueError(f"PCSPRIV: pr_info is {len(info)} bytes, pr_infosize {v['pr_infosize']}")
        return head.pack(v["pr_nsets"], v["pr_setsize"], v["pr_infosize"]) + _struct.pack(f"<{words}I", *sets) + info

    return dec, enc


def _xreg(m: DataModel) -> tuple[_Decoder, _Encoder]:
    head = _struct.Struct("<Q" if m.lp64 else "<I")

    def dec(buf: bytes, off: int, end: int) -> tuple[Any, int]:
        if end - off < head.size:
            raise _Truncated
        (n,) = head.unpack_from(buf, off)
        size = head.size + n
        if end - off < size:
            raise _Truncated
        return bytes(buf[off + head.size : off + size]), size

    def enc(v: Any) -> bytes:
        b = bytes(v)
        return head.pack(len(b)) + b

    return dec, enc


def _specs(m: DataModel) -> dict[int, _Spec]:
    out: dict[int, _Spec] = {}
    for code, (kind, table) in _OPERAND_KINDS.items():
        if kind == _NONE:
            pair = _none()
        elif kind == _LONG:
            pair = _scalar("q" if m.lp64 else "i")
        elif kind == _ULONG:
            pair = _scalar("Q" if m.lp64 else "I")
        elif kind == _STRUCT:
            assert table is not None
            pair = _fixed_struct(table[m.name])
        elif kind == _CREDX:
            pair = _credx(m)
        elif kind == _PRIV:
            pair = _priv(m)
        else:
            pair = _xreg(m)
        out[code] = _Spec(kind, *pair)
    return out


_SPECS: dict[str, dict[int, _Spec]] = {name: _specs(m) for name, m in MODELS.items()}
_CODE_WORD: dict[str, _struct.Struct] = {"amd64": _struct.Struct("<q"), "i386": _struct.Struct("<i")}


def _model_name(model: ModelLike) -> str:
    name = model.name if isinstance(model, DataModel) else model
    if name not in MODELS:
        raise ValueError(f"unknown data model {model!r}")
    return name


def encode_ctl(model: ModelLike, messages: Sequence[Message]) -> bytes:
    """The bytes one write() of these messages consists of, for a writer of `model`.

    Raises ValueError for an unknown code or an operand that does not fit its code.
    """
    name = _model_name(model)
    specs, word = _SPECS[name], _CODE_WORD[name]
    align = MODELS[name].word
    lp64 = MODELS[name].lp64
    out = bytearray()
    last = len(messages) - 1
    for i, (code, operand) in enumerate(messages):
        spec = specs.get(code)
        if spec is None:
            raise ValueError(f"unknown /proc control code {code!r}")
        try:
            out += word.pack(code)
            out += spec.encode(operand)
        except (_struct.error, KeyError, TypeError) as e:
            raise ValueError(f"{CTL_NAMES.get(code, code)}: bad operand {operand!r}: {e}") from e
        # LP64: pad to 8 unless it is the last message; ILP32: always pad to 4.
        if i != last or not lp64:
            out += bytes(-len(out) % align)
    return bytes(out)


def decode_ctl(
    model: ModelLike, data: bytes | bytearray | memoryview, *, ngroups_max: int | None = None
) -> tuple[list[Message], CtlError | None]:
    """Split one write() into messages, as the kernel reads it for a writer of `model`.

    Returns every well-formed message in order up to the first one that cannot be taken whole,
    and `CtlError("EINVAL", offset, reason)` for that one (its start offset), or None when the
    whole write was consumed.  `ngroups_max`, when given, bounds PCSCREDX's pr_ngroups as the
    kernel's ngroups_max does.
    """
    name = _model_name(model)
    specs, word = _SPECS[name], _CODE_WORD[name]
    align = MODELS[name].word
    lp64 = MODELS[name].lp64
    buf = bytes(data) if not isinstance(data, bytes) else data
    n = len(buf)
    off = 0
    out: list[Message] = []
    while off < n:
        if n - off < word.size:
            return out, CtlError("EINVAL", off, "trailing bytes shorter than a command word")
        (code,) = word.unpack_from(buf, off)
        spec = specs.get(code)
        if spec is None:
            return out, CtlError("EINVAL", off, f"unknown command code {code}")
        body = off + word.size
        try:
            operand, size = spec.decode(buf, body, n)
        except _Truncated:
            return out, CtlError("EINVAL", off, f"{CTL_NAMES[code]}: truncated operand")
        except _Bad as e:
            return out, CtlError("EINVAL", off, str(e))
        if code == PCSCREDX and ngroups_max is not None and operand["pr_ngroups"] > ngroups_max:
            return out, CtlError("EINVAL", off, "PCSCREDX: pr_ngroups above ngroups_max")
        end = body + size
        if end < n or not lp64:
            end += -end % align
            if end > n:
                return out, CtlError("EINVAL", off, f"{CTL_NAMES[code]}: write ends inside its padding")
        out.append((code, operand))
        off = end
    return out, None


# -- operand builders: the set operands from their members ------------------------------------
# Solaris sets are 1-based (signal or fault n is bit n-1); sysset_t here is 0-based on host
# system-call numbers (ARCHITECTURE item 12).


def sigset(*signals: int) -> dict:
    """A sigset_t operand (PCSTRACE, PCSHOLD) holding these Solaris signals."""
    return {"__sigbits": sum(1 << (n - 1) for n in signals).to_bytes(16, "little")}


def fltset(*faults: int) -> dict:
    """A fltset_t operand (PCSFAULT) holding these faults."""
    m = sum(1 << (n - 1) for n in faults)
    return {"word": [(m >> (32 * i)) & 0xFFFFFFFF for i in range(4)]}


def sysset(*calls: int) -> dict:
    """A sysset_t operand (PCSENTRY, PCSEXIT) holding these host system-call numbers."""
    m = sum(1 << n for n in calls)
    return {"word": [(m >> (32 * i)) & 0xFFFFFFFF for i in range(16)]}
