"""The conformance scenarios, grouped as issue 5 lists them.

Each one is written once against the backend interface and records through `Dbg` (scenario.py).
The target is `conf` (targets.py): exec stop, checkpoint A (int3), the mode's body, checkpoint B
(int3), exit 0.  Requests of the modern interface (SETOPTIONS, GETSIGINFO, SEIZE, regsets ...)
are in scenarios_modern.py.
"""

from __future__ import annotations

import signal
import struct

from structs.ptrace_consts import PTRACE

from .scenario import REG_NAMES, Dbg, bound, scenario, signame

USR1, TERM, KILL, SEGV, STOP, TRAP = (int(signal.SIGUSR1), int(signal.SIGTERM), int(signal.SIGKILL),
                                      int(signal.SIGSEGV), int(signal.SIGSTOP), int(signal.SIGTRAP))
RT38 = 38  # the target handles it (rt_hits)
NR = {"read": 0, "write": 1, "getpid": 39, "getppid": 110, "kill": 62, "pause": 34, "exit_group": 231}
OFF = {n: 8 * i for i, n in enumerate(REG_NAMES)}
DR = 848  # offsetof(struct user, u_debugreg)
USER_SIZE = 928  # the kernel's struct user
SYSREGS = ("orig_rax", "rax", "rdi", "rsi", "rdx", "r10", "rip")
KERNEL_ADDR = 0xFFFF_8000_0000_0000
U64 = (1 << 64) - 1


# -- helpers -----------------------------------------------------------------------------------


def sub(d: Dbg, pid: int, names=SYSREGS, label: str = "regs") -> dict | None:
    r = d.getregs(pid)
    if r is not None:
        d.obs.regs({n: r[n] for n in names}, label=label)
    return r


def globals_(d: Dbg, pid: int, *names: str) -> None:
    for n in names:
        d.peekdata(pid, d.sym(n), label=f"PEEKDATA(&{n})")


def to_b_and_exit(d: Dbg, pid: int) -> None:
    """From checkpoint A: run to B, then to the exit."""
    d.run_to_b(pid)
    d.finish(pid)


def syscall_stop(d: Dbg, pid: int, n: int = 1) -> dict | None:
    """PTRACE_SYSCALL n times (each stop recorded); the registers at the last stop."""
    regs = None
    for _ in range(n):
        d.syscall(pid)
        d.wait(pid)
        regs = sub(d, pid)
    return regs


def mapping_gap(pid: int) -> int:
    """The end of the first mapping that is not followed by another one (same in both runs:
    the target runs with ASLR off)."""
    spans = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            a, b = line.split()[0].split("-")
            spans.append((int(a, 16), int(b, 16)))
    for (_, end), (nxt, _) in zip(spans, spans[1:]):
        if end != nxt:
            return end
    return spans[-1][1]


# -- TRACEME and the exec stop -------------------------------------------------------------------


@scenario("traceme/exec-stop")
def traceme_exec_stop(b, t):
    """TRACEME + exec: the SIGTRAP stop, its registers, on to both checkpoints and the exit."""
    d = Dbg(b, t)
    pid = d.traceme(to_a=False)
    d.getregs(pid, record=True)
    d.peekuser(pid, OFF["rip"])
    d.peekuser(pid, OFF["orig_rax"])
    d.cont(pid)
    d.wait(pid)
    d.getregs(pid, record=True)  # checkpoint A: the int3's rip, orig_rax -1
    to_b_and_exit(d, pid)


@scenario("traceme/twice-eperm")
def traceme_twice(b, t):
    """A second PTRACE_TRACEME in the same process is EPERM."""
    pid, res = b.run_in_child(lambda be: (be.ptrace(PTRACE.TRACEME, 0), be.ptrace(PTRACE.TRACEME, 0)))
    b.obs.alias(pid)
    b.obs.value("TRACEME, TRACEME", res)
    ret, st = b.wait4(pid, 0)
    b.obs.wait(ret, st)


@scenario("traceme/exit-status")
def traceme_exit_status(b, t):
    """A traced process's exit is reported with its code, and then the pid is gone (ECHILD)."""
    d = Dbg(b, t)
    pid = d.traceme("exit7")
    d.cont(pid)
    d.wait(pid)
    d.wait(pid)  # reaped: ECHILD
    d.pt(PTRACE.GETREGS, pid, 0, bytearray(216))


@scenario("traceme/waitid")
def traceme_waitid(b, t):
    """waitid(P_PID, WEXITED|WSTOPPED) reports a ptrace stop as CLD_TRAPPED, then the exit."""
    d = Dbg(b, t)
    pid = d.traceme(to_a=False)
    d.cont(pid)
    for _ in range(3):
        r, info = b.waitid(1, pid, 4 | 2)
        d.obs.value("waitid", (r, sorted((k, d.obs._v(v)) for k, v in (info or {}).items())))
        if info and info["si_code"] != 4:
            break
        d.cont(pid)


@scenario("traceme/wnohang")
def traceme_wnohang(b, t):
    """wait4(WNOHANG) on a running tracee says nothing; once it stops, the stop."""
    d = Dbg(b, t)
    pid = d.traceme("pause")
    d.cont(pid)
    d.wait(pid, 1)
    d.b.kill(pid, USR1)
    d.wait(pid)  # the signal-delivery stop
    d.cont(pid, USR1)
    d.wait(pid)  # B
    d.finish(pid)


# -- PEEK / POKE ---------------------------------------------------------------------------------


@scenario("mem/peek-aligned")
def mem_peek_aligned(b, t):
    """PEEKDATA/PEEKTEXT of data, read-only data and text at aligned addresses."""
    d = Dbg(b, t)
    pid = d.traceme()
    for name in ("word", "area", "rodata_word", "counter"):
        d.peekdata(pid, d.sym(name), label=f"PEEKDATA(&{name})")
    d.peekdata(pid, d.sym("area") + 8, label="PEEKDATA(&area+8)")
    d.peek(PTRACE.PEEKTEXT, pid, d.sym("bp_target"), label="PEEKTEXT(bp_target)")
    d.peek(PTRACE.PEEKTEXT, pid, d.sym("word"), label="PEEKTEXT(&word)")  # the same thing on Linux
    d.peekdata(pid, d.sym("redirect"), label="PEEKDATA(redirect)")


@scenario("mem/peek-unaligned")
def mem_peek_unaligned(b, t):
    """PEEKDATA at every misalignment: Linux reads the 8 bytes there."""
    d = Dbg(b, t)
    pid = d.traceme()
    for k in range(1, 8):
        d.peekdata(pid, d.sym("word") + k, label=f"PEEKDATA(&word+{k})")
    for k in (3, 13, 29):
        d.peekdata(pid, d.sym("area") + k, label=f"PEEKDATA(&area+{k})")


@scenario("mem/poke-aligned")
def mem_poke_aligned(b, t):
    """POKEDATA writes a whole word (both halves); the target sees it."""
    d = Dbg(b, t)
    pid = d.traceme("idle")
    w, a = d.sym("word"), d.sym("area")
    d.pt(PTRACE.POKEDATA, pid, w, 0x0102030405060708, "POKEDATA(&word, 0x0102030405060708)")
    d.peekdata(pid, w, "PEEKDATA(&word)")
    d.pt(PTRACE.POKEDATA, pid, a + 8, -1, "POKEDATA(&area+8, -1)")
    d.peekdata(pid, a + 8, "PEEKDATA(&area+8)")
    d.peekdata(pid, a + 16, "PEEKDATA(&area+16)")
    d.pt(PTRACE.POKETEXT, pid, a + 16, 0x5A5A, "POKETEXT(&area+16, 0x5a5a)")
    d.peekdata(pid, a + 16, "PEEKDATA(&area+16)")
    d.run_to_b(pid)
    d.peekdata(pid, w, "PEEKDATA(&word) at B")
    d.finish(pid)


@scenario("mem/poke-unaligned")
def mem_poke_unaligned(b, t):
    """POKEDATA at misaligned addresses writes 8 bytes there and nothing else."""
    d = Dbg(b, t)
    pid = d.traceme()
    a = d.sym("area")
    for k in (1, 5, 11):
        d.pt(PTRACE.POKEDATA, pid, a + k, 0xA0A1A2A3A4A5A6A7 + k, f"POKEDATA(&area+{k})")
    for k in (0, 8, 16, 24):
        d.peekdata(pid, a + k, f"PEEKDATA(&area+{k})")


@scenario("mem/poke-text-readonly")
def mem_poke_text(b, t):
    """POKETEXT writes through read-only mappings (text and rodata), as a debugger's breakpoints need."""
    d = Dbg(b, t)
    pid = d.traceme("bp")
    bp, ro = d.sym("bp_target"), d.sym("rodata_word")
    orig = d.peek(PTRACE.PEEKTEXT, pid, bp, "PEEKTEXT(bp_target)")
    d.pt(PTRACE.POKETEXT, pid, bp, 0x9090909090909090, "POKETEXT(bp_target, nops)")
    d.peek(PTRACE.PEEKTEXT, pid, bp, "PEEKTEXT(bp_target)")
    d.pt(PTRACE.POKETEXT, pid, bp, orig or 0, "POKETEXT(bp_target, original)")
    d.peek(PTRACE.PEEKTEXT, pid, bp, "PEEKTEXT(bp_target)")
    d.pt(PTRACE.POKEDATA, pid, ro, 0x1234, "POKEDATA(&rodata_word, 0x1234)")
    d.peekdata(pid, ro, "PEEKDATA(&rodata_word)")
    to_b_and_exit(d, pid)


@scenario("mem/unmapped")
def mem_unmapped(b, t):
    """PEEK/POKE at unmapped, kernel and non-canonical addresses, and across the end of a mapping: EIO."""
    d = Dbg(b, t)
    pid = d.traceme()
    gap = mapping_gap(pid)
    d.obs.value("first mapping gap", gap)
    for addr in (0, 16, 0x1000, gap, gap + 0x1000, 0x7FFF_FFFF_FFF8, 0x8000_0000_0000):
        d.peekdata(pid, addr)
        d.pt(PTRACE.POKEDATA, pid, addr, 1, f"POKEDATA({addr:#x})")
    for k in (8, 7, 4, 1):  # the last word of the mapping, then words that run past its end
        d.peekdata(pid, gap - k, f"PEEKDATA(gap-{k})")
        d.pt(PTRACE.POKEDATA, pid, gap - k, 0x4242424242424242, f"POKEDATA(gap-{k})")
    d.peekdata(pid, gap - 8, "PEEKDATA(gap-8) after the failed pokes")
    d.peekdata(pid, gap - 16, "PEEKDATA(gap-16)")


@scenario("mem/kernel-addresses")
def mem_kernel(b, t):
    """PEEK/POKE at addresses with the top bit set (kernel half, vsyscall page, the last word): EIO."""
    d = Dbg(b, t)
    pid = d.traceme()
    for addr in (KERNEL_ADDR, 0xFFFF_FFFF_FF60_0000, 1 << 63, U64 - 7, U64):
        for req in (PTRACE.PEEKDATA, PTRACE.PEEKTEXT):
            d.peek(req, pid, addr)
        for req in (PTRACE.POKEDATA, PTRACE.POKETEXT):
            d.pt(req, pid, addr, 1, f"{PTRACE(req).name}({addr:#x})")


@scenario("mem/peek-caller-buffer")
def mem_peek_caller_buffer(b, t):
    """PEEK stores the word at `data`: a bad caller address is EFAULT, the peek itself still valid."""
    d = Dbg(b, t)
    pid = d.traceme()
    for req in (PTRACE.PEEKDATA, PTRACE.PEEKTEXT, PTRACE.PEEKUSER):
        addr = 0 if req == PTRACE.PEEKUSER else d.sym("word")
        d.pt(req, pid, addr, 8)
        d.pt(req, pid, addr, 0)
    d.pt(PTRACE.PEEKDATA, pid, 16, 8, "PEEKDATA(16, bad buffer)")  # which error wins


# -- the user area -------------------------------------------------------------------------------


@scenario("user/peek-registers")
def user_peek_registers(b, t):
    """PEEKUSER of every user_regs_struct offset, at the exec stop and at checkpoint A."""
    d = Dbg(b, t)
    pid = d.traceme(to_a=False)
    for name in REG_NAMES:
        d.peekuser(pid, OFF[name], f"PEEKUSER({name})")
    d.cont(pid)
    d.wait(pid)
    for name in REG_NAMES:
        d.peekuser(pid, OFF[name], f"PEEKUSER({name})")


@scenario("user/peek-rest-of-area")
def user_peek_rest(b, t):
    """PEEKUSER of every other aligned offset: u_fpvalid, i387, sizes, padding, u_comm, u_debugreg, tail."""
    d = Dbg(b, t)
    pid = d.traceme()
    for off in range(216, USER_SIZE, 8):
        d.peekuser(pid, off)


@scenario("user/peek-bad-offsets")
def user_peek_bad(b, t):
    """PEEKUSER out of range or misaligned: EIO."""
    d = Dbg(b, t)
    pid = d.traceme()
    for off in (USER_SIZE, USER_SIZE + 8, 4096, -8, 1 << 63, 1, 4, 7, 217, 852, DR + 60, 925):
        d.peekuser(pid, off & U64, f"PEEKUSER({off:#x})")


@scenario("user/poke-general-registers")
def user_poke_gprs(b, t):
    """POKEUSER of each general register and rip/rsp, read back by PEEKUSER and GETREGS."""
    d = Dbg(b, t)
    pid = d.traceme()
    for i, name in enumerate(("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi rsp".split())):
        d.pokeuser(pid, OFF[name], 0x1111111111111111 * (i % 15 + 1) & U64, f"POKEUSER({name})")
        d.peekuser(pid, OFF[name], f"PEEKUSER({name})")
    d.pokeuser(pid, OFF["rip"], d.sym("bp_target"), "POKEUSER(rip, bp_target)")
    d.getregs(pid, record=True)


@scenario("user/poke-segments")
def user_poke_segments(b, t):
    """POKEUSER of cs/ss/ds/es/fs/gs: valid user selectors, RPL 0 and garbage (EIO)."""
    d = Dbg(b, t)
    pid = d.traceme()
    for name in ("cs", "ss", "ds", "es", "fs", "gs"):
        for v in (0x33, 0x2B, 0x30, 0, 0x10000, 0xFFFF, 3):
            d.pokeuser(pid, OFF[name], v, f"POKEUSER({name}, {v:#x})")
            d.peekuser(pid, OFF[name], f"PEEKUSER({name})")
    d.getregs(pid, record=True)


@scenario("user/poke-bases-eflags")
def user_poke_bases(b, t):
    """POKEUSER of fs_base/gs_base (user, the last user page, kernel: EIO) and eflags (masked)."""
    d = Dbg(b, t)
    pid = d.traceme()
    for name in ("fs_base", "gs_base"):
        for v in (0x1000, 0x7FFF_FFFF_E000, 0x7FFF_FFFF_F000, KERNEL_ADDR, U64):
            d.pokeuser(pid, OFF[name], v, f"POKEUSER({name}, {v:#x})")
            d.peekuser(pid, OFF[name], f"PEEKUSER({name})")
    for v in (U64, 0, 0x100, 0x40000, 0x200000 | 0x4000 | 0x3000 | 0x200 | 0xCD5):
        d.pokeuser(pid, OFF["eflags"], v, f"POKEUSER(eflags, {v:#x})")
        d.peekuser(pid, OFF["eflags"], "PEEKUSER(eflags)")
    d.getregs(pid, record=True)


@scenario("user/poke-rest-of-area")
def user_poke_rest(b, t):
    """POKEUSER outside the registers and debug registers (u_fpvalid, i387, padding, u_comm, tail),
    out of range and misaligned: EIO, and nothing changes."""
    d = Dbg(b, t)
    pid = d.traceme()
    for off in (216, 220, 224, 248, 256, 728, 736, 776, 784, 792, 808, 816, 840, 912, 920, USER_SIZE, 4096,
                3, 9, 211, 849):
        d.pokeuser(pid, off, 0x41, f"POKEUSER({off})")
    d.getregs(pid, record=True)
    fx = bytearray(512)
    d.pt(PTRACE.GETFPREGS, pid, 0, fx)
    d.obs.bytes("fxsave", bytes(fx[:160]))


@scenario("user/debugreg-addresses")
def user_debugreg_addresses(b, t):
    """DR0-DR3 take user addresses (kernel ones: EINVAL, nothing changes); DR4/DR5 read 0, refuse writes."""
    d = Dbg(b, t)
    pid = d.traceme()
    for i in range(8):
        d.peekuser(pid, DR + 8 * i, f"PEEKUSER(DR{i})")
    for i in range(4):
        for v in (d.sym("counter"), 0x1000 * (i + 1), 0x7FFF_FFFF_EFFF, 0x7FFF_FFFF_F000, KERNEL_ADDR, 0):
            d.pokeuser(pid, DR + 8 * i, v, f"POKEUSER(DR{i}, {v:#x})")
            d.peekuser(pid, DR + 8 * i, f"PEEKUSER(DR{i})")
    for i in (4, 5):
        d.pokeuser(pid, DR + 8 * i, 1, f"POKEUSER(DR{i}, 1)")
        d.pokeuser(pid, DR + 8 * i, 0, f"POKEUSER(DR{i}, 0)")
        d.peekuser(pid, DR + 8 * i, f"PEEKUSER(DR{i})")
    for v in (0, 0xFFFF_FFFF, 0x4000):
        d.pokeuser(pid, DR + 48, v, f"POKEUSER(DR6, {v:#x})")
        d.peekuser(pid, DR + 48, "PEEKUSER(DR6)")


@scenario("user/debugreg-dr7")
def user_debugreg_dr7(b, t):
    """DR7 values: each kind and length, I/O (invalid), misaligned areas, reserved bits; read back."""
    d = Dbg(b, t)
    pid = d.traceme("watch")
    c = d.sym("counter")
    d.pokeuser(pid, DR, c, "POKEUSER(DR0, &counter)")
    d.pokeuser(pid, DR + 8, c + 1, "POKEUSER(DR1, &counter+1)")
    for v in (0x1, 0x2, 0x3, 0xD0101, 0xF0101, 0x50101, 0x90101, 0x10101, 0x00101, 0xB0101,
              0x20101, 0x101, 0x4, 0x100004, 0xD00004, 0x500004, 0x400, 0x2000, 0xFFFF_FFFF_0000_0001, 0):
        d.pokeuser(pid, DR + 56, v, f"POKEUSER(DR7, {v:#x})")
        d.peekuser(pid, DR + 56, "PEEKUSER(DR7)")
    d.pokeuser(pid, DR + 56, 0, "POKEUSER(DR7, 0)")
    to_b_and_exit(d, pid)


# -- registers -----------------------------------------------------------------------------------


@scenario("regs/getregs-stops")
def regs_getregs(b, t):
    """GETREGS at the exec stop, at A and at B (after the body's system calls)."""
    d = Dbg(b, t)
    pid = d.traceme("syscalls", to_a=False)
    d.getregs(pid, record=True)
    d.cont(pid)
    d.wait(pid)
    d.getregs(pid, record=True)
    d.run_to_b(pid)
    d.getregs(pid, record=True)
    globals_(d, pid, "r_getpid", "r_write", "r_getppid")
    d.finish(pid)


@scenario("regs/setregs-round-trip")
def regs_setregs_round_trip(b, t):
    """SETREGS of what GETREGS gave changes nothing; changed callee-saved registers read back."""
    d = Dbg(b, t)
    pid = d.traceme()
    r = d.getregs(pid)
    d.setregs(pid, r)
    d.getregs(pid, record=True)
    r.update(r12=0x5555, r13=0x6666, rbx=0x7777, r8=U64, rax=0x80000000)
    d.setregs(pid, r, "SETREGS(changed)")
    d.getregs(pid, record=True)
    to_b_and_exit(d, pid)


@scenario("regs/setregs-rip")
def regs_setregs_rip(b, t):
    """SETREGS moves rip: the target runs `redirect` and exits 42."""
    d = Dbg(b, t)
    pid = d.traceme()
    r = d.getregs(pid)
    r["rip"] = d.sym("redirect")
    d.setregs(pid, r)
    d.cont(pid)
    d.wait(pid)


@scenario("regs/setregs-invalid")
def regs_setregs_invalid(b, t):
    """SETREGS with a bad selector or base: EIO; eflags beyond the user mask is masked, not refused.
    Which registers before the bad one were written is observed too."""
    d = Dbg(b, t)
    pid = d.traceme()
    base = d.getregs(pid)
    for name, v in (("cs", 0x30), ("ss", 0x10), ("ds", 0x10000), ("fs_base", KERNEL_ADDR),
                    ("gs_base", U64), ("eflags", U64)):
        r = dict(base, r15=0xDEAD, gs=0, rbx=0xBEEF, **{name: v})
        d.setregs(pid, r, f"SETREGS(r15=0xdead, rbx=0xbeef, {name}={v:#x})")
        d.getregs(pid, record=True)
        d.setregs(pid, base, "SETREGS(original)")


@scenario("regs/fpregs-round-trip")
def regs_fpregs(b, t):
    """GETFPREGS/SETFPREGS: a new MXCSR and xmm15 read back, and the target computes with them."""
    d = Dbg(b, t)
    pid = d.traceme("fpu")
    fx = bytearray(512)
    d.pt(PTRACE.GETFPREGS, pid, 0, fx)
    d.obs.bytes("fxsave[0:32]", bytes(fx[:32]))
    fx[24:28] = (0x1F80 | 0x8000 | 0x6000).to_bytes(4, "little")  # FZ, round toward zero
    fx[160 + 15 * 16:160 + 16 * 16] = bytes(range(0xA0, 0xB0))  # xmm15
    fx[32:42] = (0x3FFF8000000000000000).to_bytes(10, "little")  # st0 = 1.0
    d.pt(PTRACE.SETFPREGS, pid, 0, fx)
    out = bytearray(512)
    d.pt(PTRACE.GETFPREGS, pid, 0, out)
    d.obs.value("GETFPREGS == what SETFPREGS wrote (bytes 0..416)", out[:416] == fx[:416])
    d.obs.bytes("fxsave[0:48]", bytes(out[:48]))
    d.run_to_b(pid)
    d.peekdata(pid, d.sym("fpout"), "PEEKDATA(&fpout)")
    d.peekdata(pid, d.sym("fpout") + 8, "PEEKDATA(&fpout+8)")
    d.peekdata(pid, d.sym("mxcsr_out"), "PEEKDATA(&mxcsr_out)")
    d.finish(pid)


@scenario("regs/fpregs-invalid-mxcsr")
def regs_fpregs_invalid(b, t):
    """SETFPREGS with MXCSR reserved bits set: refused (EINVAL), the old state stays."""
    d = Dbg(b, t)
    pid = d.traceme()
    fx = bytearray(512)
    d.pt(PTRACE.GETFPREGS, pid, 0, fx)
    bad = bytearray(fx)
    bad[24:28] = (0xFFFF_FFFF).to_bytes(4, "little")
    bad[160:176] = b"\x11" * 16
    d.pt(PTRACE.SETFPREGS, pid, 0, bad, "SETFPREGS(mxcsr=0xffffffff)")
    out = bytearray(512)
    d.pt(PTRACE.GETFPREGS, pid, 0, out)
    d.obs.bytes("mxcsr", bytes(out[24:28]))
    d.obs.bytes("xmm0", bytes(out[160:176]))


@scenario("regs/bad-caller-buffers")
def regs_efault(b, t):
    """GETREGS/SETREGS/GETFPREGS/SETFPREGS with an unusable caller buffer: EFAULT."""
    d = Dbg(b, t)
    pid = d.traceme()
    for req in (PTRACE.GETREGS, PTRACE.SETREGS, PTRACE.GETFPREGS, PTRACE.SETFPREGS):
        d.pt(req, pid, 0, 16)
        d.pt(req, pid, 0, 0)
    d.getregs(pid, record=True)


# -- resuming ------------------------------------------------------------------------------------


@scenario("resume/cont-with-signal")
def resume_cont_signal(b, t):
    """CONT with a handled signal runs the handler; CONT with a fatal one kills; addr=1 is ignored."""
    d = Dbg(b, t)
    pid = d.traceme()
    d.pt(PTRACE.CONT, pid, 1, USR1, "CONT(addr=1, SIGUSR1)")
    d.wait(pid)
    globals_(d, pid, "usr1_hits", "counter")
    d.cont(pid, TERM)
    d.wait(pid)


@scenario("resume/singlestep")
def resume_singlestep(b, t):
    """SINGLESTEP through the body: each stop's rip and eflags, and DR6.BS."""
    d = Dbg(b, t)
    pid = d.traceme("steps")
    for _ in range(25):
        d.pt(PTRACE.SINGLESTEP, pid, 1, 0, "SINGLESTEP(addr=1)")
        d.wait(pid)
        sub(d, pid, ("rip", "eflags", "orig_rax"))
    d.peekuser(pid, DR + 48, "PEEKUSER(DR6)")
    to_b_and_exit(d, pid)


@scenario("resume/singlestep-syscall")
def resume_singlestep_syscall(b, t):
    """SINGLESTEP over `syscall` instructions: the stop after each, with the result in rax."""
    d = Dbg(b, t)
    pid = d.traceme("syscalls")
    seen = 0
    for _ in range(400):
        d.b.ptrace(PTRACE.SINGLESTEP, pid, 0, 0)
        ret, st = d.b.wait4(pid, 0)
        if ret != pid:
            d.obs.wait(ret, st)
            return
        r = d.getregs(pid)
        if r is None:
            return
        word = d.b.peek(PTRACE.PEEKTEXT, pid, r["rip"] - 2)[1] or 0
        if word & 0xFFFF == 0x050F:  # just after a syscall instruction
            d.obs.wait(ret, st)
            # r11 holds RFLAGS as the syscall instruction saved them; their PF/AF bits follow
            # the last arithmetic, which varies from run to run even on the host alone.
            d.obs.regs({n: r[n] for n in ("rip", "rax", "orig_rax", "rcx", "r11")}, volatile={"r11"})
            d.peekuser(pid, DR + 48, "PEEKUSER(DR6)")
            # x86 reports this step as TRAP_BRKPT (not TRAP_TRACE) with si_addr the pc; gdb takes
            # an SI_KERNEL here for an int3 and moves the pc back one byte
            info = bytearray(128)
            ret = d.b.ptrace(PTRACE.GETSIGINFO, pid, 0, info)
            signo, _, code = struct.unpack_from("<iii", info)
            addr = struct.unpack_from("<Q", info, 16)[0]
            d.obs.value("GETSIGINFO after the step", (ret, signo, code, "pc" if addr == r["rip"] else hex(addr)))
            seen += 1
            if seen == 3:
                break
    d.obs.value("syscall instructions stepped over", seen)
    to_b_and_exit(d, pid)


@scenario("resume/singlestep-into-handler")
def resume_singlestep_signal(b, t):
    """SINGLESTEP with a signal: the step stops at the handler's first instruction."""
    d = Dbg(b, t)
    pid = d.traceme("idle")
    d.step(pid, USR1)
    d.wait(pid)
    r = sub(d, pid, ("rip", "orig_rax", "rdi"))
    if r is not None:
        d.obs.value("rip == on_usr1", r["rip"] == d.sym("on_usr1"))
    for _ in range(3):
        d.step(pid)
        d.wait(pid)
        sub(d, pid, ("rip",))
    d.run_to_b(pid)
    globals_(d, pid, "usr1_hits")
    d.finish(pid)


# -- signal-delivery stops -----------------------------------------------------------------------


@scenario("signal/stop-and-suppress")
def signal_suppress(b, t):
    """A signal sent to a stopped tracee gives a signal-delivery stop on resume; CONT 0 suppresses it."""
    d = Dbg(b, t)
    pid = d.traceme()
    d.obs.call("kill(SIGUSR1)", d.b.kill(pid, USR1))
    d.cont(pid)
    d.wait(pid)
    d.getregs(pid, record=True)
    d.run_to_b(pid)
    globals_(d, pid, "usr1_hits")
    d.finish(pid)


@scenario("signal/stop-and-deliver")
def signal_deliver(b, t):
    """CONT with the stop's signal delivers it: the handler runs once."""
    d = Dbg(b, t)
    pid = d.traceme()
    d.b.kill(pid, USR1)
    d.cont(pid)
    d.wait(pid)
    d.cont(pid, USR1)
    d.wait(pid)
    globals_(d, pid, "usr1_hits", "counter")
    d.finish(pid)


@scenario("signal/stop-and-replace")
def signal_replace(b, t):
    """CONT with another signal than the one stopped for delivers the tracer's."""
    d = Dbg(b, t)
    pid = d.traceme()
    d.b.kill(pid, USR1)
    d.cont(pid)
    d.wait(pid)
    d.cont(pid, RT38)
    d.wait(pid)
    globals_(d, pid, "usr1_hits", "rt_hits")
    d.finish(pid)


@scenario("signal/queue-order")
def signal_queue(b, t):
    """Standard signals coalesce, real-time ones queue; delivery order: lowest number first."""
    d = Dbg(b, t)
    pid = d.traceme()
    for sig in (RT38, USR1, RT38, USR1, 36):
        d.obs.call(f"kill({signame(sig)})", d.b.kill(pid, sig))
    d.cont(pid)
    for _ in range(5):
        st = d.wait(pid)
        if st < 0 or not (st & 0xFF) == 0x7F or (st >> 8) & 0xFF == TRAP:
            break
        sig = (st >> 8) & 0xFF
        d.cont(pid, sig if sig != 36 else 0)
    globals_(d, pid, "usr1_hits", "rt_hits")
    d.finish(pid)


@scenario("signal/realtime-edges")
def signal_rt_edges(b, t):
    """Signals 32, 33, SIGRTMIN+0 and SIGRTMAX (64) each give a stop and are suppressed."""
    d = Dbg(b, t)
    pid = d.traceme()
    for sig in (32, 33, 34, 64):
        d.obs.call(f"kill({sig})", d.b.kill(pid, sig))
        d.cont(pid)
        d.wait(pid)
    to_b_and_exit(d, pid)


@scenario("signal/sigstop")
def signal_sigstop(b, t):
    """SIGSTOP to a tracee: a SIGSTOP stop; CONT 0 goes on."""
    d = Dbg(b, t)
    pid = d.traceme()
    d.b.kill(pid, STOP)
    d.cont(pid)
    d.wait(pid)
    to_b_and_exit(d, pid)


@scenario("signal/sigkill-while-stopped")
def signal_sigkill(b, t):
    """SIGKILL to a stopped tracee kills it; the wait says so."""
    d = Dbg(b, t)
    pid = d.traceme()
    d.obs.call("kill(SIGKILL)", d.b.kill(pid, KILL))
    d.wait(pid)


@scenario("signal/self-sent-in-syscall")
def signal_self_sent(b, t):
    """A signal the target sends itself stops it on its way out of kill(): orig_rax is the call."""
    d = Dbg(b, t)
    pid = d.traceme("raise")
    d.cont(pid)
    d.wait(pid)
    sub(d, pid)
    d.cont(pid, USR1)
    d.wait(pid)
    globals_(d, pid, "usr1_hits")
    d.finish(pid)


@scenario("signal/interrupts-pause")
def signal_pause(b, t):
    """A signal while the target blocks in pause(): the stop shows pause and -ERESTARTNOHAND;
    delivering it ends pause() with EINTR."""
    d = Dbg(b, t)
    pid = d.traceme("pause")
    d.cont(pid)
    d.wait(pid, 1)
    _settle(pid)
    d.b.kill(pid, USR1)
    d.wait(pid)
    sub(d, pid)
    d.cont(pid, USR1)
    d.wait(pid)
    globals_(d, pid, "usr1_hits")
    d.finish(pid)


@scenario("signal/fault-segv")
def signal_segv(b, t):
    """A SIGSEGV fault: stop at the faulting instruction; CONT 0 faults again; CONT SIGSEGV kills."""
    d = Dbg(b, t)
    pid = d.traceme("segv")
    d.cont(pid)
    d.wait(pid)
    sub(d, pid, ("rip", "orig_rax"))
    d.cont(pid)
    d.wait(pid)
    sub(d, pid, ("rip",))
    d.cont(pid, SEGV)
    d.wait(pid)


# -- system-call stops ---------------------------------------------------------------------------


@scenario("syscall/stops")
def syscall_stops(b, t):
    """PTRACE_SYSCALL: entry (orig_rax = number, rax = -ENOSYS) and exit (rax = result) stops for
    getpid, write(1000) = -EBADF, getppid; then the int3; then exit_group and the exit."""
    d = Dbg(b, t)
    pid = d.traceme("syscalls")
    syscall_stop(d, pid, 7)
    for _ in range(4):
        d.syscall(pid)
        if d.wait(pid) < 0 or not d.obs.entries[-1].endswith("SIGTRAP"):
            break
        sub(d, pid)


@scenario("syscall/startup-sequence")
def syscall_startup(b, t):
    """PTRACE_SYSCALL from the exec stop: the first system calls of a static program, with args."""
    d = Dbg(b, t)
    pid = d.traceme(to_a=False)
    syscall_stop(d, pid, 24)


@scenario("syscall/skip")
def syscall_skip(b, t):
    """orig_rax = -1 at entry skips the call: the exit stop shows -ENOSYS and the target gets it."""
    d = Dbg(b, t)
    pid = d.traceme("syscalls")
    r = syscall_stop(d, pid, 1)  # getpid entry
    r["orig_rax"] = U64
    d.setregs(pid, r, "SETREGS(orig_rax=-1)")
    syscall_stop(d, pid, 1)  # exit
    d.run_to_b(pid)
    globals_(d, pid, "r_getpid", "r_write")
    d.finish(pid)


@scenario("syscall/skip-and-fake-result")
def syscall_skip_fake(b, t):
    """Skip a call at entry and write its result at the exit stop (rax)."""
    d = Dbg(b, t)
    pid = d.traceme("syscalls")
    syscall_stop(d, pid, 1)
    d.pokeuser(pid, OFF["orig_rax"], U64, "POKEUSER(orig_rax, -1)")
    syscall_stop(d, pid, 1)
    d.pokeuser(pid, OFF["rax"], 1234, "POKEUSER(rax, 1234)")
    d.run_to_b(pid)
    globals_(d, pid, "r_getpid")
    d.finish(pid)


@scenario("syscall/change-number")
def syscall_change_number(b, t):
    """Changing orig_rax at entry (getpid -> getppid) runs the other call."""
    d = Dbg(b, t)
    pid = d.traceme("syscalls")
    r = syscall_stop(d, pid, 1)
    r["orig_rax"] = NR["getppid"]
    d.setregs(pid, r, "SETREGS(orig_rax=getppid)")
    syscall_stop(d, pid, 1)
    d.run_to_b(pid)
    w = d.peekdata(pid, d.sym("r_getpid"), "PEEKDATA(&r_getpid)")
    d.obs.value("r_getpid == the tracer's pid", w == __import__("os").getpid())
    d.finish(pid)


@scenario("syscall/change-number-pokeuser")
def syscall_change_number_pokeuser(b, t):
    """POKEUSER(orig_rax) at entry changes the call too; at exit it changes nothing that runs."""
    d = Dbg(b, t)
    pid = d.traceme("syscalls")
    syscall_stop(d, pid, 1)
    d.pokeuser(pid, OFF["orig_rax"], NR["getppid"], "POKEUSER(orig_rax, getppid)")
    syscall_stop(d, pid, 1)
    d.pokeuser(pid, OFF["orig_rax"], NR["getpid"], "POKEUSER(orig_rax, getpid) at exit")
    sub(d, pid, ("orig_rax", "rax"))
    d.run_to_b(pid)
    w = d.peekdata(pid, d.sym("r_getpid"), "PEEKDATA(&r_getpid)")
    d.obs.value("r_getpid == the tracer's pid", w == __import__("os").getpid())
    d.finish(pid)


@scenario("syscall/change-arguments")
def syscall_change_args(b, t):
    """Changing argument registers at entry: write(1000, &word, 8) becomes write(-1, &word, 0)."""
    d = Dbg(b, t)
    pid = d.traceme("syscalls")
    syscall_stop(d, pid, 3)  # getpid entry, exit, write entry
    d.pokeuser(pid, OFF["rdi"], U64, "POKEUSER(rdi, -1)")
    d.pokeuser(pid, OFF["rdx"], 0, "POKEUSER(rdx, 0)")
    syscall_stop(d, pid, 1)
    d.run_to_b(pid)
    globals_(d, pid, "r_write")
    d.finish(pid)


@scenario("syscall/change-result")
def syscall_change_result(b, t):
    """Writing rax at an exit stop changes what the call returns."""
    d = Dbg(b, t)
    pid = d.traceme("syscalls")
    r = syscall_stop(d, pid, 6)  # getppid exit
    r["rax"] = 77
    d.setregs(pid, r, "SETREGS(rax=77)")
    d.run_to_b(pid)
    globals_(d, pid, "r_getppid")
    d.finish(pid)


@scenario("syscall/syscall-with-signal")
def syscall_with_signal(b, t):
    """PTRACE_SYSCALL(sig) from a signal-delivery stop: the handler runs, and the next syscall stop
    is its rt_sigreturn entry."""
    d = Dbg(b, t)
    pid = d.traceme()
    d.b.kill(pid, USR1)
    d.cont(pid)
    d.wait(pid)
    d.syscall(pid, USR1)
    d.wait(pid)
    sub(d, pid, ("orig_rax", "rax", "rip"))
    syscall_stop(d, pid, 1)
    d.run_to_b(pid)
    globals_(d, pid, "usr1_hits")
    d.finish(pid)


@scenario("syscall/step-from-entry")
def syscall_step_from_entry(b, t):
    """SINGLESTEP from a syscall-entry stop: the call runs and the step stops after it."""
    d = Dbg(b, t)
    pid = d.traceme("syscalls")
    syscall_stop(d, pid, 1)
    d.step(pid)
    d.wait(pid)
    sub(d, pid, ("orig_rax", "rax", "rip"))
    d.peekuser(pid, DR + 48, "PEEKUSER(DR6)")
    d.step(pid)
    d.wait(pid)
    sub(d, pid, ("orig_rax", "rip"))
    d.run_to_b(pid)
    globals_(d, pid, "r_getpid")
    d.finish(pid)


@scenario("syscall/signal-at-syscall-stop")
def syscall_signal(b, t):
    """A signal pending at a syscall-entry stop: the call runs, then the signal-delivery stop."""
    d = Dbg(b, t)
    pid = d.traceme("syscalls")
    syscall_stop(d, pid, 1)
    d.b.kill(pid, USR1)
    syscall_stop(d, pid, 2)
    d.cont(pid, USR1)
    d.wait(pid)
    globals_(d, pid, "usr1_hits", "r_getpid")
    d.finish(pid)


# -- breakpoints and watchpoints -----------------------------------------------------------------


@scenario("breakpoint/int3")
def bp_int3(b, t):
    """A breakpoint written with POKETEXT: SIGTRAP stop with rip = address + 1; restore, rip - 1, go on."""
    d = Dbg(b, t)
    pid = d.traceme("bp")
    bp = d.sym("bp_target")
    orig = d.peek(PTRACE.PEEKTEXT, pid, bp, "PEEKTEXT(bp_target)") or 0
    d.pt(PTRACE.POKETEXT, pid, bp, (orig & ~0xFF) | 0xCC, "POKETEXT(bp_target, int3)")
    d.cont(pid)
    d.wait(pid)
    r = sub(d, pid, ("rip", "orig_rax"))
    d.obs.value("rip - bp_target", (r["rip"] - bp) if r else None)
    d.pt(PTRACE.POKETEXT, pid, bp, orig, "POKETEXT(bp_target, original)")
    d.pokeuser(pid, OFF["rip"], bp, "POKEUSER(rip, bp_target)")
    d.run_to_b(pid)
    globals_(d, pid, "counter")
    d.peekuser(pid, DR + 48, "PEEKUSER(DR6)")
    d.finish(pid)


@scenario("breakpoint/step-over-reinsert")
def bp_step_over(b, t):
    """gdb's step-over: hit, restore, rip - 1, SINGLESTEP, reinsert, CONT to the second hit."""
    d = Dbg(b, t)
    pid = d.traceme("bp")
    bp = d.sym("bp_target")
    orig = d.peek(PTRACE.PEEKTEXT, pid, bp, "PEEKTEXT(bp_target)") or 0
    trap = (orig & ~0xFF) | 0xCC
    d.pt(PTRACE.POKETEXT, pid, bp, trap, "POKETEXT(int3)")
    for hit in range(2):
        d.cont(pid)
        d.wait(pid)
        sub(d, pid, ("rip",))
        d.pt(PTRACE.POKETEXT, pid, bp, orig, "POKETEXT(original)")
        d.pokeuser(pid, OFF["rip"], bp, "POKEUSER(rip, bp_target)")
        d.step(pid)
        d.wait(pid)
        sub(d, pid, ("rip",))
        d.peekuser(pid, DR + 48, "PEEKUSER(DR6)")
        if hit == 0:
            d.pt(PTRACE.POKETEXT, pid, bp, trap, "POKETEXT(int3 again)")
    d.run_to_b(pid)
    globals_(d, pid, "counter")
    d.finish(pid)


@scenario("watch/write-4")
def watch_write(b, t):
    """gdb's hardware watchpoint: DR7=0, DR0=&counter, DR7=0xd0101, DR6=0; each write traps after it."""
    d = Dbg(b, t)
    pid = d.traceme("watch")
    c = d.sym("counter")
    d.pokeuser(pid, DR + 56, 0, "POKEUSER(DR7, 0)")
    d.pokeuser(pid, DR, c, "POKEUSER(DR0, &counter)")
    d.pokeuser(pid, DR + 56, 0xD0101, "POKEUSER(DR7, 0xd0101)")
    d.pokeuser(pid, DR + 48, 0, "POKEUSER(DR6, 0)")
    for _ in range(2):
        d.cont(pid)
        d.wait(pid)
        sub(d, pid, ("rip", "orig_rax"))
        for i in (0, 6, 7):
            d.peekuser(pid, DR + 8 * i, f"PEEKUSER(DR{i})")
        globals_(d, pid, "counter")
        d.pokeuser(pid, DR + 48, 0, "POKEUSER(DR6, 0)")
    d.pokeuser(pid, DR + 56, 0, "POKEUSER(DR7, 0)")
    d.run_to_b(pid)
    d.peekuser(pid, DR + 48, "PEEKUSER(DR6)")
    d.finish(pid)


@scenario("watch/rw-8-slot1")
def watch_rw8(b, t):
    """A read/write watchpoint of 8 bytes in DR1 on `word`."""
    d = Dbg(b, t)
    pid = d.traceme("watch")
    d.pokeuser(pid, DR + 8, d.sym("word"), "POKEUSER(DR1, &word)")
    dr7 = (1 << 2) | (0b11 << 20) | (0b10 << 22)
    d.pokeuser(pid, DR + 56, dr7, f"POKEUSER(DR7, {dr7:#x})")
    d.cont(pid)
    d.wait(pid)
    sub(d, pid, ("rip",))
    d.peekuser(pid, DR + 48, "PEEKUSER(DR6)")
    globals_(d, pid, "word", "counter")
    d.pokeuser(pid, DR + 56, 0, "POKEUSER(DR7, 0)")
    to_b_and_exit(d, pid)


@scenario("watch/exec-slot2")
def watch_exec(b, t):
    """An instruction breakpoint in DR2 on bp_target: traps before the instruction runs."""
    d = Dbg(b, t)
    pid = d.traceme("bp")
    d.pokeuser(pid, DR + 16, d.sym("bp_target"), "POKEUSER(DR2, bp_target)")
    d.pokeuser(pid, DR + 56, 1 << 4, "POKEUSER(DR7, L2)")
    d.cont(pid)
    d.wait(pid)
    r = sub(d, pid, ("rip",))
    d.obs.value("rip == bp_target", r is not None and r["rip"] == d.sym("bp_target"))
    d.peekuser(pid, DR + 48, "PEEKUSER(DR6)")
    globals_(d, pid, "counter")
    d.pokeuser(pid, DR + 56, 0, "POKEUSER(DR7, 0)")
    d.run_to_b(pid)
    globals_(d, pid, "counter")
    d.finish(pid)


# -- ATTACH / DETACH / KILL ----------------------------------------------------------------------


@scenario("attach/stop-regs-detach")
def attach_detach(b, t):
    """ATTACH: a SIGSTOP stop inside pause(); DETACH 0 lets it go (untraced, still waiting)."""
    d = Dbg(b, t)
    pid = d.plain()
    d.pt(PTRACE.ATTACH, pid)
    d.wait(pid)
    sub(d, pid)
    d.peekdata(pid, d.sym("word"), "PEEKDATA(&word)")
    d.pt(PTRACE.DETACH, pid, 0, 0)
    d.pt(PTRACE.GETREGS, pid, 0, bytearray(216))
    d.obs.call("kill(SIGUSR1)", d.b.kill(pid, USR1))
    d.wait(pid)


@scenario("attach/detach-with-signal")
def attach_detach_signal(b, t):
    """A signal-delivery stop of an attached process, passed on with DETACH(sig)."""
    d = Dbg(b, t)
    pid = d.plain()
    d.pt(PTRACE.ATTACH, pid)
    d.wait(pid)
    d.cont(pid)
    _settle(pid)
    d.b.kill(pid, USR1)
    d.wait(pid)
    sub(d, pid, ("orig_rax", "rax"))
    d.pt(PTRACE.DETACH, pid, 0, USR1, "DETACH(SIGUSR1)")
    d.wait(pid)


@scenario("attach/kill")
def attach_kill(b, t):
    """PTRACE_KILL of an attached, stopped process."""
    d = Dbg(b, t)
    pid = d.plain()
    d.pt(PTRACE.ATTACH, pid)
    d.wait(pid)
    d.pt(PTRACE.KILL, pid)
    d.wait(pid)


@scenario("attach/sigkill-while-stopped")
def attach_sigkill(b, t):
    """SIGKILL from outside to an attached process stopped at its attach stop: the wait reports it."""
    d = Dbg(b, t)
    pid = d.plain()
    d.pt(PTRACE.ATTACH, pid)
    d.wait(pid)
    d.obs.call("kill(SIGKILL)", d.b.kill(pid, KILL))
    d.wait(pid, timeout=bound(15.0))


@scenario("attach/exit-while-attached")
def attach_exit(b, t):
    """An attached process that exits (after a handled signal) is reported as exited to the tracer."""
    d = Dbg(b, t)
    pid = d.plain()
    d.pt(PTRACE.ATTACH, pid)
    d.wait(pid)
    d.cont(pid)
    _settle(pid)
    d.b.kill(pid, USR1)
    d.wait(pid)
    d.cont(pid, USR1)
    d.wait(pid, timeout=bound(15.0))


@scenario("attach/errors")
def attach_errors(b, t):
    """ATTACH to self, to a missing pid, twice, and to a process traced by TRACEME: EPERM/ESRCH."""
    import os

    d = Dbg(b, t)
    d.pt(PTRACE.ATTACH, os.getpid(), label="ATTACH(self)")
    d.pt(PTRACE.ATTACH, 0x3FFFFFF0, label="ATTACH(missing pid)")
    d.pt(PTRACE.ATTACH, 0, label="ATTACH(0)")
    pid = d.plain()
    d.pt(PTRACE.ATTACH, pid)
    d.wait(pid)
    d.pt(PTRACE.ATTACH, pid, label="ATTACH(again)")
    d.pt(PTRACE.DETACH, pid, 0, 0)
    traced = d.traceme()
    d.obs.alias(traced, "<traced>")
    d.pt(PTRACE.ATTACH, traced, label="ATTACH(our TRACEME child)")


@scenario("attach/running-requests")
def attach_running(b, t):
    """An attached process that runs again: requests are ESRCH until it stops; DETACH 0 of a
    signal-delivery stop discards the signal."""
    d = Dbg(b, t)
    pid = d.plain()
    d.pt(PTRACE.ATTACH, pid)
    d.wait(pid)
    d.cont(pid)
    _settle(pid)
    d.pt(PTRACE.GETREGS, pid, 0, bytearray(216))
    d.pt(PTRACE.DETACH, pid, 0, 0)
    d.b.kill(pid, USR1)
    d.wait(pid)
    d.pt(PTRACE.DETACH, pid, 0, 0)
    _settle(pid)
    d.obs.value("alive after a discarded SIGUSR1", _alive(pid))
    d.b.kill(pid, USR1)
    d.wait(pid)


@scenario("kill/stopped")
def kill_stopped(b, t):
    """PTRACE_KILL of a stopped tracee: it dies of SIGKILL."""
    d = Dbg(b, t)
    pid = d.traceme()
    d.pt(PTRACE.KILL, pid)
    d.wait(pid)
    d.pt(PTRACE.KILL, pid, label="KILL(after the exit)")


@scenario("kill/running")
def kill_running(b, t):
    """PTRACE_KILL of a running tracee (blocked in pause())."""
    d = Dbg(b, t)
    pid = d.traceme("pause")
    d.cont(pid)
    _settle(pid)
    d.pt(PTRACE.KILL, pid)
    _settle(pid, dead_ok=True)
    d.wait(pid, 1)
    d.obs.call("kill(SIGUSR1)", d.b.kill(pid, USR1))
    d.wait(pid)


# -- errno paths ---------------------------------------------------------------------------------


@scenario("errno/unknown-request")
def errno_unknown(b, t):
    """Requests that do not exist: EIO (for a stopped tracee and for a non-tracee)."""
    d = Dbg(b, t)
    pid = d.traceme()
    for req in (10, 11, 20, 23, 0x41FF, 0x9999, 0x7FFFFFFF):
        d.pt(req, pid, 0, 0, f"request {req:#x}")
    other = d.plain()
    d.pt(0x9999, other, 0, 0, "request 0x9999 (not traced)")


@scenario("errno/not-traced")
def errno_not_traced(b, t):
    """Requests on processes this tracer does not trace (an untraced child, ourselves, none): ESRCH."""
    import os

    d = Dbg(b, t)
    other = d.plain()
    for pid, who in ((other, "untraced child"), (os.getpid(), "self"), (0x3FFFFFF0, "missing")):
        for req in (PTRACE.PEEKDATA, PTRACE.POKEDATA, PTRACE.PEEKUSER, PTRACE.POKEUSER, PTRACE.GETREGS,
                    PTRACE.SETREGS, PTRACE.GETFPREGS, PTRACE.CONT, PTRACE.SINGLESTEP, PTRACE.SYSCALL,
                    PTRACE.DETACH, PTRACE.KILL):
            data = bytearray(512) if req in (PTRACE.GETREGS, PTRACE.SETREGS, PTRACE.GETFPREGS) else 0
            d.pt(req, pid, 0, data, f"{PTRACE(req).name} ({who})")
    d.obs.value("untraced child alive", _alive(other))


@scenario("errno/not-stopped")
def errno_not_stopped(b, t):
    """Requests on a running tracee: ESRCH; the tracee is unaffected."""
    d = Dbg(b, t)
    pid = d.traceme("pause")
    d.cont(pid)
    _settle(pid)
    w = d.sym("word")
    for req, addr, data in ((PTRACE.PEEKDATA, w, bytearray(8)), (PTRACE.POKEDATA, w, 1),
                            (PTRACE.PEEKUSER, 0, bytearray(8)), (PTRACE.POKEUSER, 0, 1),
                            (PTRACE.GETREGS, 0, bytearray(216)), (PTRACE.SETREGS, 0, bytearray(216)),
                            (PTRACE.GETFPREGS, 0, bytearray(512)), (PTRACE.SETFPREGS, 0, bytearray(512)),
                            (PTRACE.CONT, 0, 0), (PTRACE.SINGLESTEP, 0, 0), (PTRACE.SYSCALL, 0, 0),
                            (PTRACE.DETACH, 0, 0), (PTRACE.CONT, 0, 99)):
        d.pt(req, pid, addr, data, f"{PTRACE(req).name}(running)")
    d.b.kill(pid, USR1)
    d.wait(pid)
    d.peekdata(pid, w, "PEEKDATA(&word)")
    d.cont(pid, USR1)
    d.wait(pid)
    d.finish(pid)


@scenario("errno/bad-signal")
def errno_bad_signal(b, t):
    """CONT/SINGLESTEP/SYSCALL/DETACH with a signal outside 0..64: EIO, and the tracee stays stopped."""
    d = Dbg(b, t)
    pid = d.traceme()
    for req in (PTRACE.CONT, PTRACE.SINGLESTEP, PTRACE.SYSCALL, PTRACE.DETACH):
        for sig in (65, 128, -1, (1 << 32) + 65):
            d.pt(req, pid, 0, sig, f"{PTRACE(req).name}(sig={sig})")
    d.pt(PTRACE.CONT, pid, 0, 64, "CONT(sig=64)")
    d.wait(pid)


@scenario("errno/detach-signal-width")
def errno_detach_width(b, t):
    """DETACH takes its signal as an unsigned int: data = 2**32 + SIGUSR1 detaches with SIGUSR1."""
    d = Dbg(b, t)
    pid = d.plain()
    d.pt(PTRACE.ATTACH, pid)
    d.wait(pid)
    d.pt(PTRACE.CONT, pid, 0, (1 << 32) + USR1, "CONT(2**32 + SIGUSR1)")
    d.pt(PTRACE.DETACH, pid, 0, (1 << 32) + USR1, "DETACH(2**32 + SIGUSR1)")
    d.wait(pid, timeout=bound(15.0))


@scenario("errno/wait")
def errno_wait(b, t):
    """wait4 for a pid that is not a child: ECHILD; with unknown options: EINVAL."""
    d = Dbg(b, t)
    d.wait(0x3FFFFFF0)
    pid = d.traceme()
    d.wait(pid, 0x100)
    d.wait(pid, 1)  # nothing new: it is already stopped and reported


def _settle(pid: int, timeout: float = bound(10.0), dead_ok: bool = False) -> None:
    """Wait (bounded) until `pid` sleeps or is stopped/dead: a quiet point after a resume."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            return
        if state in (b"S", b"t", b"T", b"Z", b"X"):
            return
        time.sleep(0.002)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False
