/* a 32-bit tracee: i386 numbers and arguments */
#include <fcntl.h>
#include <unistd.h>
int main(void) {
    write(1, "hello from i386\n", 16);
    open("/nonexistent", O_RDONLY);
    getpid();
    return 3;
}
