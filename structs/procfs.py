"""The illumos (Solaris) /proc structures, as construct schemas for both data models.

What this module promises:

* Every structure that crosses the `native_proc` boundary (ARCHITECTURE, Decision 2) is laid out
  exactly as illumos `sys/procfs.h` and the headers it includes define it, for amd64 (LP64) and
  i386 (ILP32).  Each is written ONCE as a function of a `DataModel` and built for both; the
  result is a dict keyed by model name: ``LWPSTATUS["amd64"]``, ``LWPSTATUS["i386"]``.
  The documented size is asserted at import time (``struct(..., size=)``).
* Member names are the C names (``pr_flags``, ``pr_lwpid``, ``pr_reg`` ...); arrays keep the C
  array name (``pr_sysarg``, ``pr_filler``), ``char[]`` members are raw bytes.
* ``build(parse(b)) == b`` for any bytes of the right size (ARCHITECTURE "Settled after review"
  item 25): compiler padding is explicit (``_pad<offset>``), and unions are kept raw or as one
  arm that covers every byte of the union:

  - ``siginfo_t.__data`` is raw; the union's arms are separate *view* schemas over exactly
    those bytes (``SIGINFO_VIEWS[m]["fault"]`` ...), each as long as the union.
  - ``prfpregset_t.fp_reg_set`` is laid out as its ``fpchip_state`` arm (plus the union's
    remaining bytes on i386); the other arms are in ``PRFPREGSET_VIEWS``.
  - ``struct sigaction``'s ``_funcptr`` union is one pointer named ``sa_handler``;
    ``auxv_t.a_un`` is one word.
  - ``upad128_t`` (``{long double; uint32_t[4]}``) is 16 raw bytes, 16-aligned on amd64.
  - C members whose names start with ``__`` and are arrays (``sigset_t.__sigbits``,
    ``__fx_ign2``, the i386 fpchip ``__pad``) are raw bytes, because the fast codec treats
    every ``_``-named member as optional and accepts only scalars and bytes there.

The numbers these layouts are held to are in ``tests/data/solaris-layouts.json`` (from
``/work/shared/reference/solaris-proc-layouts.md``, measured from the illumos-gate headers named
there); ``tests/test_solaris_layouts.py`` checks every documented field.

Solaris typedefs are resolved per model as illumos does (reference, "Typedef resolution"):
``pid_t``/``id_t`` are ``int`` on amd64 and ``long`` on i386 (4 bytes both), ``dev_t`` is
``ulong_t``, ``greg_t`` is ``long``/``int``, ``offset_t`` is ``long long``.
"""

from __future__ import annotations

from construct import Bytes, Construct, Default, Struct

from .layout import MODELS, CType, DataModel, array, raw, struct
from .procfs_consts import PRARGSZ, PRCLSZ, PRFNSZ, PRMAPSZ, PRSYSARGS

__all__ = [
    # constants
    "PRCLSZ",
    "PRSYSARGS",
    "PRFNSZ",
    "PRARGSZ",
    "PRMAPSZ",
    "NPRGREG",
    "SI_MAXSZ",
    "SI_PAD",
    # schemas, each {"amd64": ..., "i386": ...}
    "UPAD128",
    "TIMESTRUC",
    "SIGSET",
    "FLTSET",
    "SYSSET",
    "STACK",
    "SIGACTION",
    "SIGINFO",
    "SIGINFO_VIEWS",
    "K_SIGINFO",
    "PRGREGSET",
    "PRFPREGSET",
    "PRFPREGSET_VIEWS",
    "LWPSTATUS",
    "PSTATUS",
    "PRWATCH",
    "PRCRED",
    "LWPSINFO",
    "PSINFO",
    "PRMAP",
    "PRXMAP",
    "PRUSAGE",
    "AUXV",
    "PRPRIV",
    "PRHEADER",
    "PRIOVEC",
    "SCHEMAS",
]

# procfs.h sizes (PRCLSZ ...) come from structs.procfs_consts; siginfo.h / mcontext.h ones:
NPRGREG: dict[str, int] = {"amd64": 28, "i386": 19}  # _NGREG
SI_MAXSZ: dict[str, int] = {"amd64": 256, "i386": 128}
# SI_PAD ints: SI_MAXSZ/sizeof(int) minus the header words (4 on LP64 with si_pad, 3 on ILP32).
SI_PAD: dict[str, int] = {"amd64": 256 // 4 - 4, "i386": 128 // 4 - 3}


def _both(fn) -> dict[str, Construct]:
    return {name: fn(m) for name, m in MODELS.items()}


def _tagged(ct: CType) -> Construct:
    """A CType's construct, carrying its C alignment so it can be a schema and a member."""
    ct.con.c_align = ct.align
    return ct.con


def _spare(n: int) -> CType:
    """Raw bytes that a view or union arm does not name; optional when building (zeros)."""
    return CType(Default(Bytes(n), bytes(n)), n, 1)


# ---- typedefs per model ---------------------------------------------------------------------


def _id_t(m: DataModel) -> CType:
    # id_t/pid_t: int under _LP64, long otherwise (4 bytes in both models).
    return m.int if m.lp64 else m.long


def _greg_t(m: DataModel) -> CType:
    return m.long if m.lp64 else m.int


def _upad128(m: DataModel) -> CType:
    # union { long double _q; uint32_t _l[4]; }: 16 bytes; long double is 16-aligned on amd64,
    # 4-aligned inside i386 structures.
    return raw(16, 16 if m.lp64 else 4)


UPAD128: dict[str, Construct] = _both(lambda m: _tagged(_upad128(m)))


# ---- small types ----------------------------------------------------------------------------


def _timestruc(m: DataModel) -> Struct:
    return struct(("tv_sec", m.long), ("tv_nsec", m.long), size=2 * m.word)


def _sigset(m: DataModel) -> Struct:
    # unsigned int __sigbits[4], kept as its 16 raw bytes: the fast codec (structs.codec) lets
    # any member whose name starts with "_" be left out when encoding and so only accepts
    # scalars and raw bytes under such names.  Read little-endian as one 128-bit integer, bit
    # N-1 is signal N (word (N-1)/32, bit (N-1)%32: the prfillset/praddset rule).
    return struct(("__sigbits", raw(16, 4)), size=16)


def _fltset(m: DataModel) -> Struct:
    return struct(("word", array(m.uint, 4)), size=16)


def _sysset(m: DataModel) -> Struct:
    return struct(("word", array(m.uint, 16)), size=64)


def _stack(m: DataModel) -> Struct:
    return struct(("ss_sp", m.ptr), ("ss_size", m.size_t), ("ss_flags", m.int), size=24 if m.lp64 else 12)


def _sigaction(m: DataModel) -> Struct:
    fields = [
        ("sa_flags", m.int),
        # union _funcptr { void (*_handler)(); void (*_sigaction)(int, siginfo_t *, void *); }:
        # both arms are one pointer, so the union is that pointer.
        ("sa_handler", m.ptr),
        ("sa_mask", _sigset(m)),
    ]
    if not m.lp64:
        fields.append(("sa_resv", array(m.int, 2)))  # only when _LP64 is not defined
    return struct(*fields, size=32)


TIMESTRUC: dict[str, Struct] = _both(_timestruc)
SIGSET: dict[str, Struct] = _both(_sigset)
FLTSET: dict[str, Struct] = _both(_fltset)
SYSSET: dict[str, Struct] = _both(_sysset)
STACK: dict[str, Struct] = _both(_stack)
SIGACTION: dict[str, Struct] = _both(_sigaction)


# ---- siginfo_t ------------------------------------------------------------------------------
#
# The union `__data` holds one of several shapes chosen by si_signo/si_code; what /proc passes
# through (pr_info, PCSSIG) must survive whatever a writer put there, so the union stays raw in
# SIGINFO and each arm is a view schema over exactly the union's bytes.


def _pdata_arms(m: DataModel) -> dict[str, list[tuple[str, CType]]]:
    """The two arms of __data.__proc.__pdata."""
    return {
        "kill": [("si_uid", m.uint), ("si_value", m.ptr)],  # union sigval {int; void *}: one word
        "cld": [("si_utime", m.long), ("si_status", m.int), ("si_stime", m.long)],  # clock_t = long
    }


def _pdata(m: DataModel, arm: str) -> Struct:
    """One arm of __pdata, padded to the size of the whole __pdata union."""
    arms = {k: struct(*v) for k, v in _pdata_arms(m).items()}
    size = max(s.sizeof() for s in arms.values())
    fields = list(_pdata_arms(m)[arm])
    tail = size - arms[arm].sizeof()
    if tail:
        fields.append(("_tail", _spare(tail)))
    return struct(*fields, size=size)


def _siginfo_arms(m: DataModel) -> dict[str, list[tuple[str, CType]]]:
    """Every arm of siginfo_t.__data except __pad, as field lists (offsets relative to __data)."""
    ptr, long_ = m.ptr, m.long
    proc_tail = [("si_ctid", _id_t(m)), ("si_zoneid", _id_t(m))]  # ctid_t, zoneid_t are id_t
    return {
        "kill": [("si_pid", _id_t(m)), ("pdata", _pdata(m, "kill")), *proc_tail],
        "cld": [("si_pid", _id_t(m)), ("pdata", _pdata(m, "cld")), *proc_tail],
        "fault": [("si_addr", ptr), ("si_trapno", m.int), ("si_pc", ptr)],
        "file": [("si_fd", m.int), ("si_band", long_)],
        "prof": [
            ("si_faddr", ptr),
            ("si_tstamp", _timestruc(m)),
            ("si_syscall", m.short),
            ("si_nsysarg", m.char),
            ("si_fault", m.char),
            ("si_sysarg", array(long_, 8)),
            ("si_mstate", array(m.int, 10)),
        ],
        "rctl": [("si_entity", m.int32)],
    }


def _siginfo_head(m: DataModel) -> list[tuple[str, CType]]:
    head = [("si_signo", m.int), ("si_code", m.int), ("si_errno", m.int)]
    if m.lp64:
        head.append(("si_pad", m.int))  # so that the union starts 8-aligned
    return head


def _siginfo_data_size(m: DataModel) -> int:
    return 4 * SI_PAD[m.name]  # __pad int[SI_PAD] is the largest arm by construction


def _siginfo(m: DataModel) -> Struct:
    return struct(
        *_siginfo_head(m),
        ("__data", raw(_siginfo_data_size(m), m.word)),  # union: pointers/longs set its alignment
        size=SI_MAXSZ[m.name],
    )


def _siginfo_view(m: DataModel, arm: str, size: int) -> Struct:
    fields = _siginfo_arms(m)[arm]
    used = struct(*fields).sizeof()
    if size > used:
        fields = [*fields, ("_rest", _spare(size - used))]
    return struct(*fields, size=size)


def _k_siginfo(m: DataModel) -> Struct:
    # Kernel-internal k_siginfo_t: no __pad arm and __prof cut after __fault, so the union is as
    # large as its largest remaining arm.  Never crosses /proc; kept so its documented size is
    # checked and nobody mistakes it for siginfo_t.
    arms = dict(_siginfo_arms(m))
    prof = arms.pop("prof")
    arms["prof"] = prof[: [n for n, _ in prof].index("si_fault") + 1]
    size = max(struct(*f).sizeof() for f in arms.values())
    return struct(*_siginfo_head(m), ("__data", raw(size, m.word)), size=56 if m.lp64 else 36)


SIGINFO: dict[str, Struct] = _both(_siginfo)
SIGINFO_VIEWS: dict[str, dict[str, Struct]] = {
    name: {arm: _siginfo_view(m, arm, _siginfo_data_size(m)) for arm in _siginfo_arms(m)}
    for name, m in MODELS.items()
}
K_SIGINFO: dict[str, Struct] = _both(_k_siginfo)


# ---- registers ------------------------------------------------------------------------------


def _prgregset(m: DataModel) -> CType:
    # greg_t[NPRGREG], indexed by the illumos REG_* numbers (see the reference's index tables).
    return array(_greg_t(m), NPRGREG[m.name])


def _fpchip_state(m: DataModel) -> Struct:
    up = _upad128(m)
    if m.lp64:
        # struct fpchip_state: the fxsave image (512 bytes), then status and xstatus.  It holds
        # upad128_t members, so it is 16-aligned and 528 bytes long (8 bytes of tail padding).
        return struct(
            ("cw", m.uint16),
            ("sw", m.uint16),
            ("fctw", m.uint8),
            ("__fx_rsvd", m.uint8),
            ("fop", m.uint16),
            ("rip", m.uint64),
            ("rdp", m.uint64),
            ("mxcsr", m.uint32),
            ("mxcsr_mask", m.uint32),
            ("st", array(up, 8)),  # union { uint16_t fpr_16[5]; upad128_t __fpr_pad; }: 16 raw bytes
            ("xmm", array(up, 16)),
            ("__fx_ign2", raw(96, up.align)),  # upad128_t[6], ignored by fxsave: raw
            ("status", m.uint32),
            ("xstatus", m.uint32),
            size=528,
        )
    # i386: the x87 fnsave image, then the SSE words.
    return struct(
        ("state", array(m.uint32, 27)),
        ("status", m.uint32),
        ("mxcsr", m.uint32),
        ("xstatus", m.uint32),
        ("__pad", raw(8, 4)),  # uint32_t __pad[2]: raw (see _sigset on "_" names)
        ("xmm", array(up, 8)),
        size=256,
    )


def _fp_reg_set_size(m: DataModel) -> int:
    # union fp_reg_set: amd64 {fpchip_state; uint32_t f_fpregs[130]} = 528 (16-aligned);
    # i386 {fpchip_state; fp_emul_space; uint32_t f_fpregs[95]} = 380.
    return 528 if m.lp64 else 380


def _fp_reg_set(m: DataModel) -> Struct:
    """The union laid out as its fpchip_state arm, plus the bytes of the union beyond it."""
    chip = _fpchip_state(m)
    size = _fp_reg_set_size(m)
    fields: list[tuple[str, CType | Struct]] = [("fpchip_state", chip)]
    if size > chip.sizeof():
        fields.append(("_union_rest", _spare(size - chip.sizeof())))
    return struct(*fields, size=size)


def _prfpregset(m: DataModel) -> Struct:
    return struct(("fp_reg_set", _fp_reg_set(m)), size=528 if m.lp64 else 380)


def _fp_views(m: DataModel) -> dict[str, Struct]:
    """The arms of fp_reg_set, each over exactly the union's bytes (offset 0 of prfpregset_t)."""
    size = _fp_reg_set_size(m)

    def view(*fields: tuple[str, CType | Struct]) -> Struct:
        used = struct(*fields).sizeof()
        if size > used:
            fields = (*fields, ("_rest", _spare(size - used)))
        return struct(*fields, size=size)

    views = {
        "fpchip_state": _fp_reg_set(m),
        "f_fpregs": view(("f_fpregs", array(m.uint32, 130 if m.lp64 else 95))),
    }
    if not m.lp64:
        views["fp_emul_space"] = view(("fp_emul", raw(246)), ("fp_epad", raw(2)))
    return views


PRGREGSET: dict[str, Construct] = _both(lambda m: _tagged(_prgregset(m)))
PRFPREGSET: dict[str, Struct] = _both(_prfpregset)
PRFPREGSET_VIEWS: dict[str, dict[str, Struct]] = {name: _fp_views(m) for name, m in MODELS.items()}


# ---- status and info files ------------------------------------------------------------------


def _lwpstatus(m: DataModel) -> Struct:
    ts = _timestruc(m)
    return struct(
        ("pr_flags", m.int),
        ("pr_lwpid", _id_t(m)),
        ("pr_why", m.short),
        ("pr_what", m.short),
        ("pr_cursig", m.short),
        ("pr_pad1", m.short),
        ("pr_info", _siginfo(m)),
        ("pr_lwppend", _sigset(m)),
        ("pr_lwphold", _sigset(m)),
        ("pr_action", _sigaction(m)),
        ("pr_altstack", _stack(m)),
        ("pr_oldcontext", m.ptr),
        ("pr_syscall", m.short),
        ("pr_nsysarg", m.short),
        ("pr_errno", m.int),
        ("pr_sysarg", array(m.long, PRSYSARGS)),
        ("pr_rval1", m.long),
        ("pr_rval2", m.long),
        ("pr_clname", raw(PRCLSZ)),
        ("pr_tstamp", ts),
        ("pr_utime", ts),
        ("pr_stime", ts),
        # int pr_filler[11 - 2 * sizeof (timestruc_t) / sizeof (int)]
        ("pr_filler", array(m.int, 11 - 2 * ts.sizeof() // 4)),
        ("pr_errpriv", m.int),
        ("pr_ustack", m.ptr),
        ("pr_instr", m.ulong),
        ("pr_reg", _prgregset(m)),
        ("pr_fpreg", _prfpregset(m)),  # 16-aligned on amd64
        size=1296 if m.lp64 else 800,
    )


def _pstatus(m: DataModel) -> Struct:
    ts = _timestruc(m)
    idt = _id_t(m)
    return struct(
        ("pr_flags", m.int),
        ("pr_nlwp", m.int),
        ("pr_pid", idt),
        ("pr_ppid", idt),
        ("pr_pgid", idt),
        ("pr_sid", idt),
        ("pr_aslwpid", idt),
        ("pr_agentid", idt),
        ("pr_sigpend", _sigset(m)),
        ("pr_brkbase", m.ptr),
        ("pr_brksize", m.size_t),
        ("pr_stkbase", m.ptr),
        ("pr_stksize", m.size_t),
        ("pr_utime", ts),
        ("pr_stime", ts),
        ("pr_cutime", ts),
        ("pr_cstime", ts),
        ("pr_sigtrace", _sigset(m)),
        ("pr_flttrace", _fltset(m)),
        ("pr_sysentry", _sysset(m)),
        ("pr_sysexit", _sysset(m)),
        ("pr_dmodel", m.char),
        ("pr_pad", raw(3)),
        ("pr_taskid", idt),
        ("pr_projid", idt),
        ("pr_nzomb", m.int),
        ("pr_zoneid", idt),
        ("pr_filler", array(m.int, 15)),
        ("pr_lwp", _lwpstatus(m)),
        size=1680 if m.lp64 else 1136,
    )


def _prwatch(m: DataModel) -> Struct:
    return struct(
        ("pr_vaddr", m.ptr),
        ("pr_size", m.size_t),
        ("pr_wflags", m.int),
        ("pr_pad", m.int),
        size=24 if m.lp64 else 16,
    )


def _prcred(m: DataModel) -> Struct:
    # Declared with pr_groups[1]; a cred file holds pr_ngroups gids from pr_groups on (see ctl's
    # PCSCREDX for the variable form).
    return struct(
        ("pr_euid", m.uint),
        ("pr_ruid", m.uint),
        ("pr_suid", m.uint),
        ("pr_egid", m.uint),
        ("pr_rgid", m.uint),
        ("pr_sgid", m.uint),
        ("pr_ngroups", m.int),
        ("pr_groups", array(m.uint, 1)),
        size=32,
    )


def _lwpsinfo(m: DataModel) -> Struct:
    ts = _timestruc(m)
    return struct(
        ("pr_flag", m.int),
        ("pr_lwpid", _id_t(m)),
        ("pr_addr", m.ptr),
        ("pr_wchan", m.ptr),
        ("pr_stype", m.char),
        ("pr_state", m.char),
        ("pr_sname", m.char),
        ("pr_nice", m.char),
        ("pr_syscall", m.short),
        ("pr_oldpri", m.char),
        ("pr_cpu", m.char),
        ("pr_pri", m.int),
        ("pr_pctcpu", m.ushort),
        ("pr_pad", m.ushort),
        ("pr_start", ts),
        ("pr_time", ts),
        ("pr_clname", raw(PRCLSZ)),
        ("pr_name", raw(PRFNSZ)),
        ("pr_onpro", m.int),  # processorid_t
        ("pr_bindpro", m.int),  # processorid_t
        ("pr_bindpset", m.int),  # psetid_t
        ("pr_lgrp", m.int),
        ("pr_filler", array(m.int, 4)),
        size=128 if m.lp64 else 104,
    )


def _psinfo(m: DataModel) -> Struct:
    ts = _timestruc(m)
    idt = _id_t(m)
    return struct(
        ("pr_flag", m.int),
        ("pr_nlwp", m.int),
        ("pr_pid", idt),
        ("pr_ppid", idt),
        ("pr_pgid", idt),
        ("pr_sid", idt),
        ("pr_uid", m.uint),
        ("pr_euid", m.uint),
        ("pr_gid", m.uint),
        ("pr_egid", m.uint),
        ("pr_addr", m.ptr),
        ("pr_size", m.size_t),
        ("pr_rssize", m.size_t),
        ("pr_pad1", m.size_t),
        ("pr_ttydev", m.ulong),  # dev_t
        ("pr_pctcpu", m.ushort),
        ("pr_pctmem", m.ushort),
        ("pr_start", ts),
        ("pr_time", ts),
        ("pr_ctime", ts),
        ("pr_fname", raw(PRFNSZ)),
        ("pr_psargs", raw(PRARGSZ)),
        ("pr_wstat", m.int),
        ("pr_argc", m.int),
        ("pr_argv", m.ptr),
        ("pr_envp", m.ptr),
        ("pr_dmodel", m.char),
        ("pr_pad2", raw(3)),
        ("pr_taskid", idt),
        ("pr_projid", idt),
        ("pr_nzomb", m.int),
        ("pr_poolid", idt),
        ("pr_zoneid", idt),
        ("pr_contract", idt),  # ctid_t
        ("pr_filler", array(m.int, 1)),
        ("pr_lwp", _lwpsinfo(m)),
        size=416 if m.lp64 else 336,
    )


def _prmap(m: DataModel) -> Struct:
    return struct(
        ("pr_vaddr", m.ptr),
        ("pr_size", m.size_t),
        ("pr_mapname", raw(PRMAPSZ)),
        ("pr_offset", m.llong),  # offset_t
        ("pr_mflags", m.int),
        ("pr_pagesize", m.int),
        ("pr_shmid", m.int),
        ("pr_filler", array(m.int, 1)),
        size=104 if m.lp64 else 96,
    )



def _prxmap(m: DataModel) -> Struct:
    # /proc/<pid>/xmap: prmap_t's head, then the HAT view (device, inode, page counts).
    # dev_t is ulong_t (PRNODEV when the mapping has no object); pr_filler is ulong_t[7]
    # under _LP64 and [6] under _ILP32, which keeps both sizes a multiple of 8.
    return struct(
        ("pr_vaddr", m.ptr),
        ("pr_size", m.size_t),
        ("pr_mapname", raw(PRMAPSZ)),
        ("pr_offset", m.llong),  # offset_t
        ("pr_mflags", m.int),
        ("pr_pagesize", m.int),
        ("pr_shmid", m.int),
        ("pr_dev", m.ulong),
        ("pr_ino", m.uint64),
        ("pr_rss", m.size_t),
        ("pr_anon", m.size_t),
        ("pr_locked", m.size_t),
        ("pr_pad", m.size_t),
        ("pr_hatpagesize", m.uint64),
        ("pr_filler", array(m.ulong, 7 if m.lp64 else 6)),
        size=216 if m.lp64 else 152,
    )

def _prusage(m: DataModel) -> Struct:
    ts = _timestruc(m)
    times = [
        "pr_tstamp", "pr_create", "pr_term", "pr_rtime", "pr_utime", "pr_stime", "pr_ttime",
        "pr_tftime", "pr_dftime", "pr_kftime", "pr_ltime", "pr_slptime", "pr_wtime", "pr_stoptime",
    ]  # fmt: skip
    counts = [
        "pr_minf", "pr_majf", "pr_nswap", "pr_inblk", "pr_oublk", "pr_msnd", "pr_mrcv",
        "pr_sigs", "pr_vctx", "pr_ictx", "pr_sysc", "pr_ioch",
    ]  # fmt: skip
    return struct(
        ("pr_lwpid", _id_t(m)),
        ("pr_count", m.int),
        *[(n, ts) for n in times],
        ("filltime", array(ts, 6)),
        *[(n, m.ulong) for n in counts],
        ("filler", array(m.ulong, 10)),
        size=504 if m.lp64 else 256,
    )


def _auxv(m: DataModel) -> Struct:
    # union a_un { long a_val; void *a_ptr; void (*a_fcn)(); }: one word, read unsigned because
    # most entries are addresses.
    return struct(("a_type", m.int), ("a_un", m.ulong), size=16 if m.lp64 else 8)


def _prpriv(m: DataModel) -> Struct:
    # The fixed header; pr_sets[1] opens pr_nsets * pr_setsize priv_chunk_t words, then
    # pr_infosize bytes of supplementary information (see ctl's PCSPRIV).
    return struct(
        ("pr_nsets", m.uint32),
        ("pr_setsize", m.uint32),
        ("pr_infosize", m.uint32),
        ("pr_sets", array(m.uint32, 1)),  # priv_chunk_t
        size=16,
    )


def _prheader(m: DataModel) -> Struct:
    return struct(("pr_nent", m.long), ("pr_entsize", m.long), size=2 * m.word)


def _priovec(m: DataModel) -> Struct:
    # PCREAD/PCWRITE operand {void *pio_base; size_t pio_len; off_t pio_offset}; off_t is long.
    return struct(("pio_base", m.ptr), ("pio_len", m.size_t), ("pio_offset", m.long), size=3 * m.word)


LWPSTATUS: dict[str, Struct] = _both(_lwpstatus)
PSTATUS: dict[str, Struct] = _both(_pstatus)
PRWATCH: dict[str, Struct] = _both(_prwatch)
PRCRED: dict[str, Struct] = _both(_prcred)
LWPSINFO: dict[str, Struct] = _both(_lwpsinfo)
PSINFO: dict[str, Struct] = _both(_psinfo)
PRMAP: dict[str, Struct] = _both(_prmap)
PRXMAP: dict[str, Struct] = _both(_prxmap)
PRUSAGE: dict[str, Struct] = _both(_prusage)
AUXV: dict[str, Struct] = _both(_auxv)
PRPRIV: dict[str, Struct] = _both(_prpriv)
PRHEADER: dict[str, Struct] = _both(_prheader)
PRIOVEC: dict[str, Struct] = _both(_priovec)

# C type name -> schema per model: every top-level schema of this module, for tests and tools.
SCHEMAS: dict[str, dict[str, Construct]] = {
    "upad128_t": UPAD128,
    "timestruc_t": TIMESTRUC,
    "sigset_t": SIGSET,
    "fltset_t": FLTSET,
    "sysset_t": SYSSET,
    "stack_t": STACK,
    "struct sigaction": SIGACTION,
    "siginfo_t": SIGINFO,
    "k_siginfo_t": K_SIGINFO,
    "prgregset_t": PRGREGSET,
    "prfpregset_t": PRFPREGSET,
    "lwpstatus_t": LWPSTATUS,
    "pstatus_t": PSTATUS,
    "prwatch_t": PRWATCH,
    "prcred_t": PRCRED,
    "lwpsinfo_t": LWPSINFO,
    "psinfo_t": PSINFO,
    "prmap_t": PRMAP,
    "prxmap_t": PRXMAP,
    "prusage_t": PRUSAGE,
    "auxv_t": AUXV,
    "prpriv_t": PRPRIV,
    "prheader_t": PRHEADER,
    "priovec_t": PRIOVEC,
}
