/* fork, wait4, exit statuses (needs -f for the children's lines) */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    int st;
    pid_t c = fork();
    if (c == 0) { write(1, "child\n", 6); _exit(7); }
    waitpid(c, &st, 0);
    c = fork();
    if (c == 0) { pause(); _exit(0); }
    kill(c, SIGTERM);
    waitpid(c, &st, 0);
    getppid();
    return WEXITSTATUS(st);
}
