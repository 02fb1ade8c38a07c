"""PTRACE_GETREGSET / PTRACE_SETREGSET: NT_PRSTATUS, NT_PRFPREG and NT_X86_XSTATE.

What is promised (Linux's ptrace_regset, checked against the host in
tests/test_lx_sysinfo_regset.py and tests/test_lx_modern.py):

* `data` is the caller's `struct iovec` (16 bytes for an amd64 caller, 8 for an i386 one); a bad
  one is EFAULT.  A regset Linux does not have for x86 is EINVAL, and so is an `iov_len` that is
  not a multiple of the regset's unit (the caller's word for NT_PRSTATUS/NT_PRFPREG, 8 bytes for
  NT_X86_XSTATE).  The length moved is min(iov_len, the regset's size) and is written back to
  `iov_len` on success, so a large iovec learns the size (gdb's XSTATE probe) and a short one
  gets the prefix.
* NT_PRSTATUS is user_regs_struct (a prefix may be written); NT_PRFPREG is the fxsave image
  (amd64 caller) or the fsave image (i386 caller), written only whole (else EINVAL), with
  reserved MXCSR bits EINVAL.
* NT_X86_XSTATE is the tracee's XSAVE area exactly as Linux gives it: native_proc's `xregs` file
  carries the host's area raw, at the host's size (ARCHITECTURE item 12), sw_reserved bytes
  464..511 holding XCR0 as the kernel writes them for debuggers.  SETREGSET takes only the whole
  area (anything shorter is EFAULT, as xstateregs_set says) and writes it with PCSXREG; the host
  then checks it as Linux does (a bad XSAVE header or reserved MXCSR bits with x87/SSE/AVX
  state present: EINVAL, nothing changed).

Like the rest of lx_ptrace, the handlers raise OSError(errno) and the tracee must be
ptrace-stopped (ESRCH).
"""

from __future__ import annotations

import errno
import struct
import weakref
from typing import Any

import native_proc.client as npc
from native_proc.client import ProcFile
from structs.ctl import encode_ctl
from structs.procfs_consts import PC
from structs.ptrace_consts import NT

from . import caller
from . import ptrace as P
from . import regs as R

__all__ = ["getregset", "setregset"]

_IOV = {"amd64": struct.Struct("<QQ"), "i386": struct.Struct("<II")}
_XSTATE_UNIT = 8  # the kernel's regset->size for NT_X86_XSTATE: sizeof(u64), in both views
_XSTATE_ROOM = 1 << 16  # more than any XSAVE area; the xregs file is as long as the host's
# Open xregs files, one per traced LWP, closed when lx_ptrace forgets the tracee.
_xregs_files: "weakref.WeakKeyDictionary[P.Tracee, ProcFile]" = weakref.WeakKeyDictionary()
_xstate_size = 0  # the host's XSAVE area size, learnt from the first read


def _xregs(t: P.Tracee) -> bytes:
    """The tracee's XSAVE area (host format and size)."""
    global _xstate_size
    f = _xregs_files.get(t)
    try:
        if f is None or f.closed:
            f = _xregs_files[t] = npc.open(f"{t.pid}/lwp/{t.lwpid}/xregs")
        area = f.pread(_XSTATE_ROOM, 0)
    except OSError:
        # The LWP is gone or running after all: Linux's answer is "no stopped tracee".
        raise OSError(errno.ESRCH, "tracee is not stopped") from None
    _xstate_size = len(area)
    return area


def _xstate_bytes(t: P.Tracee) -> int:
    return _xstate_size or len(_xregs(t))


def _unit(nt: int, abi: str) -> int:
    return _XSTATE_UNIT if nt == NT.X86_XSTATE else P._WORD[abi]


def _view(snap: bytes) -> str:
    """The regset view Linux gives: the tracee's (task_user_regset_view), whoever asks; a
    32-bit process runs with the compat code segment 0x23."""
    return "i386" if R.linux_regs(snap)[17] == 0x23 else "amd64"


_NT_386_IOPERM = 0x201  # the I/O permission bitmap: x86 has the regset, its size a long


def _regset(t: P.Tracee, nt: int) -> bytes:
    if nt == NT.X86_XSTATE:
        return _xregs(t)
    if nt == _NT_386_IOPERM:
        # Linux's ioperm_get: ENXIO for a task without an I/O bitmap.  native_proc shows none
        # (no Solaris process has one), so every tracee is such a task (docs/limitations.md).
        raise OSError(errno.ENXIO, "no I/O permission bitmap")
    snap = t.snapshot()
    view = _view(snap)
    if nt == NT.PRSTATUS:
        return R.pack(view, t.regs())
    if nt == NT.PRFPREG:
        fx = snap[P._OFF_FPREG:P._OFF_FPREG + 512]
        return fx if view == "amd64" else P._fsave(fx, R.linux_regs(snap))
    raise OSError(errno.EINVAL, "unsupported regset")


def _iov(data: Any, abi: str) -> tuple[int, int]:
    return _IOV[abi].unpack(caller.read(data, _IOV[abi].size))


def _put_iov_len(data: Any, abi: str, base: int, n: int) -> None:
    caller.write(data, _IOV[abi].pack(base, n))


def _regset_io(pid: int, addr: int, data: Any, abi: str,
               set_: bool = False) -> tuple[P.Tracee, int, bytes, int]:
    """GETREGSET/SETREGSET's common part: (tracee, iov_base, the regset now, bytes to move)."""
    t = P._stopped(pid)
    base, length = _iov(data, abi)  # the iovec is the caller's; the regset the tracee's view
    if addr == _NT_386_IOPERM:
        # ptrace_regset's order: the length's unit (EINVAL), then get (ENXIO) or a set the
        # regset does not have (EOPNOTSUPP)
        if length % P._WORD[_view(t.snapshot())]:
            raise OSError(errno.EINVAL, "iov_len is not a multiple of the regset's unit")
        if set_:
            raise OSError(errno.EOPNOTSUPP, "the I/O permission bitmap cannot be set")
    full = _regset(t, addr)
    if length % _unit(addr, _view(t.snapshot())):
        raise OSError(errno.EINVAL, "iov_len is not a multiple of the regset's unit")
    return t, base, full, min(length, len(full))


def getregset(pid: int, addr: int, data: Any, abi: str) -> int:
    """PTRACE_GETREGSET: `addr` is the NT_* type, `data` the caller's iovec."""
    t, base, full, n = _regset_io(pid, addr, data, abi)
    if n:
        caller.write(base, full[:n])
    _put_iov_len(data, abi, base, n)
    return 0


def setregset(pid: int, addr: int, data: Any, abi: str) -> int:
    """PTRACE_SETREGSET: `addr` is the NT_* type, `data` the caller's iovec."""
    if addr == NT.X86_XSTATE:
        return _set_xstate(pid, data, abi)
    t, base, full, n = _regset_io(pid, addr, data, abi, set_=True)
    snap = t.snapshot()
    view = _view(snap)
    if addr == NT.PRFPREG and n != len(full):
        # xfpregs_set/fpregs_set check the count before they read the caller's bytes
        raise OSError(errno.EINVAL, "the FP regset is written only whole")
    new = caller.read(base, n) if n else b""
    if addr == NT.PRSTATUS:
        if n:
            P._write_regs(t, view, new + full[n:], snap, t.regs())
    elif view == "i386":  # NT_PRFPREG of the i386 view: the fsave image (Linux's fpregs_set)
        if n != len(full):
            raise OSError(errno.EINVAL, "the fsave image is written whole")  # as the host says
        cur = snap[P._OFF_FPREG:P._OFF_FPREG + P._FPSET.size]
        fx = P.fxsr(new, cur[:512])
        t.lwpctl.write(encode_ctl("amd64", [(PC.PCSFPREG, P._FPSET.decode(fx + cur[512:]))]))
    else:  # NT_PRFPREG: Linux's xfpregs_set takes only the whole fxsave image
        if n != 512:
            raise OSError(errno.EINVAL, "partial FP regset write")
        if int.from_bytes(new[24:28], "little") & ~0xFFFF:
            raise OSError(errno.EINVAL, "reserved MXCSR bits")
        cur = snap[P._OFF_FPREG:P._OFF_FPREG + P._FPSET.size]
        t.lwpctl.write(encode_ctl("amd64", [(PC.PCSFPREG, P._FPSET.decode(new + cur[512:]))]))
    _put_iov_len(data, abi, base, n)
    return 0


def _set_xstate(pid: int, data: Any, abi: str) -> int:
    # The kernel's order: the iovec (EFAULT), its unit (EINVAL), the whole area or EFAULT
    # (xstateregs_set wants count == the XSAVE size), the caller's bytes (EFAULT), then the
    # area's own checks (EINVAL, from the host through PCSXREG).
    t = P._stopped(pid)
    base, length = _iov(data, abi)
    if length % _XSTATE_UNIT:
        raise OSError(errno.EINVAL, "iov_len is not a multiple of 8")
    size = _xstate_bytes(t)
    n = min(length, size)
    if n != size:
        raise OSError(errno.EFAULT, "NT_X86_XSTATE is written only whole")
    area = caller.read(base, n)
    t.lwpctl.write(encode_ctl("amd64", [(PC.PCSXREG, area)]))
    _put_iov_len(data, abi, base, n)
    return 0
