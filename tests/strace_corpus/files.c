/* open flags, modes, stat of each file kind, dirs, links, cwd, umask, fcntl, lseek, dup */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char p[512], q[512], buf[256];
    struct stat st;
    if (chdir(dir)) return 2;
    int d = open(".", O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC);
    int f = openat(AT_FDCWD, "f1", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_NOCTTY, 0640);
    write(f, "some data\n", 10);
    open("f1", O_RDWR | O_CREAT | O_EXCL, 0600);
    int t = open(".", O_RDWR | O_TMPFILE, 0600);
    open(".", O_RDONLY | O_PATH | O_SYNC | O_NOATIME);
    stat("f1", &st); lstat("missing", &st); fstat(f, &st); stat(".", &st); stat("/dev/null", &st);
    mkdir("sub", 0755); mkdirat(d, "sub2", 0700); rmdir("sub2");
    symlink("f1", "ln"); readlink("ln", buf, sizeof buf); readlink("f1", buf, sizeof buf);
    link("f1", "hard"); rename("hard", "hard2"); unlink("hard2"); unlinkat(AT_FDCWD, "sub", AT_REMOVEDIR);
    chmod("f1", 0644); access("f1", R_OK | W_OK); access("missing", F_OK);
    getcwd(buf, sizeof buf); umask(027); umask(022);
    fcntl(f, F_GETFL); fcntl(f, F_GETFD); fcntl(f, F_SETFD, FD_CLOEXEC); fcntl(f, F_GETFD);
    fcntl(f, F_DUPFD, 20); fcntl(f, F_DUPFD_CLOEXEC, 30);
    lseek(f, 0, SEEK_SET); lseek(f, -3, SEEK_END); dup(f); dup2(f, 40); dup3(f, 41, O_CLOEXEC);
    int r = open("f1", O_RDONLY); read(r, buf, 4); pread(r, buf, 100, 2); pwrite(f, "xy", 2, 1);
    truncate("f1", 3); ftruncate(f, 1); fsync(f); fdatasync(f);
    syscall(SYS_close_range, 50, ~0U, 0);
    unlink("ln"); unlink("f1"); close(t); close(r); close(f); close(d); close(-1);
    return 0;
}
