/* sigaction, masks, kill, tgkill, raise, sigqueue, handler return, SIGCHLD, a fatal SEGV */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile int got;
static void on(int s) { got += s; }
int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on;
    sigaddset(&sa.sa_mask, SIGINT);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGUSR2, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t s, old;
    sigfillset(&s); sigprocmask(SIG_BLOCK, &s, &old); sigprocmask(SIG_SETMASK, &old, NULL);
    sigemptyset(&s); sigaddset(&s, SIGTERM); sigaddset(&s, 40); sigprocmask(SIG_BLOCK, &s, &old);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    kill(getpid(), SIGUSR1);
    syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2);
    union sigval v = {.sival_int = 42};
    sigqueue(getpid(), SIGUSR1, v);
    raise(SIGUSR2);
    kill(-1234567, 0);
    if (argc > 1 && !strcmp(argv[1], "segv")) *(volatile int *)8 = 1;
    if (argc > 1 && !strcmp(argv[1], "abort")) abort();
    return got == 0;
}
