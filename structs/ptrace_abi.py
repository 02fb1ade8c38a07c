"""The small Linux structures ptrace requests pass by pointer, for amd64 and i386.

What this module promises:

* ``IOVEC[abi]`` is ``struct iovec`` (``<sys/uio.h>``; GETREGSET/SETREGSET's ``data``): 16 bytes on
  amd64, 8 on i386 — the latter is also the kernel's ``compat_iovec`` a 32-bit tracer passes.
* ``PTRACE_SYSCALL_INFO[abi]`` is ``struct ptrace_syscall_info`` (``<linux/ptrace.h>``): ``op``,
  ``pad[3]``, ``arch``, ``instruction_pointer``, ``stack_pointer``, then the anonymous union kept
  raw as ``_union``; ``PTRACE_SYSCALL_INFO_VIEWS[abi]`` has its arms ``entry``, ``exit`` and
  ``seccomp``, each as long as the union.  It is 88 bytes on amd64 and 84 on i386 (the ``__u64``
  members are 4-aligned there, so the union loses its tail padding); every member has the same
  offset in both, and the kernel, which has no compat version of it, never writes more than 84.
* ``PTRACE_SYSCALL_INFO_SIZE[abi][op]`` is what PTRACE_GET_SYSCALL_INFO returns for each ``op``
  (``"none"``, ``"entry"``, ``"exit"``, ``"seccomp"``): the end of the last member that op fills,
  computed from the layout as kernel/ptrace.c does — 24 / 80 / 33 / 84.
* ``PTRACE_PEEKSIGINFO_ARGS[abi]`` is ``struct ptrace_peeksiginfo_args`` (16 bytes both).
* ``build(parse(b)) == b`` for any bytes of the right size (padding and the union are raw).

``tests/test_linux_layouts.py`` checks every member against ``gcc -m64`` and ``gcc -m32``.
"""

from __future__ import annotations

from construct import Bytes, Default, Struct

from .fields import memberof, offsetof
from .layout import MODELS, CType, DataModel, array, raw, struct

__all__ = [
    "IOVEC",
    "PTRACE_SYSCALL_INFO",
    "PTRACE_SYSCALL_INFO_VIEWS",
    "PTRACE_SYSCALL_INFO_SIZE",
    "PTRACE_PEEKSIGINFO_ARGS",
]


def _iovec(m: DataModel) -> Struct:
    return struct(("iov_base", m.ptr), ("iov_len", m.size_t))


def _spare(n: int) -> CType:
    """Union bytes a view does not name; optional when building (zeros)."""
    return CType(Default(Bytes(n), bytes(n)), n, 1)


def _syscall_info_arms(m: DataModel) -> dict[str, list[tuple[str, CType]]]:
    return {
        "entry": [("nr", m.uint64), ("args", array(m.uint64, 6))],
        "exit": [("rval", m.int64), ("is_error", m.uint8)],
        "seccomp": [("nr", m.uint64), ("args", array(m.uint64, 6)), ("ret_data", m.uint32)],
    }


def _union_size(m: DataModel) -> int:
    arms = [struct(*f) for f in _syscall_info_arms(m).values()]
    return max(a.sizeof() for a in arms)


def _syscall_info(m: DataModel) -> Struct:
    return struct(
        ("op", m.uint8),
        ("pad", array(m.uint8, 3)),
        ("arch", m.uint32),
        ("instruction_pointer", m.uint64),
        ("stack_pointer", m.uint64),
        ("_union", raw(_union_size(m), m.align8)),
        size=88 if m.lp64 else 84,
    )


def _arm_view(m: DataModel, arm: str) -> Struct:
    fields = _syscall_info_arms(m)[arm]
    size = _union_size(m)
    off, n = memberof(struct(*fields), fields[-1][0])
    if size > off + n:
        fields = [*fields, ("_rest", _spare(size - off - n))]
    return struct(*fields, size=size)


def _returned_sizes(m: DataModel) -> dict[str, int]:
    # kernel/ptrace.c: ptrace_get_syscall_info() starts from offsetof(info, entry); each
    # ptrace_get_syscall_info_<op>() returns offsetof(info, <last member>) + its sizeof.
    base = offsetof(PTRACE_SYSCALL_INFO[m.name], "_union")
    views = PTRACE_SYSCALL_INFO_VIEWS[m.name]
    last = {"entry": "args", "exit": "is_error", "seccomp": "ret_data"}
    sizes = {"none": base}
    for op, member in last.items():
        off, n = memberof(views[op], member)
        sizes[op] = base + off + n
    return sizes


def _peeksiginfo_args(m: DataModel) -> Struct:
    return struct(("off", m.uint64), ("flags", m.uint32), ("nr", m.int32), size=16)


IOVEC: dict[str, Struct] = {name: _iovec(m) for name, m in MODELS.items()}
PTRACE_SYSCALL_INFO: dict[str, Struct] = {name: _syscall_info(m) for name, m in MODELS.items()}
PTRACE_SYSCALL_INFO_VIEWS: dict[str, dict[str, Struct]] = {
    name: {arm: _arm_view(m, arm) for arm in _syscall_info_arms(m)} for name, m in MODELS.items()
}
PTRACE_SYSCALL_INFO_SIZE: dict[str, dict[str, int]] = {name: _returned_sizes(m) for name, m in MODELS.items()}
PTRACE_PEEKSIGINFO_ARGS: dict[str, Struct] = {name: _peeksiginfo_args(m) for name, m in MODELS.items()}
