/* fork, wait4, exit statuses (needs -f for the children's lines); the second child blocks SIGTERM,
   says it is ready through a pipe and only then waits in sigsuspend, which unblocks it: the kill
   always lands in that call, so both tracers see the same calls (with pause(), the SIGTERM could
   come before or inside the call) */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    int st, p[2];
    char c;
    pid_t k = fork();
    if (k == 0) { write(1, "child\n", 6); _exit(7); }
    waitpid(k, &st, 0);
    pipe(p);
    k = fork();
    if (k == 0) {
        sigset_t term, none;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        sigemptyset(&none);
        sigprocmask(SIG_BLOCK, &term, 0);
        write(p[1], "r", 1);
        sigsuspend(&none);
        _exit(0);
    }
    read(p[0], &c, 1);
    kill(k, SIGTERM);
    waitpid(k, &st, 0);
    getppid();
    return WEXITSTATUS(st);
}
