/* mmap/mprotect/munmap/mremap/madvise/brk, rlimits, nanosleep, clock_nanosleep, uname */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
int main(void) {
    void *a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(a, 4096, PROT_NONE);
    madvise(a, 8192, MADV_DONTNEED);
    a = mremap(a, 8192, 16384, MREMAP_MAYMOVE);
    munmap(a, 16384);
    mmap(NULL, 4096, PROT_READ, MAP_SHARED, -1, 0);
    sbrk(0);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    setrlimit(RLIMIT_CORE, &rl);
    prlimit(0, RLIMIT_STACK, NULL, &rl);
    struct timespec ts = {0, 1000};
    nanosleep(&ts, NULL);
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    struct utsname u;
    uname(&u);
    return 0;
}
