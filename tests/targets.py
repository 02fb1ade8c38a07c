"""C sources of the test targets, compiled at test time through the `cbuild` fixture."""

# Prints "ready <addr of counter>" then spins; with an argument, does what it names:
#   syscalls: getpid() in a loop        int3: a breakpoint after the first line
#   segv: touches address 16            sleep: nanosleep loop
LOOP = r"""
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <time.h>
#include <sys/syscall.h>
volatile long counter;
static void on_usr2(int s) { (void)s; counter += 1000; }
int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "spin";
    signal(SIGUSR2, on_usr2);
    printf("ready %p\n", (void *)&counter);
    fflush(stdout);
    if (!strcmp(mode, "int3")) { usleep(200000); __asm__ volatile("int3"); }
    if (!strcmp(mode, "segv")) { usleep(200000); *(volatile int *)16 = 1; }
    for (;;) {
        counter++;
        if (!strcmp(mode, "syscalls")) syscall(SYS_getpid);
        if (!strcmp(mode, "sleep")) { struct timespec ts = {0, 1000000}; nanosleep(&ts, 0); }
    }
}
"""

# Multi-process and multi-thread behaviour.  Prints "ready" and then, by mode:
#   threads: two spinning threads (3 LWPs)        late-thread: a second thread after 0.3 s
#   thread-exit: a second thread that ends after 1.5 s
#   fork: forks a child after 0.3 s that spins     exec: execs "/bin/sleep 5" after 0.3 s
LIFE = r"""
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
volatile long spins;
static void *spin(void *a) { (void)a; for (;;) spins++; return 0; }
static void *brief(void *a) { (void)a; usleep(1500000); return 0; }
int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "threads";
    pthread_t t;
    printf("ready\n");
    fflush(stdout);
    if (!strcmp(mode, "threads")) { pthread_create(&t, 0, spin, 0); pthread_create(&t, 0, spin, 0); }
    if (!strcmp(mode, "late-thread")) { usleep(300000); pthread_create(&t, 0, spin, 0); }
    if (!strcmp(mode, "thread-exit")) { pthread_create(&t, 0, brief, 0); }
    if (!strcmp(mode, "fork")) {
        usleep(300000);
        pid_t c = fork();
        if (c == 0) for (;;) spins++;
        printf("child %d\n", (int)c);
        fflush(stdout);
    }
    if (!strcmp(mode, "exec")) { usleep(300000); execl("/bin/sleep", "sleep", "5", (char *)0); return 3; }
    for (;;) { spins++; usleep(1000); }
}
"""

# A TRACEME-free target for lx tests: prints "ready <&counter> <&word>" then loops doing
# getpid() with a short sleep; SIGUSR1's handler adds 1000 to the counter.
LXT = r"""
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
volatile long counter;
volatile unsigned long word = 0x1122334455667788UL;
static void on_usr1(int s) { (void)s; counter += 1000; }
int main(void) {
    signal(SIGUSR1, on_usr1);
    printf("ready %p %p\n", (void *)&counter, (void *)&word);
    fflush(stdout);
    for (;;) { counter++; syscall(SYS_getpid); usleep(1000); }
}
"""

# The python-ptrace scenarios (tests/test_compat_python_ptrace.py), built -static -no-pie so
# that the system calls after exec and the symbol addresses are the same on every run.  By mode:
#   bp: marker(42), then exit 7             calls: getpid, write "hi", close(-1), exit_group(5)
#   fork: a fork child exits 4, a vfork child execs this program "exit6"; then exit 3
#   exit6: exit 6                            exec: execs this program "exit6"
#   threads: two threads write `shared`, joined; exit 0
#   raise: raise(SIGUSR1); exit 10 if the handler ran, else 11
#   spin: prints "ready", then a getpid()/usleep loop (attach target; alarm(30) bounds it)
PYPT = r"""
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
volatile long shared = 0x1122334455667788L;
volatile long counter;
static volatile sig_atomic_t got;
__attribute__((noinline)) long marker(long x) { long y = x * 3; y += 1; return y; }
static void on_usr1(int s) { (void)s; got = 1; }
static void *worker(void *a) { shared += (long)a; syscall(SYS_gettid); return 0; }
int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "bp";
    alarm(30);
    if (!strcmp(m, "bp")) { marker(42); return 7; }
    if (!strcmp(m, "calls")) {
        syscall(SYS_getpid); syscall(SYS_write, 1, "hi\n", 3); syscall(SYS_close, -1);
        syscall(SYS_exit_group, 5);
    }
    if (!strcmp(m, "exit6")) return 6;
    if (!strcmp(m, "exec")) { execl("/proc/self/exe", argv[0], "exit6", (char *)0); return 127; }
    if (!strcmp(m, "fork")) {
        int st;
        pid_t c = fork();
        if (c == 0) _exit(4);
        waitpid(c, &st, 0);
        pid_t v = vfork();
        if (v == 0) { execl("/proc/self/exe", argv[0], "exit6", (char *)0); _exit(127); }
        waitpid(v, &st, 0);
        return 3;
    }
    if (!strcmp(m, "threads")) {
        pthread_t a, b;
        pthread_create(&a, 0, worker, (void *)1);
        pthread_join(a, 0);
        pthread_create(&b, 0, worker, (void *)2);
        pthread_join(b, 0);
        return 0;
    }
    if (!strcmp(m, "raise")) { signal(SIGUSR1, on_usr1); raise(SIGUSR1); return got ? 10 : 11; }
    if (!strcmp(m, "spin")) {
        printf("ready\n"); fflush(stdout);
        for (;;) { counter++; syscall(SYS_getpid); usleep(1000); }
    }
    return 99;
}
"""
