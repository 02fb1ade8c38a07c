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
