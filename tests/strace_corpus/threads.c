/* a thread that makes calls of its own (needs -f) */
#include <pthread.h>
#include <unistd.h>
static void *run(void *a) { (void)a; write(1, "thread\n", 7); getpid(); return NULL; }
int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, run, NULL);
    pthread_join(t, NULL);
    write(1, "main\n", 5);
    return 0;
}
