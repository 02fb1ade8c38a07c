/* sockets: families, types, connect/bind addresses, socketpair, pipes */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(void) {
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, "/nonexistent/socket");
    connect(u, (struct sockaddr *)&sun, sizeof sun);
    int i = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    connect(i, (struct sockaddr *)&sin, sizeof sin);
    sendto(i, "ping", 4, MSG_DONTWAIT, (struct sockaddr *)&sin, sizeof sin);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    sin.sin_port = htons(1);
    connect(t, (struct sockaddr *)&sin, sizeof sin);
    int six = socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(1)};
    inet_pton(AF_INET6, "::1", &s6.sin6_addr);
    connect(six, (struct sockaddr *)&s6, sizeof s6);
    int sv[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    listen(u, 5);
    shutdown(sv[0], SHUT_WR);
    int fds[2];
    pipe(fds);
    write(fds[1], "x", 1);
    char c;
    read(fds[0], &c, 1);
    return 0;
}
