"""The conformance targets: small static C programs, compiled at run time and cached.

Scenarios must see the same addresses under both backends, so the target is linked static and
non-PIE (its symbols are link-time constants, read with `nm`), started with ASLR off
(personality(ADDR_NO_RANDOMIZE) in the child before exec), and exec'ed with the same argv and
a fixed environment (the tests' own environment may differ between runs and would otherwise move
the initial stack).

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

The second target, `modern`, serves the scenarios of the modern interface (scenarios_modern.py:
options, event stops, SEIZE, threads, siginfo queues, regsets).  Its system calls are raw
`syscall` instructions (no errno: its threads are bare clone() threads sharing the leader's TLS),
so syscall stops are exactly the calls named here.  Modes that stop themselves first (as the
debuggers' probe children do) raise SIGSTOP with kill(getpid()) right after the exec:

  selfstop       SIGSTOP, exit 0              (gdb's EXITKILL probe)
  forkprobe      SIGSTOP, fork(); the child exits 0, the parent waits and exits 0 (gdb <= 11)
  nx             maps a RW page holding int3 at `nx_page`, SIGSTOP, returns into it (gdb)
  sysinfo        SIGSTOP, chdir("", 0xbad1fed1..), gettid(0xcaf0bea0..), exit_group(0, 0xfac1c0d1..)
  selfstop-exec  SIGSTOP, getpid, getppid, execve(self, "exit3")   (strace's startup child)
  exit3          exit_group(3) at once       attachee   as in `conf`, in a process group of its own
  rtqueue        blocks SIGUSR2, 40, 41; queues 40/0x1111, 41/0x2222, 40/0x3333 to the process,
                 SIGUSR2 to the process, 40 (tgkill) and 41/0x4444 to the thread; A; unblocks; B
  seccomp        a filter answering getppid with SECCOMP_RET_TRACE|0x1234; A; getppid -> r_call1,
                 getppid -> r_call2; B
Every other mode: A (int3), the body, B (int3), exit 0:
  idle           nothing                      exit7      exit_group(7)
  syscalls       chdir("", 0xbad1fed1..) -> r_call1, getpid -> r_call2, write(1000, &word, 8) -> r_call3
  fork           fork(); the child exits 5; waitpid -> r_status1            (r_child1: its pid)
  fork2          fork(); that child forks, its child exits 1, it exits 2; waitpid -> r_status1
  vfork          vfork(); the child exits 6; waitpid -> r_status1
  clone-proc     SIGCHLD blocked; clone(SIGCHLD) exits 9 -> r_status1, clone(exit signal 0) exits 8
                 -> r_status2
  exec           execve(self, "exit3")
  thread         a clone() thread: gettid -> tids[0], int3, exit 21; the leader joins it
  thread-exit    a thread that exits 21 at once; joined
  threads3       two threads as in `thread` (exit 21 and 22), joined
  threads-pause  two threads looping in pause(); the leader loops in pause() (never reaches B)
  exit-group-threads  a thread in pause(); the leader: int3, exit_group(4)
  attachee-threads  a thread in pause(), the leader as attachee (for gdb's thread-by-thread attach)
  exec-thread    a thread execs self "exit3"; the leader loops in pause()
  restart        read() of an empty pipe -> r_call1 (SIGUSR1 has SA_RESTART, SIGUSR2 not)

The i386 caller's scenarios (scenarios_i386.py) use `user32` (built with -m32) and `user32-64`
(the same source, 64-bit): x87 stack 1, pi, log2(10) and xmm0..7 = 00 01 .. 7f loaded, A (int3),
the body ("count": counter += 3; "mmap2" (32-bit only): mmap2(0xe0000000, 4096, RW,
PRIVATE|ANONYMOUS|FIXED, -1, 0) and mmap2(0, 4096, R, PRIVATE, 1000, 0) through int $0x80;
"idle": nothing), B (int3), exit 0; and `tracer32` (-m32), the
32-bit tracer that is their reference (its commands are described at TRACER32 below).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

from ..tools import require

__all__ = ["CONF", "MODERN", "USER32", "TRACER32", "Targets", "build"]

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

MODERN = r"""
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/futex.h>

#define CP() __asm__ volatile("int3")

extern char **environ;
volatile long usr1_hits, usr2_hits, rt_hits;
volatile long r_call1, r_call2, r_call3, r_status1, r_status2, r_child1, r_child2;
volatile long tids[4];
volatile int ctid[4];  /* the tid while thread i lives; the kernel clears it at its exit */
volatile unsigned long nx_page;
volatile unsigned long word = 0x1122334455667788UL;
char rbuf[16];
int pfd[2];
static char stacks[4][65536] __attribute__((aligned(16)));
static char *self;

/* The raw system call: no errno (threads made with clone() share the leader's TLS), nothing
   but the one `syscall` instruction. */
static long rsys(long n, long a, long b, long c, long d, long e, long f) {
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#define S0(n) rsys(n, 0, 0, 0, 0, 0, 0)
#define S1(n, a) rsys(n, (long)(a), 0, 0, 0, 0, 0)
#define S2(n, a, b) rsys(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define S3(n, a, b, c) rsys(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

static void on_usr1(int s) { (void)s; usr1_hits++; }
static void on_usr2(int s) { (void)s; usr2_hits++; }
static void on_rt(int s) { rt_hits += s; }

static void selfstop(void) { S2(SYS_kill, S0(SYS_getpid), SIGSTOP); }

static void exec_exit3(void) {
    char *av[] = {self, "exit3", 0};
    S3(SYS_execve, self, av, environ);
}

/* thread bodies: they return their exit code (glibc's clone() passes it to SYS_exit) */
static int thr_cp(void *arg) { long i = (long)arg; tids[i] = S0(SYS_gettid); CP(); return 21 + (int)i; }
static int thr_exit(void *arg) { long i = (long)arg; tids[i] = S0(SYS_gettid); return 21 + (int)i; }
static int thr_pause(void *arg) { long i = (long)arg; tids[i] = S0(SYS_gettid); for (;;) S0(SYS_pause); return 0; }
static int thr_exec(void *arg) { long i = (long)arg; tids[i] = S0(SYS_gettid); exec_exit3(); return 99; }
static int proc_exit9(void *arg) { (void)arg; S1(SYS_exit_group, 9); return 0; }
static int proc_exit8(void *arg) { (void)arg; S1(SYS_exit_group, 8); return 0; }

static void spawn_thread(int i, int (*fn)(void *)) {
    clone(fn, stacks[i] + sizeof stacks[i],
          CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
              CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID,
          (void *)(long)i, (int *)&ctid[i], (void *)0, (int *)&ctid[i]);
}

static void join(int i) {
    int v;
    while ((v = ctid[i]) != 0) rsys(SYS_futex, (long)&ctid[i], FUTEX_WAIT, v, 0, 0, 0);
}

static void install_seccomp(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 0x1234),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof *f, f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void queue_self(int sig, long value, int thread) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = SI_QUEUE;
    si.si_pid = S0(SYS_getpid);
    si.si_uid = S0(SYS_getuid);
    si.si_value.sival_ptr = (void *)value;
    if (thread)
        rsys(SYS_rt_tgsigqueueinfo, si.si_pid, S0(SYS_gettid), sig, (long)&si, 0, 0);
    else
        S3(SYS_rt_sigqueueinfo, si.si_pid, sig, &si);
}

int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "idle";
    struct sigaction sa;
    int st;
    self = argv[0];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, 0);
    sa.sa_handler = on_usr2;
    sa.sa_flags = 0;
    sigaction(SIGUSR2, &sa, 0);
    sa.sa_handler = on_rt;
    sigaction(38, &sa, 0);
    sigaction(40, &sa, 0);
    sigaction(41, &sa, 0);

    if (!strcmp(m, "exit3")) {
        S1(SYS_exit_group, 3);
    } else if (!strcmp(m, "attachee")) {
        /* A process group of its own, never orphaned while its parent (the tester, in another
         * group of the session) lives: the kernel discards SIGTSTP/TTIN/TTOU in an orphaned
         * group, and the tester's own group is orphaned once the shell that started it is gone. */
        S2(SYS_setpgid, 0, 0);
        for (;;) { S0(SYS_pause); if (usr1_hits) S1(SYS_exit_group, 10 + usr1_hits); }
    } else if (!strcmp(m, "attachee-threads")) {  /* a thread in pause(), then as attachee */
        spawn_thread(0, thr_pause);
        while (!tids[0]) S0(SYS_sched_yield);
        for (;;) { S0(SYS_pause); if (usr1_hits) S1(SYS_exit_group, 10 + usr1_hits); }
    } else if (!strcmp(m, "selfstop")) {          /* gdb's EXITKILL probe child */
        selfstop();
        S1(SYS_exit_group, 0);
    } else if (!strcmp(m, "forkprobe")) {         /* gdb <= 11: linux_tracefork_child */
        selfstop();
        if (fork() == 0) _exit(0);
        wait(&st);
        _exit(0);
    } else if (!strcmp(m, "nx")) {                /* gdb: linux_ptrace_test_ret_to_nx */
        unsigned char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p[0] = 0xcc;
        nx_page = (unsigned long)p;
        selfstop();
        __asm__ volatile("pushq %0\n\tret" : : "r"(p) : "memory");
        _exit(1);
    } else if (!strcmp(m, "sysinfo")) {           /* strace: test_ptrace_get_syscall_info */
        selfstop();
        rsys(SYS_chdir, (long)"", 0xbad1fed1L, 0xbad2fed2L, 0xbad3fed3L, 0xbad4fed4L, 0xbad5fed5L);
        rsys(SYS_gettid, 0xcaf0bea0L, 0xcaf1bea1L, 0xcaf2bea2L, 0xcaf3bea3L, 0xcaf4bea4L, 0xcaf5bea5L);
        rsys(SYS_exit_group, 0, 0xfac1c0d1L, 0xfac2c0d2L, 0xfac3c0d3L, 0xfac4c0d4L, 0xfac5c0d5L);
    } else if (!strcmp(m, "selfstop-exec")) {     /* strace's startup child */
        selfstop();
        S0(SYS_getpid);
        S0(SYS_getppid);
        exec_exit3();
        S1(SYS_exit_group, 1);
    } else if (!strcmp(m, "rtqueue")) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        sigaddset(&set, 40);
        sigaddset(&set, 41);
        sigprocmask(SIG_BLOCK, &set, 0);
        queue_self(40, 0x1111, 0);
        queue_self(41, 0x2222, 0);
        queue_self(40, 0x3333, 0);
        S2(SYS_kill, S0(SYS_getpid), SIGUSR2);
        S3(SYS_tgkill, S0(SYS_getpid), S0(SYS_gettid), 40);
        queue_self(41, 0x4444, 1);
        CP();  /* A: five queued (three shared, two private), SIGUSR2 pending */
        sigprocmask(SIG_UNBLOCK, &set, 0);
        CP();  /* B */
        S1(SYS_exit_group, 0);
    } else if (!strcmp(m, "seccomp")) {
        install_seccomp();
        CP();
        r_call1 = S0(SYS_getppid);
        r_call2 = S0(SYS_getppid);
        CP();
        S1(SYS_exit_group, 0);
    }
    pipe(pfd);
    CP();  /* checkpoint A */
    if (!strcmp(m, "syscalls")) {
        r_call1 = rsys(SYS_chdir, (long)"", 0xbad1fed1L, 0xbad2fed2L, 0xbad3fed3L, 0xbad4fed4L, 0xbad5fed5L);
        r_call2 = S0(SYS_getpid);
        r_call3 = S3(SYS_write, 1000, &word, 8);
    } else if (!strcmp(m, "exit7")) {
        S1(SYS_exit_group, 7);
    } else if (!strcmp(m, "fork")) {
        r_child1 = fork();
        if (r_child1 == 0) _exit(5);
        waitpid(r_child1, &st, 0);
        r_status1 = st;
    } else if (!strcmp(m, "fork2")) {
        r_child1 = fork();
        if (r_child1 == 0) {
            pid_t g = fork();
            if (g == 0) _exit(1);
            waitpid(g, &st, 0);
            _exit(WEXITSTATUS(st) + 1);
        }
        waitpid(r_child1, &st, 0);
        r_status1 = st;
    } else if (!strcmp(m, "vfork")) {
        r_child1 = vfork();
        if (r_child1 == 0) _exit(6);
        waitpid(r_child1, &st, 0);
        r_status1 = st;
    } else if (!strcmp(m, "clone-proc")) {
        /* the untraced child's SIGCHLD would come at any time: keep it pending */
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, 0);
        r_child1 = clone(proc_exit9, stacks[0] + sizeof stacks[0], SIGCHLD, 0);
        r_child2 = clone(proc_exit8, stacks[1] + sizeof stacks[1], 0, 0);
        waitpid(r_child1, &st, 0);
        r_status1 = st;
        waitpid(r_child2, &st, __WCLONE);
        r_status2 = st;
    } else if (!strcmp(m, "exec")) {
        exec_exit3();
    } else if (!strcmp(m, "thread")) {
        spawn_thread(0, thr_cp);
        join(0);
    } else if (!strcmp(m, "thread-exit")) {
        spawn_thread(0, thr_exit);
        join(0);
    } else if (!strcmp(m, "threads3")) {
        spawn_thread(0, thr_cp);
        spawn_thread(1, thr_cp);
        join(0);
        join(1);
    } else if (!strcmp(m, "threads-pause")) {
        spawn_thread(0, thr_pause);
        spawn_thread(1, thr_pause);
        for (;;) S0(SYS_pause);
    } else if (!strcmp(m, "exit-group-threads")) {
        spawn_thread(0, thr_pause);
        CP();
        S1(SYS_exit_group, 4);
    } else if (!strcmp(m, "exec-thread")) {
        spawn_thread(0, thr_exec);
        for (;;) S0(SYS_pause);
    } else if (!strcmp(m, "restart")) {
        r_call1 = S3(SYS_read, pfd[0], rbuf, 8);
    }
    CP();  /* checkpoint B */
    S1(SYS_exit_group, 0);
    return 0;
}
"""

USER32 = r"""
#include <string.h>
#include <stdlib.h>

#define CP() __asm__ volatile("int3")

volatile unsigned long counter;
unsigned char xmmin[8][16];

int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "idle";
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 16; j++) xmmin[i][j] = (unsigned char)(0x10 * i + j);
    /* a known x87 and SSE state: three values on the x87 stack, xmm0..7 from xmmin */
    __asm__ volatile("fninit\n\tfld1\n\tfldpi\n\tfldl2t" ::: "memory");
    __asm__ volatile("movdqu %0, %%xmm0\n\tmovdqu %1, %%xmm1\n\tmovdqu %2, %%xmm2\n\tmovdqu %3, %%xmm3"
                     :: "m"(xmmin[0]), "m"(xmmin[1]), "m"(xmmin[2]), "m"(xmmin[3]));
    __asm__ volatile("movdqu %0, %%xmm4\n\tmovdqu %1, %%xmm5\n\tmovdqu %2, %%xmm6\n\tmovdqu %3, %%xmm7"
                     :: "m"(xmmin[4]), "m"(xmmin[5]), "m"(xmmin[6]), "m"(xmmin[7]));
    CP();  /* checkpoint A */
    if (!strcmp(m, "count")) counter += 3;
#ifdef __i386__
    if (!strcmp(m, "mmap2")) {
        /* mmap2 through int $0x80: an anonymous page at 0xe0000000 (a result with bit 31 set),
           then a file mapping of fd 1000 (-EBADF) */
        long r;
        __asm__ volatile("push %%ebp\n\tmov %7, %%ebp\n\tint $0x80\n\tpop %%ebp"
                         : "=a"(r) : "a"(192), "b"(0xe0000000UL), "c"(4096), "d"(3), "S"(0x32), "D"(-1),
                           "m"(*(long[]){0}) : "memory");
        __asm__ volatile("push %%ebp\n\tmov %7, %%ebp\n\tint $0x80\n\tpop %%ebp"
                         : "=a"(r) : "a"(192), "b"(0), "c"(4096), "d"(1), "S"(2), "D"(1000),
                           "m"(*(long[]){0}) : "memory");
        (void)r;
    }
#endif
    CP();  /* checkpoint B */
    exit(0);
}
"""

# The host side of the "user32" scenarios: a 32-bit tracer (gcc -m32 -static) making the calls
# through the kernel's compat ptrace.  argv: TARGET MODE CMD...  It forks, the child sets
# personality(ADDR_NO_RANDOMIZE), TRACEMEs and execve()s TARGET MODE with the conformance
# environment; the tracer waits for the exec stop ("exec STATUS"), then prints one raw line per
# command (numbers in hex, in the commands too, results as the raw call's 0 or -errno; scenarios_i386.py renders them):
#   wait                    wait STATUS | wait -ERRNO
#   cont[:SIG]  kill        cont SIG R  | kill R
#   peekuser:OFF            peekuser OFF R WORD|-
#   pokeuser:OFF:VAL        pokeuser OFF VAL R
#   getregs                 getregs R W0 .. W16 (user_regs_struct, 17 words)
#   setregs:IDX:VAL         setregs IDX VAL R   (GETREGS, word IDX = VAL, SETREGS)
#   getfpregs               getfpregs R HEX108  (the fsave image)
#   setfpregs:OFF:VAL       setfpregs OFF VAL R (GETFPREGS, 32-bit word at byte OFF = VAL, SETFPREGS)
#   getfpxregs              getfpxregs R HEX512 (request 18)
#   setfpxregs:OFF:VAL      setfpxregs OFF VAL R (request 18, word at OFF = VAL, request 19)
# At the end the target is killed and reaped.
TRACER32 = r"""
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

static unsigned char buf[4096];
static long rq(long req, pid_t pid, unsigned long addr, unsigned long data) {
    errno = 0;
    long r = ptrace(req, pid, (void *)addr, (void *)data);
    return r == -1 && errno ? -errno : r;
}
static void hex(const unsigned char *p, int n) { for (int i = 0; i < n; i++) printf("%02x", p[i]); }
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    pid_t pid = fork();
    if (pid == 0) {
        char *args[] = {argv[1], argv[2], 0};
        char *env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", 0};
        personality(ADDR_NO_RANDOMIZE);
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(100);
        execve(argv[1], args, env);
        _exit(127);
    }
    int st = 0;
    printf("pid %d\n", (int)pid);
    printf("exec 0x%x\n", waitpid(pid, &st, 0) == pid ? st : -1);
    for (int i = 3; i < argc; i++) {
        char *c = argv[i];
        unsigned long a = 0, b = 0;
        long r;
        if (!strcmp(c, "wait")) {
            r = waitpid(pid, &st, __WALL);
            if (r == pid) printf("wait 0x%x\n", st); else printf("wait %ld\n", -(long)errno);
        } else if (!strcmp(c, "cont") || sscanf(c, "cont:%lx", &a) == 1) {
            printf("cont 0x%lx %ld\n", a, rq(PTRACE_CONT, pid, 0, a));
        } else if (!strcmp(c, "kill")) {
            printf("kill %ld\n", rq(PTRACE_KILL, pid, 0, 0));
        } else if (sscanf(c, "peekuser:%lx", &a) == 1) {
            errno = 0;
            long w = ptrace(PTRACE_PEEKUSER, pid, (void *)a, 0);
            r = w == -1 && errno ? -errno : 0;
            if (r == 0) printf("peekuser 0x%lx 0 0x%lx\n", a, (unsigned long)w);
            else printf("peekuser 0x%lx %ld -\n", a, r);
        } else if (sscanf(c, "pokeuser:%lx:%lx", &a, &b) == 2) {
            printf("pokeuser 0x%lx 0x%lx %ld\n", a, b, rq(PTRACE_POKEUSER, pid, a, b));
        } else if (!strcmp(c, "getregs")) {
            unsigned int w[17];
            memset(w, 0xaa, sizeof w);
            r = rq(PTRACE_GETREGS, pid, 0, (unsigned long)w);
            printf("getregs %ld", r);
            for (int k = 0; k < 17; k++) printf(" 0x%x", w[k]);
            printf("\n");
        } else if (sscanf(c, "setregs:%lx:%lx", &a, &b) == 2) {
            unsigned int w[17];
            r = rq(PTRACE_GETREGS, pid, 0, (unsigned long)w);
            if (r == 0 && a < 17) { w[a] = (unsigned int)b; r = rq(PTRACE_SETREGS, pid, 0, (unsigned long)w); }
            printf("setregs 0x%lx 0x%lx %ld\n", a, b, r);
        } else if (!strcmp(c, "getfpregs")) {
            memset(buf, 0xaa, 108);
            r = rq(PTRACE_GETFPREGS, pid, 0, (unsigned long)buf);
            printf("getfpregs %ld ", r); hex(buf, 108); printf("\n");
        } else if (sscanf(c, "setfpregs:%lx:%lx", &a, &b) == 2) {
            r = rq(PTRACE_GETFPREGS, pid, 0, (unsigned long)buf);
            if (r == 0 && a + 4 <= 108) { memcpy(buf + a, &b, 4); r = rq(PTRACE_SETFPREGS, pid, 0, (unsigned long)buf); }
            printf("setfpregs 0x%lx 0x%lx %ld\n", a, b, r);
        } else if (!strcmp(c, "getfpxregs")) {
            memset(buf, 0xaa, 512);
            r = rq(18, pid, 0, (unsigned long)buf);
            printf("getfpxregs %ld ", r); hex(buf, 512); printf("\n");
        } else if (sscanf(c, "setfpxregs:%lx:%lx", &a, &b) == 2) {
            r = rq(18, pid, 0, (unsigned long)buf);
            if (r == 0 && a + 4 <= 512) { memcpy(buf + a, &b, 4); r = rq(19, pid, 0, (unsigned long)buf); }
            printf("setfpxregs 0x%lx 0x%lx %ld\n", a, b, r);
        } else {
            printf("? %s\n", c);
        }
        fflush(stdout);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, __WALL);
    return 0;
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
        require("gcc -m32" if "-m32" in flags else "gcc")
        cmd = ["gcc", *flags, "-o", str(tmp), str(src)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr}")
        os.replace(tmp, out)
    return out


def symbols(path: Path) -> dict[str, int]:
    """name -> address of the defined symbols of a (non-PIE) executable."""
    require("nm")
    res = subprocess.run(["nm", "--defined-only", str(path)], capture_output=True, text=True, check=True)
    out: dict[str, int] = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.setdefault(parts[2], int(parts[0], 16))
    return out


class Targets:
    """The compiled targets of one run: `path(name)`, `sym(name, symbol)`, `argv(name, mode)`."""

    SOURCES = {"conf": CONF, "modern": MODERN, "user32": USER32, "user32-64": USER32, "tracer32": TRACER32}
    FLAGS = {"user32": _FLAGS + ("-m32",), "tracer32": _FLAGS + ("-m32",)}  # the others: _FLAGS

    def __init__(self) -> None:
        self._paths: dict[str, Path] = {}
        self._syms: dict[str, dict[str, int]] = {}

    def path(self, name: str = "conf") -> str:
        if name not in self._paths:
            self._paths[name] = build(self.SOURCES[name], name, *self.FLAGS.get(name, ()))
        return str(self._paths[name])

    def sym(self, symbol: str, name: str = "conf") -> int:
        if name not in self._syms:
            self._syms[name] = symbols(Path(self.path(name)))
        return self._syms[name][symbol]

    def argv(self, mode: str, name: str = "conf") -> list[str]:
        return [self.path(name), mode]
