"""Linux `siginfo_t` (what PTRACE_GETSIGINFO/SETSIGINFO/PEEKSIGINFO move), for amd64 and i386.

What this module promises:

* ``SIGINFO[abi]`` is glibc's ``siginfo_t`` (``<bits/types/siginfo_t.h>``): 128 bytes in both
  ABIs; ``si_signo``, ``si_errno``, ``si_code``, then (amd64 only) 4 bytes of padding, then the
  ``_sifields`` union kept RAW: 112 bytes at offset 16 on amd64, 116 at offset 12 on i386.  So
  ``build(parse(b)) == b`` for any 128 bytes.  The i386 layout is also the kernel's
  ``compat_siginfo`` that a 32-bit tracer sees.
* ``SIGINFO_VIEWS[abi][arm]`` parses the bytes of ``_sifields`` as one arm of the union; each view
  is exactly as long as the union (what the arm does not name is ``_rest``), so views round-trip
  too.  Arms: ``kill``, ``timer``, ``rt``, ``sigchld``, ``sigfault``, ``sigpoll``, ``sigsys``.
  Member names are glibc's (``si_pid``, ``si_tid``, ``si_status`` ...), except where glibc's
  member starts with an underscore: those take the name of glibc's ``si_*`` macro
  (``si_call_addr``, ``si_syscall``, ``si_arch``) or, for the sigfault ``_bounds`` union (kept
  raw), ``si_bounds``.
* ``union sigval`` (``si_sigval``) is one unsigned word: on little-endian x86 ``sival_int`` is its
  low 4 bytes and ``sival_ptr`` all of it, and no byte of the union is lost.

``tests/test_linux_layouts.py`` checks every member of every view against ``gcc -m64``/``-m32``
through glibc's real member paths (``si_pid`` is ``_sifields._kill.si_pid``).
"""

from __future__ import annotations

from construct import Bytes, Default, Struct

from .fields import memberof
from .layout import MODELS, CType, DataModel, raw, struct

__all__ = ["SI_MAX_SIZE", "SIFIELDS_SIZE", "SIGINFO", "SIGINFO_VIEWS"]

SI_MAX_SIZE = 128
"""sizeof(siginfo_t) in both ABIs (glibc __SI_MAX_SIZE)."""


def _sifields_size(m: DataModel) -> int:
    # glibc's `int _pad[__SI_PAD_SIZE]` arm is the largest by construction: 128/4 - 4 ints on
    # amd64 (the header there includes __pad0), 128/4 - 3 on i386.
    return 4 * (SI_MAX_SIZE // 4 - (4 if m.lp64 else 3))


SIFIELDS_SIZE: dict[str, int] = {name: _sifields_size(m) for name, m in MODELS.items()}
"""sizeof(_sifields): 112 on amd64, 116 on i386."""


def _siginfo(m: DataModel) -> Struct:
    return struct(
        ("si_signo", m.int),
        ("si_errno", m.int),
        ("si_code", m.int),
        # the union holds pointers, so on amd64 it is 8-aligned: the builder inserts glibc's
        # __pad0 as `_pad12`.
        ("_sifields", raw(_sifields_size(m), m.word)),
        size=SI_MAX_SIZE,
    )


def _spare(n: int) -> CType:
    """Union bytes a view does not name; optional when building (zeros)."""
    return CType(Default(Bytes(n), bytes(n)), n, 1)


def _view(size: int, *fields: tuple[str, CType]) -> Struct:
    """One union arm over exactly `size` bytes of the union."""
    off, n = memberof(struct(*fields), fields[-1][0])
    used = off + n
    if size > used:
        fields = (*fields, ("_rest", _spare(size - used)))
    return struct(*fields, size=size)


def _arms(m: DataModel) -> dict[str, list[tuple[str, CType]]]:
    pid_t, uid_t, clock_t = m.int, m.uint, m.long
    sigval = m.ptr  # union sigval { int sival_int; void *sival_ptr; }: one word covers it
    return {
        "kill": [("si_pid", pid_t), ("si_uid", uid_t)],
        "timer": [("si_tid", m.int), ("si_overrun", m.int), ("si_sigval", sigval)],
        "rt": [("si_pid", pid_t), ("si_uid", uid_t), ("si_sigval", sigval)],
        "sigchld": [
            ("si_pid", pid_t),
            ("si_uid", uid_t),
            ("si_status", m.int),
            ("si_utime", clock_t),
            ("si_stime", clock_t),
        ],
        "sigfault": [
            ("si_addr", m.ptr),
            ("si_addr_lsb", m.short),
            # union { struct { void *_lower, *_upper; } _addr_bnd; __uint32_t _pkey; }
            ("si_bounds", raw(2 * m.word, m.word)),
        ],
        "sigpoll": [("si_band", m.long), ("si_fd", m.int)],
        "sigsys": [("si_call_addr", m.ptr), ("si_syscall", m.int), ("si_arch", m.uint)],
    }


SIGINFO: dict[str, Struct] = {name: _siginfo(m) for name, m in MODELS.items()}
SIGINFO_VIEWS: dict[str, dict[str, Struct]] = {
    name: {arm: _view(_sifields_size(m), *fields) for arm, fields in _arms(m).items()}
    for name, m in MODELS.items()
}
