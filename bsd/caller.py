"""copyin/copyout: the BSD caller's own memory, as sys_ptrace moves `struct reg` and friends.

A pointer is an integer address in this process (a ctypes or cffi buffer's address), as a C
debugger passes it, or a writable Python buffer.  Integer addresses go through
process_vm_readv/writev on ourselves, so a bad one is EFAULT (what copyin says) and never a crash.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from native_proc import host

Pointer = Any  # int address or a buffer


def copyin(ptr: Pointer, size: int) -> bytes:
    """`size` bytes at `ptr`; OSError(EFAULT) when they cannot be read."""
    if isinstance(ptr, int):
        if ptr == 0:
            raise OSError(errno.EFAULT, "NULL pointer")
        try:
            data = host.process_vm_readv(os.getpid(), ptr, size)
        except OSError:
            raise OSError(errno.EFAULT, "bad address") from None
        if len(data) != size:
            raise OSError(errno.EFAULT, "short buffer")
        return data
    mv = memoryview(ptr).cast("B")
    if mv.nbytes < size:
        raise OSError(errno.EFAULT, f"buffer of {mv.nbytes} bytes, need {size}")
    return mv[:size].tobytes()


def copyout(data: bytes, ptr: Pointer) -> None:
    """Store `data` at `ptr`; OSError(EFAULT) when it cannot be written."""
    if isinstance(ptr, int):
        if ptr == 0:
            raise OSError(errno.EFAULT, "NULL pointer")
        try:
            n = host.process_vm_writev(os.getpid(), ptr, data)
        except OSError:
            raise OSError(errno.EFAULT, "bad address") from None
        if n != len(data):
            raise OSError(errno.EFAULT, "short buffer")
        return
    mv = memoryview(ptr).cast("B")
    if mv.readonly or mv.nbytes < len(data):
        raise OSError(errno.EFAULT, "buffer not writable or too small")
    mv[:len(data)] = data
