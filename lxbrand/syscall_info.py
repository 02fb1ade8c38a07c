"""PTRACE_GET_SYSCALL_INFO and PTRACE_PEEKSIGINFO over native_proc.

What is promised (each point compared with the host kernel in tests/test_lx_sysinfo_regset.py):

PTRACE_GET_SYSCALL_INFO (`addr` = the caller's buffer size, `data` = the buffer)
  * Fills `struct ptrace_syscall_info` (structs/ptrace_abi.py; one layout for both caller ABIs,
    of which the kernel never writes more than 84 bytes) and returns the size that is meaningful
    for its `op`: NONE 24, ENTRY 80, EXIT 33, SECCOMP 84.  It copies min(addr, that size) bytes:
    addr 0 copies nothing and only returns the size; a buffer that cannot take them is EFAULT.
  * `op` follows the kernel's rule, which reads the si_code of the stop's siginfo: SIGTRAP|0x80
    (a system-call stop under PTRACE_O_TRACESYSGOOD) gives ENTRY at an entry stop and EXIT at an
    exit stop; SIGTRAP|PTRACE_EVENT_SECCOMP<<8 (a PR_BRAND stop with pr_what 7) gives SECCOMP;
    everything else is NONE — system-call stops without TRACESYSGOOD, the exec SIGTRAP, signal,
    event and group stops, and any stop whose si_code SETSIGINFO changed.
  * The values come from the registers, as Linux reads them (so a tracer's SETREGS shows):
    nr is (int)orig_rax, the six arguments are rdi rsi rdx r10 r8 r9 (ebx ecx edx esi edi ebp
    for a 32-bit system call), rval is rax (for a 32-bit call its low 32 bits, sign-extended
    only when they are an error number, -4095..-1, as the kernel's syscall_get_error has it) and
    is_error is 1 when -4095 <= rval < 0; ret_data (SECCOMP) is the event message, pr_rval1.
  * `arch` is AUDIT_ARCH_I386 while a 32-bit tracee is in a system call (the kernel's TS_COMPAT:
    its system-call stops, a signal or the exec stop inside a call), AUDIT_ARCH_X86_64 otherwise
    — also for a 32-bit tracee stopped in user code, as the host says.  The tracee's data model
    is read from its code segment (0x23), which is what the kernel's own regset view uses.
  * `instruction_pointer` and `stack_pointer` are rip and rsp.

PTRACE_PEEKSIGINFO (`addr` = struct ptrace_peeksiginfo_args {u64 off; u32 flags; s32 nr},
`data` = room for nr siginfo_t)
  * Copies up to `nr` pending signals' siginfo_t, from index `off` of the tracee thread's private
    queue, or of its process's shared queue with PTRACE_PEEKSIGINFO_SHARED, in queue order, and
    returns how many it copied (0 past the end).  Unknown flags or nr < 0: EINVAL; nr 0: 0.
    A bad args pointer is EFAULT; when `data` fails part-way, the count copied so far is
    returned, and EFAULT only if nothing could be copied.  An i386 caller gets the compat
    siginfo_t layout (kernel copy_siginfo_to_external32).
  * The queues come from native_proc's non-Solaris `lwp/<lwpid>/lwpsigqueue` and `sigqueue`
    files (Solaris siginfo_t arrays, converted back with native_proc/siginfo.py).  What
    survives the Solaris form: signal, code, errno, the sender's pid/uid and sigqueue value, a
    fault address, SIGCHLD's pid/status/times, SIGPOLL's band/fd (docs/limitations.md).

Handlers take (pid, addr, data, abi) and raise OSError(errno); the tracee must be
ptrace-stopped (ESRCH), which is checked first, as Linux does.
"""

from __future__ import annotations

import errno
import struct
import weakref
from typing import Any

import native_proc.client as npc
from native_proc import siginfo as SI
from native_proc.client import ProcFile
from structs.codec import codec
from structs.fields import memberof
from structs.procfs import LWPSTATUS
from structs.procfs_consts import PR_WHY
from structs.ptrace_abi import PTRACE_SYSCALL_INFO, PTRACE_SYSCALL_INFO_SIZE, PTRACE_SYSCALL_INFO_VIEWS
from structs.ptrace_consts import (
    AUDIT_ARCH_I386,
    AUDIT_ARCH_X86_64,
    PTRACE_EVENT,
    PTRACE_PEEKSIGINFO_SHARED,
)
from structs.ptrace_consts import PTRACE_SYSCALL_INFO as OP
from structs.regs import LINUX_REG_INDEX

from . import caller
from . import ptrace as P
from . import regs as R

__all__ = ["get_syscall_info", "peeksiginfo"]

# -- PTRACE_GET_SYSCALL_INFO --------------------------------------------------------------------

_INFO = codec(PTRACE_SYSCALL_INFO["amd64"])
_ARM = {name: codec(PTRACE_SYSCALL_INFO_VIEWS["amd64"][name]) for name in ("entry", "exit", "seccomp")}
_SIZE = PTRACE_SYSCALL_INFO_SIZE["amd64"]
_OP_NAME = {OP.NONE: "none", OP.ENTRY: "entry", OP.EXIT: "exit", OP.SECCOMP: "seccomp"}
_IX = LINUX_REG_INDEX["amd64"]
_ARGS64 = tuple(_IX[n] for n in ("rdi", "rsi", "rdx", "r10", "r8", "r9"))
_ARGS32 = tuple(_IX[n] for n in ("rbx", "rcx", "rdx", "rsi", "rdi", "rbp"))
_RAX, _ORIG, _RIP, _CS, _RSP = (_IX[n] for n in ("rax", "orig_rax", "rip", "cs", "rsp"))
_USER32_CS = 0x23  # __USER32_CS: a 32-bit (compat) task's code segment
_OFF_RVAL1 = memberof(LWPSTATUS["amd64"], "pr_rval1")[0]
_Q = struct.Struct("<q")
_SYSGOOD = 5 | 0x80  # SIGTRAP | 0x80: the si_code of a system-call stop under TRACESYSGOOD
_SECCOMP_CODE = 5 | PTRACE_EVENT.SECCOMP << 8
_U64 = (1 << 64) - 1


def _s64(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _compat_rval(v: int) -> int:
    """The exit value of a 32-bit system call as the kernel's syscall_get_return_value gives it to
    a 64-bit tracer: the low 32 bits, negative only for an error number."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= (1 << 32) - 4095 else v


def _stop_code(t: P.Tracee, why: int, what: int) -> int:
    """The si_code of the siginfo Linux keeps for this stop (0 where it keeps none)."""
    try:
        info = P.stop_siginfo(t)  # SETSIGINFO's replacement included, as the kernel's is
    except OSError:
        # No siginfo (a legacy group stop ...): the kernel reads si_code 0 then.  An event stop
        # is SIGTRAP | event << 8 (ptrace_event), whether or not stop_siginfo knows it yet.
        return 5 | what << 8 if why == PR_WHY.PR_BRAND else 0
    return int.from_bytes(info[8:12], "little", signed=True)


def _op(t: P.Tracee, why: int, what: int) -> int:
    code = _stop_code(t, why, what)
    if code == _SYSGOOD:
        if why == PR_WHY.PR_SYSENTRY:
            return OP.ENTRY
        if why == PR_WHY.PR_SYSEXIT:
            return OP.EXIT
    elif code == _SECCOMP_CODE and why == PR_WHY.PR_BRAND and what == PTRACE_EVENT.SECCOMP:
        return OP.SECCOMP
    return OP.NONE


def syscall_info(t: P.Tracee) -> tuple[bytes, int]:
    """(the struct ptrace_syscall_info bytes, the size PTRACE_GET_SYSCALL_INFO returns) of a
    stopped tracee."""
    snap = t.snapshot()
    why, what = R.why_what(snap)
    lr = R.linux_regs(snap)
    op = _op(t, why, what)
    compat = lr[_CS] & 0xFFFF == _USER32_CS and (op != OP.NONE or _s64(lr[_ORIG]) != -1)
    info = {"op": int(op), "pad": [0, 0, 0], "arch": AUDIT_ARCH_I386 if compat else AUDIT_ARCH_X86_64,
            "instruction_pointer": lr[_RIP], "stack_pointer": lr[_RSP], "_union": bytes(64)}
    if op in (OP.ENTRY, OP.SECCOMP):
        arm = {"nr": _s32(lr[_ORIG]) & _U64, "args": [lr[i] for i in (_ARGS32 if compat else _ARGS64)]}
        if op == OP.SECCOMP:
            arm["ret_data"] = _Q.unpack_from(snap, _OFF_RVAL1)[0] & 0xFFFFFFFF
        info["_union"] = _ARM[_OP_NAME[op]].encode(arm)
    elif op == OP.EXIT:
        # A 32-bit call's result is a 32-bit value: Linux sign-extends only an error (-4095..-1,
        # IS_ERR_VALUE), so an address such as mmap2's 0xf7fbf000 stays positive.
        rval = _compat_rval(lr[_RAX]) if compat else _s64(lr[_RAX])
        info["_union"] = _ARM["exit"].encode({"rval": rval, "is_error": int(-4095 <= rval < 0)})
    return _INFO.encode(info), _SIZE[_OP_NAME[op]]


def get_syscall_info(pid: int, addr: int, data: Any, abi: str) -> int:
    """PTRACE_GET_SYSCALL_INFO: returns the op's size; copies min(addr, size) bytes to data."""
    t = P._stopped(pid)
    raw, size = syscall_info(t)
    user_size = addr & (_U64 if abi == "amd64" else 0xFFFFFFFF)
    n = min(user_size, size)
    if n:
        caller.write(data, raw[:n])
    return size


# -- PTRACE_PEEKSIGINFO -------------------------------------------------------------------------

_PEEK_ARGS = struct.Struct("<QIi")  # struct ptrace_peeksiginfo_args, the same for both ABIs
_SOL_SIZE = 256  # Solaris amd64 siginfo_t: lxbrand reads native_proc in the LP64 model
_LIN_SIZE = SI.SIZE  # Linux siginfo_t, 128 bytes in both ABIs
_CHUNK = 1024  # entries per read of a queue file
_MAX_INDEX = 1 << 40  # no pending queue is longer (RLIMIT_SIGPENDING): nothing past it
# Open queue files per traced LWP, closed when lx_ptrace forgets the tracee.
_queue_files: "weakref.WeakKeyDictionary[P.Tracee, dict[bool, ProcFile]]" = weakref.WeakKeyDictionary()


def _queue(t: P.Tracee, shared: bool) -> ProcFile:
    files = _queue_files.setdefault(t, {})
    f = files.get(shared)
    if f is None or f.closed:
        f = files[shared] = npc.open(f"{t.pid}/sigqueue" if shared else f"{t.pid}/lwp/{t.lwpid}/lwpsigqueue")
    return f


def _offset(ptr: Any, n: int) -> Any:
    """The caller's pointer `n` bytes further on."""
    if isinstance(ptr, int):
        return ptr + n if ptr else 0
    return memoryview(ptr).cast("B")[n:]


def _store(data: Any, entries: list[bytes]) -> int:
    """Copy entries to the caller one siginfo_t after the other, as the kernel does: the count
    that fitted (EFAULT if the first did not)."""
    try:
        caller.write(data, b"".join(entries))
        return len(entries)
    except OSError:
        pass
    for i, e in enumerate(entries):
        try:
            caller.write(_offset(data, i * _LIN_SIZE), e)
        except OSError:
            if i == 0:
                raise OSError(errno.EFAULT, "the siginfo buffer is not writable") from None
            return i
    return len(entries)


def peeksiginfo(pid: int, addr: Any, data: Any, abi: str) -> int:
    """PTRACE_PEEKSIGINFO: the number of pending signals' siginfo_t copied to `data`."""
    t = P._stopped(pid)
    off, flags, nr = _PEEK_ARGS.unpack(caller.read(addr, _PEEK_ARGS.size))
    if flags & ~PTRACE_PEEKSIGINFO_SHARED:
        raise OSError(errno.EINVAL, "unknown PEEKSIGINFO flags")
    if nr < 0:
        raise OSError(errno.EINVAL, "negative count")
    shared = bool(flags & PTRACE_PEEKSIGINFO_SHARED)
    done = 0
    while done < nr and off + done < _MAX_INDEX:
        want = min(nr - done, _CHUNK)
        try:
            raw = _queue(t, shared).pread(want * _SOL_SIZE, (off + done) * _SOL_SIZE)
        except OSError:
            raise OSError(errno.ESRCH, "tracee is not stopped") from None
        got = len(raw) // _SOL_SIZE
        entries = [_linux(raw[i * _SOL_SIZE:(i + 1) * _SOL_SIZE], abi) for i in range(got)]
        stored = _store(_offset(data, done * _LIN_SIZE), entries) if entries else 0
        done += stored
        if stored < want:
            break
    return done


def _linux(sol: bytes, abi: str) -> bytes:
    # A queued trap keeps its own si_addr (to_linux would put the pc of the stop there).
    lin = SI.to_linux(sol, int.from_bytes(sol[16:24], "little"))
    return lin if abi == "amd64" else SI.to_compat(lin)
