"""The caller's own memory, as ptrace(2) reads and writes it: `addr`/`data` are integer
addresses in this process (a cffi or ctypes buffer's address) or writable Python buffers.

Integer addresses go through process_vm_readv/writev on ourselves, so a bad address is EFAULT,
as the kernel would say, instead of a crash.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from native_proc import host

Pointer = Any  # int address or a writable buffer

_PID = os.getpid


def value(arg: Pointer) -> int:
    """An argument as the number the system call would see: an int as it is, a buffer as its
    address (a C caller passes a pointer there)."""
    if isinstance(arg, int):
        return arg
    return host.address(arg)


def read(ptr: Pointer, size: int) -> bytes:
    """`size` bytes of the caller's memory at `ptr`; OSError(EFAULT) when it is not readable."""
    if isinstance(ptr, int):
        if ptr == 0:
            raise OSError(errno.EFAULT, "NULL buffer")
        try:
            data = host.process_vm_readv(_PID(), ptr, size)
        except OSError:
            raise OSError(errno.EFAULT, "bad buffer") from None
        if len(data) != size:
            raise OSError(errno.EFAULT, "short buffer")
        return data
    mv = memoryview(ptr).cast("B")
    if mv.nbytes < size:
        raise OSError(errno.EFAULT, f"buffer of {mv.nbytes} bytes, need {size}")
    return mv[:size].tobytes()


def write(ptr: Pointer, data: bytes) -> None:
    """Store `data` into the caller's memory at `ptr`; OSError(EFAULT) when it is not writable."""
    if isinstance(ptr, int):
        if ptr == 0:
            raise OSError(errno.EFAULT, "NULL buffer")
        try:
            n = host.process_vm_writev(_PID(), ptr, data)
        except OSError:
            raise OSError(errno.EFAULT, "bad buffer") from None
        if n != len(data):
            raise OSError(errno.EFAULT, "short buffer")
        return
    mv = memoryview(ptr).cast("B")
    if mv.readonly or mv.nbytes < len(data):
        raise OSError(errno.EFAULT, "buffer not writable or too small")
    mv[:len(data)] = data
