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
