"""The conformance targets: small static C programs, compiled at run time and cached.

Scenarios must see the same addresses under both backends, so the target is linked static and
non-PIE (its symbols are link-time constants, read with `nm`), started with ASLR off
(personality(ADDR_NO_RANDOMIZE) in the child before exec), and exec'ed with the same argv and
a fixed environment (the lx child inherits NATIVE_PROC_SOCKET, which would otherwise move the
initial stack).

The target, `conf`, takes its mode as argv[1].  Every traced mode runs: set-up (handlers),
checkpoint A (an `int3`: a SIGTRAP stop the tracer resumes with signal 0), the mode's body,
checkpoint B, then `exit(0)` -- unless the body exits otherwise.  Modes:

  idle       nothing                     syscalls  getpid, write(1000, ..) = -EBADF, getppid
  steps      a few plain instructions    watch     writes counter, word, counter
  bp         calls bp_target() twice     fpu       stores %xmm15 and MXCSR into fpout / mxcsr_out
  pause      pause() until a handled signal
  raise      kill(getpid(), SIGUSR1) through the raw system call
  segv       stores to address 16        exit7     exit(7)
  attachee   (untraced; for ATTACH) loops in pause(); after a SIGUSR1 it exits 10 + hits
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

__all__ = ["CONF", "Targets", "build"]

CONF = r"""
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/syscall.h>

#define CP() __asm__ volatile("int3")

volatile long counter;
volatile long usr1_hits, rt_hits;
volatile long r_getpid, r_write, r_getppid;
volatile unsigned long word = 0x1122334455667788UL;
volatile unsigned char area[64] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f};
const unsigned long rodata_word = 0xCAFEF00DDEADBEEFUL;
unsigned char fpout[16];
unsigned int mxcsr_out;

void on_usr1(int s) { (void)s; usr1_hits++; counter += 1000; }
void on_rt(int s) { (void)s; rt_hits++; }

__attribute__((noinline)) void bp_target(void) { counter += 7; __asm__ volatile(""); }

/* SETREGS redirects rip here: exit(42) without touching the stack. */
__asm__(".globl redirect\n.type redirect,@function\nredirect:\n"
        "    mov $60, %eax\n    mov $42, %edi\n    syscall\n    hlt\n");

int main(int argc, char **argv) {
    static const char *modes[] = {"idle", "syscalls", "steps", "watch", "bp", "fpu", "pause",
                                  "raise", "segv", "exit7", "attachee"};
    const char *m = argc > 1 ? argv[1] : "idle";
    int md = 0;
    for (int i = 0; i < (int)(sizeof modes / sizeof *modes); i++)
        if (!strcmp(m, modes[i])) md = i;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
    sa.sa_handler = on_rt;
    sigaction(38, &sa, 0);
    if (md == 10) {  /* attachee */
        for (;;) { pause(); if (usr1_hits) _exit(10 + (int)usr1_hits); }
    }
    CP();  /* checkpoint A: nothing between here and the body uses SSE or makes a call */
    switch (md) {
    case 1:
        r_getpid = syscall(SYS_getpid);
        r_write = syscall(SYS_write, 1000, &word, 8);
        r_getppid = syscall(SYS_getppid);
        break;
    case 2:
        for (int i = 0; i < 3; i++) counter += i;
        break;
    case 3:
        counter = 5;
        word = 9;
        counter = 6;
        break;
    case 4:
        bp_target();
        bp_target();
        break;
    case 5:
        __asm__ volatile("movdqu %%xmm15, %0" : "=m"(fpout));
        __asm__ volatile("stmxcsr %0" : "=m"(mxcsr_out));
        break;
    case 6:
        while (!usr1_hits && !rt_hits) pause();
        break;
    case 7:
        syscall(SYS_kill, syscall(SYS_getpid), SIGUSR1);
        break;
    case 8:
        *(volatile int *)16 = 1;
        break;
    case 9:
        exit(7);
    }
    CP();  /* checkpoint B */
    exit(0);
}
"""

_FLAGS = ("-static", "-no-pie", "-O0", "-fno-stack-protector")


def _cache_dir() -> Path:
    d = Path(os.environ.get("LXBRAND_CONFORM_CACHE") or Path(tempfile.gettempdir()) / f"lxbrand-conform-{os.getuid()}")
    d.mkdir(parents=True, exist_ok=True)
    return d


def build(source: str, name: str, *flags: str) -> Path:
    """Compile `source` once (cached by content and flags) and return the executable's path."""
    flags = flags or _FLAGS
    key = hashlib.sha1((source + "\0" + " ".join(flags)).encode()).hexdigest()[:16]
    d = _cache_dir()
    out = d / f"{name}-{key}"
    if not out.exists():
        src = d / f"{name}-{key}.c"
        src.write_text(source)
        tmp = d / f".{name}-{key}.{os.getpid()}"
        cmd = ["gcc", *flags, "-o", str(tmp), str(src)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr}")
        os.replace(tmp, out)
    return out


def symbols(path: Path) -> dict[str, int]:
    """name -> address of the defined symbols of a (non-PIE) executable."""
    res = subprocess.run(["nm", "--defined-only", str(path)], capture_output=True, text=True, check=True)
    out: dict[str, int] = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.setdefault(parts[2], int(parts[0], 16))
    return out


class Targets:
    """The compiled targets of one run: `path(name)`, `sym(name, symbol)`, `argv(name, mode)`."""

    SOURCES = {"conf": CONF}

    def __init__(self) -> None:
        self._paths: dict[str, Path] = {}
        self._syms: dict[str, dict[str, int]] = {}

    def path(self, name: str = "conf") -> str:
        if name not in self._paths:
            self._paths[name] = build(self.SOURCES[name], name)
        return str(self._paths[name])

    def sym(self, symbol: str, name: str = "conf") -> int:
        if name not in self._syms:
            self._syms[name] = symbols(Path(self.path(name)))
        return self._syms[name][symbol]

    def argv(self, mode: str, name: str = "conf") -> list[str]:
        return [self.path(name), mode]
