"""Status files: lwpstatus_t, pstatus_t and the rest, built from procd's state in the reader's
data model, and Linux siginfo translated into Solaris siginfo_t."""

from __future__ import annotations

import errno
import struct
import time
from typing import Any

from structs import linux_siginfo as L
from structs import procfs as S
from structs.codec import codec
from structs.fields import memberof
from structs.procfs_consts import PR_FLAGS, PR_MODEL_ILP32, PR_WHY
from structs.syscall_args import ARG_REGS, nargs
from structs.syscalls import syscall_name
from structs.signals import LINUX_TO_SOLARIS_SI_GENERIC, LTOS

from . import gregs, procinfo, tracing
from .lwp import Lwp, Proc

_LSI = codec(L.SIGINFO["amd64"])
_LRT = codec(L.SIGINFO_VIEWS["amd64"]["rt"])
_LCHLD = codec(L.SIGINFO_VIEWS["amd64"]["sigchld"])
_LPOLL = codec(L.SIGINFO_VIEWS["amd64"]["sigpoll"])
_LFAULT = codec(L.SIGINFO_VIEWS["amd64"]["sigfault"])
_SIGCHLD, _SIGPOLL = 17, 29
_NSIGCHLD = _NSIGPOLL = 6  # CLD_EXITED..CLD_CONTINUED, POLL_IN..POLL_HUP
_SIGTRAP = 5
_FAULT_SIGNALS = frozenset({4, 5, 7, 8, 11})  # SIGILL SIGTRAP SIGBUS SIGFPE SIGSEGV (Linux)
_SI_KERNEL = 0x80
_TRAP_BRKPT = 1
# Plain ints: flag-enum arithmetic costs microseconds on the per-stop path.
_STOPPED, _ISTOP, _DSTOP = int(PR_FLAGS.PR_STOPPED), int(PR_FLAGS.PR_ISTOP), int(PR_FLAGS.PR_DSTOP)
_STEP, _PCINVAL, _ASLEEP = int(PR_FLAGS.PR_STEP), int(PR_FLAGS.PR_PCINVAL), int(PR_FLAGS.PR_ASLEEP)
_MODE_MASK = 0x0FF00000


def solaris_siginfo(linux_info: bytes, model: str = "amd64", fault: int | None = None) -> bytes:
    """A Solaris siginfo_t (in `model`'s layout) for a Linux siginfo_t (amd64 host layout).

    What the two share is kept: the sender's pid, uid and sigqueue value of a generic code, the
    fault address of a fault signal, pid/status/times of SIGCHLD, fd/band of SIGPOLL."""
    li = _LSI.decode(linux_info)
    lsig, code = li["si_signo"], li["si_code"]
    ssig = LTOS[lsig] if 0 < lsig < len(LTOS) else 0
    si = codec(S.SIGINFO[model])
    out = si.decode(bytes(si.size))
    out["si_signo"], out["si_errno"] = ssig, li["si_errno"]
    if code <= 0:
        out["si_code"] = LINUX_TO_SOLARIS_SI_GENERIC.get(code, code)
        view = codec(S.SIGINFO_VIEWS[model]["kill"])
        k = view.decode(bytes(view.size))
        lk = _LRT.decode(li["_sifields"])
        k["si_pid"], k["pdata"]["si_uid"] = lk["si_pid"], lk["si_uid"]
        # sigqueue()'s value (SI_QUEUE, SI_TIMER, SI_MESGQ: Linux keeps it at the same place in
        # every generic arm; 0 for a plain kill).
        k["pdata"]["si_value"] = lk["si_sigval"] & ((1 << (8 * _word(model))) - 1)
        out["__data"] = view.encode(k)
    elif lsig in _FAULT_SIGNALS:
        # int3 reports SI_KERNEL on Linux; Solaris calls a breakpoint TRAP_BRKPT.
        out["si_code"] = _TRAP_BRKPT if (lsig == _SIGTRAP and code == _SI_KERNEL) else code
        view = codec(S.SIGINFO_VIEWS[model]["fault"])
        f = view.decode(bytes(view.size))
        f["si_addr"] = _LFAULT.decode(li["_sifields"])["si_addr"] & ((1 << (8 * _word(model))) - 1)
        f["si_trapno"] = fault or 0
        out["__data"] = view.encode(f)
    elif lsig == _SIGCHLD and code <= _NSIGCHLD:
        out["si_code"] = code  # CLD_* have the same values on both systems
        view = codec(S.SIGINFO_VIEWS[model]["cld"])
        c = view.decode(bytes(view.size))
        lc = _LCHLD.decode(li["_sifields"])
        c["si_pid"] = lc["si_pid"]
        c["pdata"]["si_status"] = lc["si_status"]
        c["pdata"]["si_utime"] = _wrap(lc["si_utime"], model)
        c["pdata"]["si_stime"] = _wrap(lc["si_stime"], model)
        out["__data"] = view.encode(c)
    elif lsig == _SIGPOLL and code <= _NSIGPOLL:
        out["si_code"] = code  # POLL_* have the same values on both systems
        view = codec(S.SIGINFO_VIEWS[model]["file"])
        f = view.decode(bytes(view.size))
        lp = _LPOLL.decode(li["_sifields"])
        f["si_fd"], f["si_band"] = lp["si_fd"], _wrap(lp["si_band"], model)
        out["__data"] = view.encode(f)
    else:
        out["si_code"] = code
    return si.encode(out)


def _word(model: str) -> int:
    return 8 if model == "amd64" else 4


def _set_bits(mask: int, nbytes: int) -> dict:
    return {"__sigbits": mask.to_bytes(nbytes, "little")}


def _sysset(mask: int) -> dict:
    return {"word": [(mask >> (32 * i)) & 0xFFFFFFFF for i in range(16)]}


def _fltset(mask: int) -> dict:
    return {"word": [(mask >> (32 * i)) & 0xFFFFFFFF for i in range(4)]}


def lwp_flags(lwp: Lwp) -> int:
    f = 0
    if lwp.why:
        f |= _STOPPED
        if lwp.istop:
            f |= _ISTOP
    if lwp.dstop and not lwp.istop:
        f |= _DSTOP
    if lwp.step:
        f |= _STEP
    if not lwp.why:
        f |= _PCINVAL
    return f | (lwp.proc.flags & _MODE_MASK)


def encode_lwpstatus(st: dict[str, Any], model: str) -> bytes:
    return codec(S.LWPSTATUS[model]).encode(st)


def lwpstatus(lwp: Lwp, model: str, sets: bool = True) -> dict[str, Any]:
    """The lwpstatus_t of an LWP as a dict for `model`'s codec.

    `sets=False` leaves the pending and held signal sets empty (a published snapshot: readers
    fill them from the host themselves, as they change without procd seeing it)."""
    c = codec(S.LWPSTATUS[model])
    st = c.decode(bytes(c.size))
    st["pr_flags"] = lwp_flags(lwp)
    st["pr_lwpid"] = lwp.lwpid
    st["pr_why"], st["pr_what"] = lwp.why, lwp.what
    st["pr_cursig"] = lwp.cursig
    if lwp.why == PR_WHY.PR_FAULTED and lwp.faultinfo:
        st["pr_info"] = codec(S.SIGINFO[model]).decode(_rewidth(lwp.faultinfo, model))
    elif lwp.curinfo:
        st["pr_info"] = codec(S.SIGINFO[model]).decode(_rewidth(lwp.curinfo, model))
    st["pr_clname"] = b"TS"
    now = time.time()
    st["pr_tstamp"] = {"tv_sec": int(now), "tv_nsec": int(now % 1 * 1e9)}
    if sets:
        try:
            ss = procinfo.sigsets(lwp.proc.pid, lwp.tid)
            st["pr_lwppend"] = {"__sigbits": ss["lwppend"]}
            st["pr_lwphold"] = {"__sigbits": ss["hold"]}
        except OSError:
            pass
    if lwp.hstop is not None and not lwp.listening:
        regs = tracing.getregs(lwp)
        g = gregs.to_gregs(regs)
        st["pr_reg"] = g if model == "amd64" else gregs.narrow_i386(g)
        if model == "amd64":
            # pr_fpreg's fpchip_state is the fxsave image Linux gives; status/xstatus stay 0.
            fp = codec(S.PRFPREGSET["amd64"])
            st["pr_fpreg"] = fp.decode(tracing.getfpregs(lwp) + bytes(fp.size - 512))
        insys, nr = tracing.in_syscall_regs(regs)
        # orig_rax -1 means "not inside a call" even at a syscall stop (a skipped call, or
        # rt_sigreturn's exit after the restored context reset it): pr_nsysarg stays 0 then.
        if insys:
            st["pr_syscall"] = nr
            # pr_nsysarg > 0 says "inside a system call" even for read (host number 0); the
            # count is the call's own (pflags prints that many), never less than 1.
            abi = "i386" if lwp.proc.dmodel == PR_MODEL_ILP32 else "amd64"
            st["pr_nsysarg"] = max(1, nargs(syscall_name(abi, nr)))
            args = _ARG_STRUCT[abi].unpack_from(regs, 0)
            st["pr_sysarg"] = [_wrap(a, model) for a in args] + [0, 0]
        if lwp.why == PR_WHY.PR_SYSEXIT:
            if lwp.is_error:
                st["pr_errno"] = -lwp.rval
            else:
                st["pr_rval1"] = _wrap(lwp.rval, model)
        elif lwp.why == PR_WHY.PR_BRAND:
            st["pr_rval1"] = _wrap(lwp.rval, model)  # the Linux event message (PCXSTOPFOROPT)
        st["pr_flags"] &= ~_PCINVAL
    elif lwp.hstop is None:
        _asleep(lwp, st, model)
    return st


# The amd64 lwpstatus_t as a precomputed layout: a zero image with the constant fields set, and
# the offsets and formats of the fields a stop changes.  The per-stop snapshot is this image
# with those fields packed in (no dict, no codec): issue 14.  `lwpstatus` (the dict) stays the
# description; tests check the two give the same bytes.
_L64 = S.LWPSTATUS["amd64"]
_L64_SIZE = _L64.sizeof()
_HEAD = struct.Struct("<iihhh")  # pr_flags, pr_lwpid, pr_why, pr_what, pr_cursig
_O_INFO, _N_INFO = memberof(_L64, "pr_info")
_O_PEND, _N_SET = memberof(_L64, "pr_lwppend")
_O_HOLD = memberof(_L64, "pr_lwphold")[0]
_O_SYSCALL = memberof(_L64, "pr_syscall")[0]
_SYSCALL = struct.Struct("<hhi")  # pr_syscall, pr_nsysarg, pr_errno (adjacent)
_O_SYSARG = memberof(_L64, "pr_sysarg")[0]
_SYSARG = struct.Struct("<8q")
_O_RVAL1 = memberof(_L64, "pr_rval1")[0]
_Q = struct.Struct("<q")
_O_TSTAMP = memberof(_L64, "pr_tstamp")[0]
_TSTAMP = struct.Struct("<qq")
_O_REG = memberof(_L64, "pr_reg")[0]
_REG = struct.Struct("<%dq" % gregs.NGREG)
_O_FPREG = memberof(_L64, "pr_fpreg")[0]
_IMAGE = bytearray(_L64_SIZE)
_IMAGE[memberof(_L64, "pr_clname")[0]:memberof(_L64, "pr_clname")[0] + 2] = b"TS"
_IMAGE = bytes(_IMAGE)


def lwpstatus_amd64(lwp: Lwp, sets: bool = True, fp: bool = True) -> bytearray:
    """The amd64 lwpstatus_t bytes of an LWP, the same as encoding `lwpstatus(lwp, "amd64",
    sets)`, built by packing the fields that vary into a precomputed image.  `fp=False` leaves
    pr_fpreg zero (the FP state costs a host request: a snapshot is published without it and
    a reader that wants it asks procd)."""
    out = bytearray(_IMAGE)
    flags = lwp_flags(lwp)
    why = lwp.why
    info = lwp.faultinfo if why == PR_WHY.PR_FAULTED and lwp.faultinfo else lwp.curinfo
    if info:
        out[_O_INFO:_O_INFO + _N_INFO] = info[:_N_INFO].ljust(_N_INFO, b"\0")
    now = time.time()
    _TSTAMP.pack_into(out, _O_TSTAMP, int(now), int(now % 1 * 1e9))
    if sets:
        try:
            ss = procinfo.sigsets(lwp.proc.pid, lwp.tid)
            out[_O_PEND:_O_PEND + _N_SET] = ss["lwppend"]
            out[_O_HOLD:_O_HOLD + _N_SET] = ss["hold"]
        except OSError:
            pass
    if lwp.hstop is not None and not lwp.listening:
        regs = tracing.getregs(lwp)
        _REG.pack_into(out, _O_REG, *gregs.to_gregs(regs))
        if fp:
            out[_O_FPREG:_O_FPREG + 512] = tracing.getfpregs(lwp)
        insys, nr = tracing.in_syscall_regs(regs)
        err = 0
        if why == PR_WHY.PR_SYSEXIT:
            if lwp.is_error:
                err = -lwp.rval
            else:
                _Q.pack_into(out, _O_RVAL1, _wrap(lwp.rval, "amd64"))
        elif why == PR_WHY.PR_BRAND:
            _Q.pack_into(out, _O_RVAL1, _wrap(lwp.rval, "amd64"))
        if insys:
            abi = "i386" if lwp.proc.dmodel == PR_MODEL_ILP32 else "amd64"
            _SYSCALL.pack_into(out, _O_SYSCALL, nr, max(1, nargs(syscall_name(abi, nr))), err)
            _SYSARG.pack_into(out, _O_SYSARG, *[_wrap(a, "amd64") for a in _ARG_STRUCT[abi].unpack_from(regs, 0)],
                              0, 0)
        elif err:
            _SYSCALL.pack_into(out, _O_SYSCALL, 0, 0, err)
        flags &= ~_PCINVAL
    elif lwp.hstop is None:
        asleep = _asleep_call(lwp)
        if asleep is not None:
            flags |= _ASLEEP
            nr, n, args = asleep
            _SYSCALL.pack_into(out, _O_SYSCALL, nr, n, 0)
            _SYSARG.pack_into(out, _O_SYSARG, *[_wrap(a, "amd64") for a in args], 0, 0)
    _HEAD.pack_into(out, 0, flags, lwp.lwpid, why, lwp.what, lwp.cursig)
    return out


# The six argument registers of each ABI as offsets in the host's user_regs_struct.
_REG_OFF = {"rdi": 112, "rsi": 104, "rdx": 96, "r10": 56, "r8": 72, "r9": 64, "rbx": 40, "rcx": 88, "rbp": 32}


class _ArgRegs:
    """unpack_from(regs, 0) -> the six argument registers of one ABI (ARG_REGS)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.offs = [_REG_OFF[n] for n in names]

    def unpack_from(self, regs: bytes, _base: int = 0) -> tuple[int, ...]:
        return tuple(int.from_bytes(regs[o:o + 8], "little") for o in self.offs)


_ARG_STRUCT = {abi: _ArgRegs(names) for abi, names in ARG_REGS.items()}


def _asleep_call(lwp: Lwp) -> tuple[int, int, list[int]] | None:
    """(call number, pr_nsysarg, six arguments) of a running LWP that sleeps in a system call,
    as the host's /proc/<pid>/task/<tid>/syscall shows it; None when it is on a CPU or the host
    refuses the read."""
    try:
        with open(f"/proc/{lwp.proc.pid}/task/{lwp.tid}/syscall", "rb") as f:
            fields = f.read(512).split()
        nr = int(fields[0])
    except (OSError, ValueError, IndexError):
        return None
    if nr < 0 or len(fields) < 7:
        return None
    abi = "i386" if lwp.proc.dmodel == PR_MODEL_ILP32 else "amd64"
    return nr, max(1, nargs(syscall_name(abi, nr))), [int(a, 16) for a in fields[1:7]]


def _asleep(lwp: Lwp, st: dict[str, Any], model: str) -> None:
    """A running LWP that sleeps in a system call: PR_ASLEEP, the call and its arguments."""
    got = _asleep_call(lwp)
    if got is None:
        return
    nr, n, args = got
    st["pr_flags"] |= _ASLEEP
    st["pr_syscall"] = nr
    st["pr_nsysarg"] = n
    st["pr_sysarg"] = [_wrap(a, model) for a in args] + [0, 0]


def _wrap(v: int, model: str) -> int:
    bits = 8 * _word(model)
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def widen_siginfo(info: bytes) -> bytes:
    """An i386 Solaris siginfo_t (from a 32-bit writer) in the amd64 layout procd keeps."""
    a = codec(S.SIGINFO["i386"]).decode(info)
    out_c = codec(S.SIGINFO["amd64"])
    out = out_c.decode(bytes(out_c.size))
    out["si_signo"], out["si_code"], out["si_errno"] = a["si_signo"], a["si_code"], a["si_errno"]
    ki, ka = codec(S.SIGINFO_VIEWS["i386"]["kill"]), codec(S.SIGINFO_VIEWS["amd64"]["kill"])
    k = ki.decode(a["__data"])
    w = ka.decode(bytes(ka.size))
    w["si_pid"], w["pdata"]["si_uid"] = k["si_pid"], k["pdata"]["si_uid"]
    out["__data"] = ka.encode(w)
    return out_c.encode(out)


def _rewidth(info: bytes, model: str) -> bytes:
    """procd keeps siginfo in the amd64 layout; an ILP32 reader gets the i386 one."""
    if model == "amd64":
        return info
    a = codec(S.SIGINFO["amd64"]).decode(info)
    fa = codec(S.SIGINFO_VIEWS["amd64"]["fault"]).decode(a["__data"])
    ci = codec(S.SIGINFO["i386"])
    out = ci.decode(bytes(ci.size))
    out["si_signo"], out["si_code"], out["si_errno"] = a["si_signo"], a["si_code"], a["si_errno"]
    vi = codec(S.SIGINFO_VIEWS["i386"]["fault"])
    f = vi.decode(bytes(vi.size))
    f["si_addr"], f["si_trapno"], f["si_pc"] = fa["si_addr"] & 0xFFFFFFFF, fa["si_trapno"], fa["si_pc"] & 0xFFFFFFFF
    out["__data"] = vi.encode(f)
    return ci.encode(out)


def representative(proc: Proc) -> Lwp | None:
    """prchoose: an LWP showing an event of interest first, then a requested stop, then any."""
    lwps = list(proc.lwps.values())
    if not lwps:
        return None
    for lwp in lwps:
        if lwp.istop and lwp.why != PR_WHY.PR_REQUESTED:
            return lwp
    for lwp in lwps:
        if not lwp.why:
            return lwp  # a running LWP makes the process read as running
    return lwps[0]


def pstatus(proc: Proc, model: str) -> bytes:
    c = codec(S.PSTATUS[model])
    st = c.decode(bytes(c.size))
    rep = representative(proc)
    if rep is not None:
        st["pr_lwp"] = lwpstatus(rep, model)
        st["pr_flags"] = st["pr_lwp"]["pr_flags"]
        st["pr_aslwpid"] = 0
    st["pr_nlwp"] = len(proc.lwps)
    st["pr_pid"] = proc.pid
    ids = procinfo.ids(proc.pid)
    st["pr_ppid"], st["pr_pgid"], st["pr_sid"] = ids
    try:
        st["pr_sigpend"] = {"__sigbits": procinfo.sigsets(proc.pid, proc.pid)["procpend"]}
    except OSError:
        pass
    st["pr_sigtrace"] = _set_bits(proc.sigtrace, 16)
    st["pr_flttrace"] = _fltset(proc.flttrace)
    st["pr_sysentry"] = _sysset(proc.sysentry)
    st["pr_sysexit"] = _sysset(proc.sysexit)
    st["pr_dmodel"] = proc.dmodel
    return c.encode(st)


def watch(proc: Proc, model: str) -> bytes:
    c = codec(S.PRWATCH[model])
    return b"".join(c.encode({"pr_vaddr": w.vaddr, "pr_size": w.size, "pr_wflags": w.wflags, "pr_pad": 0})
                    for w in proc.watch)


def read_file(engine: Any, of: Any) -> bytes:
    """The bytes of a status-like file (a snapshot; the reader slices by offset)."""
    proc, lwp = engine.target(of)
    kind, model = of.kind, of.model
    if kind == "lwpstatus":
        if model == "amd64":
            return bytes(lwpstatus_amd64(lwp))
        return codec(S.LWPSTATUS[model]).encode(lwpstatus(lwp, model))
    if kind == "status":
        return pstatus(proc, model)
    if kind == "watch":
        return watch(proc, model)
    if kind == "psinfo":
        return procinfo.psinfo(proc.pid, model)
    if kind == "lwpsinfo":
        return procinfo.lwpsinfo(proc.pid, lwp.tid, lwp.lwpid, model)
    if kind == "map":
        return procinfo.maps(proc.pid, model)
    if kind == "cred":
        return procinfo.cred(proc.pid, model)
    if kind == "auxv":
        return procinfo.auxv(proc.pid, model)
    if kind == "sigact":
        return procinfo.sigact(proc.pid, model)
    if kind == "xregs":
        return xregs(lwp)
    if kind in LINK_FILES:
        return procinfo.link(proc.pid, kind, of.name)
    if kind == "usage":
        return procinfo.usage(proc.pid, model)
    if kind == "lwpusage":
        return procinfo.lwpusage(proc.pid, lwp.tid, lwp.lwpid, model)
    if kind == "xmap":
        return procinfo.xmap(proc.pid, model)
    lwps = [proc.lwps[i] for i in sorted(proc.lwps)]
    if kind == "lusage":
        return procinfo.lusage(proc.pid, [(l.tid, l.lwpid) for l in lwps], model)
    if kind == "lpsinfo":
        return procinfo.lpsinfo(proc.pid, [(l.tid, l.lwpid) for l in lwps], model)
    if kind == "lstatus":
        c = codec(S.LWPSTATUS[model])
        return procinfo.prheader_array([c.encode(lwpstatus(l, model)) for l in lwps], (c.size + 7) & ~7, model)
    raise OSError(22, f"{kind} cannot be read")


#: Files whose read gives the path they name (a symbolic link in the mount).
LINK_FILES = frozenset({"cwd", "root", "path", "fd"})


def _host_stopped(lwp: Lwp) -> bool:
    return lwp.hstop is not None and not lwp.listening


def xregs(lwp: Lwp) -> bytes:
    """The `xregs` file (ARCHITECTURE item 12): the LWP's XSAVE area raw, at the host's size, in
    the host's standard format (the same bytes for either reader model).  Linux gives it only
    for a thread in a ptrace-stop: EBUSY while the LWP runs (or listens in a group stop)."""
    if not _host_stopped(lwp):
        raise OSError(errno.EBUSY, "the lwp is running: its extra registers cannot be read")
    return tracing.getxstate(lwp)


_QUEUE_FILES = frozenset({"lwpsigqueue", "sigqueue"})
_MAX_QUEUE_INDEX = 1 << 40  # beyond any pending queue (RLIMIT_SIGPENDING): nothing there


def read_sigqueue(engine: Any, of: Any, offset: int, size: int) -> bytes:
    """NON-SOLARIS files: `lwp/<lwpid>/lwpsigqueue` is the LWP's private queue of pending
    signals, `sigqueue` the process's shared one, each an array of Solaris siginfo_t in the
    reader's model (entry i at i * sizeof(siginfo_t)), in delivery-queue order, then end of
    file.  Linux shows a queue only to the thread's tracer (procd), and only while the thread
    is in a ptrace-stop: EBUSY otherwise (for `sigqueue`: while no LWP of the process is)."""
    proc, lwp = engine.target(of)
    if offset < 0:
        raise OSError(errno.EINVAL, "negative offset")
    if lwp is None:
        lwp = next((l for l in proc.lwps.values() if _host_stopped(l)), None)
        if lwp is None:
            raise OSError(errno.EBUSY, "no lwp of the process is stopped")
    elif not _host_stopped(lwp):
        raise OSError(errno.EBUSY, "the lwp is running: its queue cannot be read")
    entry = codec(S.SIGINFO[of.model]).size
    first = offset // entry
    last = -(-(offset + max(size, 0)) // entry)
    if size <= 0 or first >= _MAX_QUEUE_INDEX:
        return b""
    infos = tracing.peeksiginfo(lwp.tid, first, min(last, _MAX_QUEUE_INDEX) - first, of.kind == "sigqueue")
    data = b"".join(solaris_siginfo(i, of.model) for i in infos)
    skip = offset - first * entry
    return data[skip:skip + size]
