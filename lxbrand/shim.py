"""The Python side of `lxbrand run`: a debugger's ptrace and wait calls, answered by lx.

The preload library (`lxbrand/preload.c`, ABI glue only) calls these three functions from inside
an unmodified debugger's process, with the raw system calls' arguments as integers (pointers are
addresses in the debugger's memory).  Each returns what the raw system call returns, or -errno;
the library turns that into glibc's convention.  Nothing here raises: an unexpected exception is
printed, with the request, and answered -EIO.
"""

from __future__ import annotations

import errno
import os
import struct
import sys
import traceback

from native_proc import rendezvous

from . import caller
from .ptrace import lx_ptrace
from .wait import lx_wait4, lx_waitid

__all__ = ["configure", "ptrace", "wait4", "waitid"]

_SIGCHLD = 17
_RUSAGE = bytes(144)  # struct rusage on x86-64: the lx waits do not account resources
_HEAD = struct.Struct("<iii")  # si_signo, si_errno, si_code
_CHLD = struct.Struct("<iIi")  # si_pid, si_uid, si_status at offset 16


def configure(python: str) -> None:
    """Called once by the library when the shim is loaded: `python` is the interpreter lxbrand
    run ran under, which starts procd when none is running (sys.executable is the debugger)."""
    if python:
        rendezvous.PYTHON = python


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _failed(what: str) -> int:
    sys.stderr.write(f"lxbrand shim: internal error in {what}\n{traceback.format_exc()}")
    sys.stderr.flush()
    return -errno.EIO


def ptrace(req: int, pid: int, addr: int, data: int) -> int:
    """ptrace(2) as the system call: PEEK* store the word at `data`."""
    try:
        return lx_ptrace(_s32(req), _s32(pid), addr, data)
    except Exception:
        return _failed(f"ptrace({req}, {pid}, {addr:#x}, {data:#x})")


def wait4(pid: int, options: int, status: int, rusage: int) -> int:
    """wait4(2): the pid, 0 (WNOHANG, nothing), or -errno; stores *status and zeroes *rusage
    when given and a child was reported."""
    try:
        rpid, st = lx_wait4(_s32(pid), options & 0xFFFFFFFF)
        if rpid > 0:
            if status:
                caller.write(status, struct.pack("<i", st))
            if rusage:
                caller.write(rusage, _RUSAGE)
        return rpid
    except OSError as e:  # EFAULT from a bad status or rusage pointer
        return -(e.errno or errno.EFAULT)
    except Exception:
        return _failed(f"wait4({pid}, {options:#x})")


def waitid(idtype: int, options: int, infop: int, id: int) -> int:
    """waitid(2): 0 or -errno; fills si_signo, si_errno, si_code, si_pid, si_uid and si_status
    of *infop as the kernel does (all zero for WNOHANG with nothing to report)."""
    try:
        rc, info = lx_waitid(_s32(idtype), id & 0xFFFFFFFF, options & 0xFFFFFFFF)
        if rc < 0 or not infop:
            return rc
        if info is None:
            caller.write(infop, _HEAD.pack(0, 0, 0))
            caller.write(infop + 16, _CHLD.pack(0, 0, 0))
        else:
            caller.write(infop, _HEAD.pack(_SIGCHLD, 0, info["si_code"]))
            # The lx wait does not say the child's uid; a debugger's children are its own.
            caller.write(infop + 16, _CHLD.pack(info["si_pid"], os.getuid(), info["si_status"]))
        return 0
    except OSError as e:
        return -(e.errno or errno.EFAULT)
    except Exception:
        return _failed(f"waitid({idtype}, {id}, {options:#x})")
