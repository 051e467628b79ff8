/* TCP echo load generator (and a reference echo server) for `python -m benchmarks.echo`.
 *
 * Client: N connections to 127.0.0.1:PORT, driven by one epoll thread. Each connection sends a
 * SIZE-byte message, waits until all SIZE bytes have come back (and checks them), and repeats
 * (ping-pong, one message in flight per connection). After WARMUP seconds the counters are
 * reset; the next DURATION seconds are measured. At the end every connection is half-closed
 * and drained, so servers see a clean EOF. Prints one JSON object:
 *
 *   echo_client client PORT CONNECTIONS SIZE DURATION WARMUP [SERVER_PID]
 *
 * round_trips, bytes (echoed payload bytes received), seconds, round_trips_per_second,
 * per-connection min/max round trips, the client's own CPU seconds in the measured window and,
 * with SERVER_PID, the server's CPU seconds in the same window (from /proc/PID/stat).
 *
 * Reference server: a plain epoll echo server in C, to show what the client can drive:
 *
 *   echo_client server     (prints its port on stdout, serves until killed)
 *
 * Compiled at run time by benchmarks/echo.py (gcc -O2); loopback only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 64

static void die(const char *what) {
    perror(what);
    exit(2);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of another process, in seconds; -1 if unknown. */
static double proc_cpu(long pid) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may contain spaces */
    if (!p) return -1;
    unsigned long utime = 0, stime = 0;
    /* after ')': state(3) ... utime is field 14, stime field 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) die("fcntl");
}

static void set_nodelay(int fd) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) die("TCP_NODELAY");
}

/* ------------------------------------------------------------------------------------------ */

typedef struct {
    int fd;
    size_t sent;     /* bytes of the current message sent */
    size_t received; /* bytes of the current message echoed back */
    uint64_t seq;    /* message number, stamped into the first 8 bytes */
    uint64_t round_trips;
    unsigned char *out;
    unsigned char *in;
    int want_out; /* registered for EPOLLOUT */
} conn_t;

static size_t msg_size;

static void stamp(conn_t *c) {
    memcpy(c->out, &c->seq, sizeof c->seq < msg_size ? sizeof c->seq : msg_size);
}

/* Send what is left of the current message; returns 0, or -1 on a fatal error. */
static int pump_out(int ep, conn_t *c) {
    while (c->sent < msg_size) {
        ssize_t n = send(c->fd, c->out + c->sent, msg_size - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
                c->want_out = 1;
            }
            return 0;
        }
        return -1;
    }
    if (c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
        c->want_out = 0;
    }
    return 0;
}

static int run_client(int port, int nconn, size_t size, double duration, double warmup,
                      long server_pid) {
    msg_size = size;
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    conn_t *conns = calloc((size_t)nconn, sizeof *conns);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nconn; i++) {
        conn_t *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0) die("socket");
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        set_nodelay(c->fd);
        set_nonblocking(c->fd);
        c->out = malloc(size);
        c->in = malloc(size);
        for (size_t k = 0; k < size; k++) c->out[k] = (unsigned char)('a' + (k + (size_t)i) % 26);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    }
    for (int i = 0; i < nconn; i++) {
        stamp(&conns[i]);
        if (pump_out(ep, &conns[i]) < 0) die("send");
    }

    double start = now();
    double measure_from = start + warmup;
    double end = measure_from + duration;
    int measuring = warmup <= 0;
    double t0 = start, cpu0 = self_cpu(), server0 = server_pid > 0 ? proc_cpu(server_pid) : -1;
    uint64_t bytes = 0;
    struct epoll_event events[MAX_EVENTS];
    int errors = 0;
    for (;;) {
        double t = now();
        if (!measuring && t >= measure_from) {
            measuring = 1;
            for (int i = 0; i < nconn; i++) conns[i].round_trips = 0;
            bytes = 0;
            t0 = t;
            cpu0 = self_cpu();
            server0 = server_pid > 0 ? proc_cpu(server_pid) : -1;
        }
        if (measuring && t >= end) break;
        int n = epoll_wait(ep, events, MAX_EVENTS, 100);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int e = 0; e < n; e++) {
            conn_t *c = events[e].data.ptr;
            if (events[e].events & EPOLLOUT) {
                if (pump_out(ep, c) < 0) die("send");
            }
            if (!(events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
            for (;;) {
                ssize_t r = recv(c->fd, c->in + c->received, msg_size - c->received, 0);
                if (r < 0 && errno == EINTR) continue;
                if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                if (r <= 0) {
                    fprintf(stderr, "connection closed by the server (%s)\n",
                            r == 0 ? "EOF" : strerror(errno));
                    exit(3);
                }
                c->received += (size_t)r;
                if (c->received < msg_size) continue;
                /* A whole echo is back: check it, count it, send the next message. The stamp
                 * (first 8 bytes) and the last byte every time, all of it every 16th message
                 * (a 64 KiB memcmp each time is a quarter of the client's work). */
                if (memcmp(c->in, c->out, msg_size < 8 ? msg_size : 8) != 0 ||
                    c->in[msg_size - 1] != c->out[msg_size - 1] ||
                    ((c->seq & 15) == 0 && memcmp(c->in, c->out, msg_size) != 0))
                    errors++;
                c->round_trips++;
                bytes += msg_size;
                c->received = 0;
                c->sent = 0;
                c->seq++;
                stamp(c);
                if (pump_out(ep, c) < 0) die("send");
                break; /* one message in flight: nothing more can be readable yet */
            }
        }
    }
    double elapsed = now() - t0;
    double cpu = self_cpu() - cpu0;
    double server1 = server_pid > 0 ? proc_cpu(server_pid) : -1;
    /* Close cleanly, so that no server logs a reset: stop sending, take back what is still in
     * flight until the server closes its side. */
    for (int i = 0; i < nconn; i++) {
        int fd = conns[i].fd;
        int flags = fcntl(fd, F_GETFL, 0);
        struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        shutdown(fd, SHUT_WR);
        while (recv(fd, conns[i].in, msg_size, 0) > 0) {
        }
        close(fd);
    }
    uint64_t total = 0, lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < nconn; i++) {
        uint64_t r = conns[i].round_trips;
        total += r;
        if (r < lo) lo = r;
        if (r > hi) hi = r;
    }
    printf("{\"round_trips\": %llu, \"bytes\": %llu, \"seconds\": %.6f, "
           "\"round_trips_per_second\": %.3f, \"connections\": %d, \"size\": %zu, "
           "\"per_connection_min\": %llu, \"per_connection_max\": %llu, "
           "\"client_cpu_seconds\": %.4f, \"server_cpu_seconds\": %.4f, \"mismatches\": %d}\n",
           (unsigned long long)total, (unsigned long long)bytes, elapsed,
           (double)total / elapsed, nconn, size, (unsigned long long)lo, (unsigned long long)hi,
           cpu, (server_pid > 0 && server0 >= 0 && server1 >= 0) ? server1 - server0 : -1.0,
           errors);
    return errors ? 4 : 0;
}

/* ------------------------------------------------------------------------------------------ */

static _Noreturn void run_server(void) {
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(lfd, SOMAXCONN) < 0) die("listen");
    socklen_t len = sizeof addr;
    if (getsockname(lfd, (struct sockaddr *)&addr, &len) < 0) die("getsockname");
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");
    static char buf[65536];
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int e = 0; e < n; e++) {
            int fd = events[e].data.fd;
            if (fd == lfd) {
                int c = accept(lfd, NULL, NULL);
                if (c < 0) continue;
                set_nodelay(c);
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0) die("epoll_ctl");
                continue;
            }
            /* Blocking writes of what was read: the peer always reads, so this cannot stall. */
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r <= 0) {
                close(fd);
                continue;
            }
            for (ssize_t off = 0; off < r;) {
                ssize_t w = send(fd, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
                if (w < 0) {
                    if (errno == EINTR) continue;
                    close(fd);
                    break;
                }
                off += w;
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "server") == 0) run_server();
    if (argc >= 7 && strcmp(argv[1], "client") == 0) {
        long pid = argc >= 8 ? atol(argv[7]) : 0;
        return run_client(atoi(argv[2]), atoi(argv[3]), (size_t)atol(argv[4]), atof(argv[5]),
                          atof(argv[6]), pid);
    }
    fprintf(stderr,
            "usage: %s client PORT CONNECTIONS SIZE DURATION WARMUP [SERVER_PID]\n"
            "       %s server\n",
            argv[0], argv[0]);
    return 1;
}
