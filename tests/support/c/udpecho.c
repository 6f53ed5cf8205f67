/* A UDP test peer for containers whose busybox has no UDP nc.
 *   udpecho serve PORT        print each datagram to stdout and answer "echo: <datagram>"
 *   udpecho send IP PORT MSG  send MSG, print the answer (exit 1 after 3 s without one)
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char buf[2048], reply[2100];
    struct sockaddr_in addr = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (argc == 3 && strcmp(argv[1], "serve") == 0) {
        addr.sin_port = htons(atoi(argv[2]));
        if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
        for (;;) {
            struct sockaddr_in peer; socklen_t len = sizeof peer;
            ssize_t n = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&peer, &len);
            if (n < 0) continue;
            buf[n] = 0;
            printf("%s", buf); fflush(stdout);
            int m = snprintf(reply, sizeof reply, "echo: %s", buf);
            sendto(fd, reply, m, 0, (struct sockaddr *)&peer, len);
        }
    }
    if (argc == 5 && strcmp(argv[1], "send") == 0) {
        struct timeval tv = {3, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        addr.sin_port = htons(atoi(argv[3]));
        if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1) { fprintf(stderr, "bad address\n"); return 2; }
        sendto(fd, argv[4], strlen(argv[4]), 0, (struct sockaddr *)&addr, sizeof addr);
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n < 0) { perror("recv"); return 1; }
        buf[n] = 0;
        printf("%s", buf);
        return 0;
    }
    fprintf(stderr, "usage: udpecho serve PORT | send IP PORT MSG\n");
    return 2;
}
