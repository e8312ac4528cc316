/* netbench.c — bench/net's client and server: per-connection latency and one connection's
 * throughput, the same program on both sides of what is measured.
 *
 *   netbench serve PORT                     'L' → one byte back; 'T' + 8-byte count → that many bytes
 *   netbench latency ADDR PORT N            N connections, each connect + 1 byte there and back;
 *                                           prints "latency_us median=… p90=…"
 *   netbench throughput ADDR PORT MBYTES    one connection receiving MBYTES MiB; prints "throughput_mbps=…"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *serve_one(void *p)
{
    int c = (int)(intptr_t)p;
    char op;
    if (read(c, &op, 1) == 1) {
        if (op == 'L') {
            (void)!write(c, "L", 1);
        } else if (op == 'T') {
            uint64_t n;
            if (read(c, &n, sizeof(n)) == sizeof(n)) {
                static char buf[1 << 18];
                while (n > 0) {
                    size_t k = n < sizeof(buf) ? n : sizeof(buf);
                    ssize_t w = write(c, buf, k);
                    if (w <= 0)
                        break;
                    n -= (uint64_t)w;
                }
            }
        }
    }
    close(c);
    return NULL;
}

static int serve(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 512) < 0) {
        perror("bind");
        return 1;
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_t t;
        pthread_create(&t, NULL, serve_one, (void *)(intptr_t)c);
        pthread_detach(t);
    }
}

static int dial(const char *addr, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, addr, &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("connect");
        exit(1);
    }
    return s;
}

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        return serve(atoi(argv[2]));
    if (argc == 5 && strcmp(argv[1], "latency") == 0) {
        int n = atoi(argv[4]);
        double *t = calloc((size_t)n, sizeof(double));
        for (int i = 0; i < n; i++) {
            double t0 = now();
            int s = dial(argv[2], atoi(argv[3]));
            char c = 'L';
            if (write(s, &c, 1) != 1 || read(s, &c, 1) != 1) {
                fprintf(stderr, "no answer\n");
                return 1;
            }
            close(s);
            t[i] = (now() - t0) * 1e6;
        }
        qsort(t, (size_t)n, sizeof(double), cmp);
        printf("latency_us median=%.1f p90=%.1f\n", t[n / 2], t[n * 9 / 10]);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "throughput") == 0) {
        uint64_t bytes = (uint64_t)atoll(argv[4]) << 20, got = 0;
        int s = dial(argv[2], atoi(argv[3]));
        (void)!write(s, "T", 1);
        (void)!write(s, &bytes, sizeof(bytes));
        static char buf[1 << 18];
        double t0 = now();
        for (;;) {
            ssize_t r = read(s, buf, sizeof(buf));
            if (r <= 0)
                break;
            got += (uint64_t)r;
        }
        double dt = now() - t0;
        printf("throughput_mbps=%.0f bytes=%llu\n", got / dt / 1e6 * 8, (unsigned long long)got);
        return got == bytes ? 0 : 1;
    }
    fprintf(stderr, "usage: netbench serve PORT | latency ADDR PORT N | throughput ADDR PORT MBYTES\n");
    return 2;
}
