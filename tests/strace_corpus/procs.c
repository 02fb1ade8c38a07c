/* fork, wait4, exit statuses (needs -f for the children's lines); the second child says it is
   ready through a pipe before it is killed, so both tracers see the same calls */
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
    if (k == 0) { write(p[1], "r", 1); pause(); _exit(0); }
    read(p[0], &c, 1);
    kill(k, SIGTERM);
    waitpid(k, &st, 0);
    getppid();
    return WEXITSTATUS(st);
}
