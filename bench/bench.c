/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * openhook-bench: what a delegated open costs, in one run, side by side.
 *
 *   (a) a direct openat() + close, the floor;
 *   (b) a bare socketpair + SCM_RIGHTS round trip doing no policy work, the
 *       floor for any broker;
 *   (c) a delegated open through the real server code with a realistic
 *       policy, in a thread (library) and in a real `openhook serve --fd`
 *       process;
 *   (d) throughput with 1, 2, 4 and 16 clients against `openhook serve
 *       --listen`, each client on its own connection; one client
 *       pipelining; a client's open latency while two others pipeline
 *       (--baseline measures a second build beside it, before/after);
 *   (e) whole programs (the workloads table) natively and under
 *       `openhook run`;
 *   (f) one open through `openhook serve --fd` and the broker's start-up
 *       with policies of 10, 1,000 and 10,000 rules (--baseline beside).
 *
 * Latencies are medians of per-operation samples taken after a warm-up.
 * Nothing here asserts on time: a run that completes is a passing run.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdpass.h"
#include "openhook.h"
#include "spin.h"
#include "util.h"
#include "wire.h"

extern char **environ;

struct options {
        bool quick;
        unsigned int iterations;        /* timed single opens per case */
        unsigned int warmup;
        unsigned int ops_per_client;    /* throughput */
        unsigned int program_runs;      /* workloads */
        unsigned int grep_files;
        const char *openhook;           /* the openhook program */
        const char *baseline;           /* another build, measured beside it in (d) */
        bool only_throughput;           /* (d) alone */
        const char *open_loop;          /* internal --open-loop FILE: be the
                                         * program of bench_program_loop() */
};

/* The scratch tree every case works in, removed at exit. */
struct tree {
        char root[64];
        char file[PATH_MAX];            /* the file every single-open case opens */
        char policy[PATH_MAX];          /* a handful of rules, as a deployment has */
        char socket[PATH_MAX];
        char log[PATH_MAX];             /* stderr of the broker processes */
};

/* ---- timing ------------------------------------------------------------- */

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static double median_double(double *v, size_t n)
{
        qsort(v, n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One open of PATH and the close of what it returned: 0 or -errno. */
typedef int (*open_close_fn)(void *ctx, const char *path);

struct latency {
        bool ok;
        double median_us, p90_us;
        int error;              /* when !ok */
};

static struct latency measure(open_close_fn fn, void *ctx, const char *path, const struct options *o)
{
        struct latency l = { 0 };
        _cleanup_free_ uint64_t *samples = calloc(o->iterations, sizeof(*samples));
        if (!samples)
                return (struct latency) { .error = -ENOMEM };

        for (unsigned int i = 0; i < o->warmup; i++) {
                int r = fn(ctx, path);
                if (r < 0)
                        return (struct latency) { .error = r };
        }
        for (unsigned int i = 0; i < o->iterations; i++) {
                uint64_t t0 = now_ns();
                int r = fn(ctx, path);
                samples[i] = now_ns() - t0;
                if (r < 0)
                        return (struct latency) { .error = r };
        }
        qsort(samples, o->iterations, sizeof(*samples), cmp_u64);
        l.ok = true;
        l.median_us = samples[o->iterations / 2] / 1000.0;
        l.p90_us = samples[o->iterations * 9 / 10] / 1000.0;
        return l;
}

/* ---- (a) direct --------------------------------------------------------- */

static int direct_open_close(void *ctx, const char *path)
{
        int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        close(fd);
        return 0;
}

/* ---- (b) bare round trip ------------------------------------------------ */

/* The bare protocol: a SOCK_SEQPACKET message holding just the path; the
 * answer is a seed-format response with the fd attached.  No framing to
 * check and no policy: whatever a broker does beyond this is its cost.
 *
 * Both bare ends wait the way the library's do (spin.h: poll briefly after
 * activity, then block), or the floor would include the wake-ups of idle
 * CPUs that openhook avoids, tens of microseconds on a VM.
 * OPENHOOK_SPIN_US=0 turns polling off on both sides alike. */
static ssize_t recvmsg_polled(int sock, struct msghdr *msg, int flags, struct oh_spin_state *spin)
{
        uint64_t window = oh_spin_begin(spin);
        uint64_t until = window ? oh_spin_now_ns() + window : 0;

        while (until) {
                ssize_t n = recvmsg(sock, msg, flags | MSG_DONTWAIT);
                if (n >= 0 || errno != EAGAIN) {
                        oh_spin_end(spin, true);
                        return n;
                }
                if (oh_spin_now_ns() >= until) {
                        oh_spin_end(spin, false);
                        break;
                }
                oh_spin_pause();
        }
        return recvmsg(sock, msg, flags);
}

static int send_response(int sock, int32_t result, int fd)
{
        uint8_t buf[OH_RESPONSE_SIZE];
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(sizeof(int))];
        } control = { 0 };
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

        oh_wire_encode_response(OPENHOOK_CMD_OPEN, result, buf);
        if (fd >= 0) {
                msg.msg_control = control.space;
                msg.msg_controllen = sizeof(control.space);
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static void *bare_server(void *arg)
{
        _cleanup_close_ int sock = (int)(intptr_t)arg;
        struct oh_spin_state spin = { 0 };
        char path[PATH_MAX];
        struct iovec iov = { .iov_base = path, .iov_len = sizeof(path) - 1 };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

        for (;;) {
                ssize_t n = recvmsg_polled(sock, &msg, 0, &spin);
                if (n <= 0)
                        return NULL;
                path[n] = '\0';
                _cleanup_close_ int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
                if (send_response(sock, fd < 0 ? -errno : 0, fd) < 0)
                        return NULL;
        }
}

/* Receives a response and its fd; returns the fd or -errno. */
static int recv_response(int sock)
{
        uint8_t buf[OH_RESPONSE_SIZE + 1];
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(sizeof(int))];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = control.space, .msg_controllen = sizeof(control.space) };
        static struct oh_spin_state spin;
        int32_t result;
        int fd = -1;

        ssize_t n = recvmsg_polled(sock, &msg, MSG_CMSG_CLOEXEC, &spin);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        _cleanup_close_ int owned = fd;
        int r = oh_wire_decode_response(buf, (size_t)n, OPENHOOK_CMD_OPEN, &result);
        if (r < 0)
                return r;
        if (result < 0)
                return result;
        return owned >= 0 ? TAKE_FD(owned) : -EPROTO;
}

static int bare_open_close(void *ctx, const char *path)
{
        int sock = *(int *)ctx;
        if (send(sock, path, strlen(path), MSG_NOSIGNAL) < 0)
                return -errno;
        int fd = recv_response(sock);
        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

/* The bare server in a thread, or in a child process (the fair floor for
 * a broker that is a process of its own). */
static struct latency bench_bare(const char *path, bool child, const struct options *o)
{
        pthread_t thread;
        pid_t pid = -1;
        int sv[2], r = 0;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return (struct latency) { .error = -errno };
        _cleanup_close_ int client = sv[0];
        if (child) {
                pid = fork();
                if (pid == 0) {
                        close(client);
                        bare_server((void *)(intptr_t)sv[1]);
                        _exit(0);
                }
                close(sv[1]);
                r = pid < 0 ? -errno : 0;
        } else {
                r = -pthread_create(&thread, NULL, bare_server, (void *)(intptr_t)sv[1]);
                if (r < 0)
                        close(sv[1]);
        }
        if (r < 0)
                return (struct latency) { .error = r };
        struct latency l = measure(bare_open_close, &client, path, o);
        shutdown(client, SHUT_RDWR);
        if (child)
                waitpid(pid, NULL, 0);
        else
                pthread_join(thread, NULL);
        return l;
}

/* ---- (c) the real server ------------------------------------------------ */

static int openhook_open_close(void *ctx, const char *path)
{
        int fd = openhook_open(*(int *)ctx, path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

struct server_thread {
        struct openhook_server *server;
        int fd;
        int result;
};

static void *server_thread_main(void *arg)
{
        struct server_thread *st = arg;
        st->result = openhook_server_run(st->server, st->fd, 0, 1);
        return NULL;
}

/* A manager reloading all the time: the server's policy swapped between
 * two copies every 100 us while the client opens (openhook_server_set_policy
 * waits for requests in flight). */
struct reload_storm {
        struct openhook_server *server;
        struct openhook_policy *policies[2];
        atomic_bool stop;
        unsigned long swaps;
};

static void *reload_storm_main(void *arg)
{
        struct reload_storm *rs = arg;

        while (!atomic_load(&rs->stop)) {
                openhook_server_set_policy(rs->server, rs->policies[++rs->swaps % 2]);
                nanosleep(&(struct timespec) { .tv_nsec = 100000 }, NULL);
        }
        return NULL;
}

static int load_policy(const struct tree *t, struct openhook_policy **ret)
{
        _cleanup_free_ char *error = NULL;
        int r = openhook_policy_new(ret);

        if (r < 0)
                return r;
        r = openhook_policy_load_file(*ret, t->policy, &error);
        if (r < 0)
                fprintf(stderr, "openhook-bench: %s\n", error ? error : t->policy);
        return r;
}

/* Opens measured while RS (if not NULL) swaps the server's policy. */
static struct latency measure_under(struct reload_storm *rs, int sock, const struct tree *t, const struct options *o)
{
        pthread_t storm;
        struct latency l;

        if (!rs)
                return measure(openhook_open_close, &sock, t->file, o);
        if (pthread_create(&storm, NULL, reload_storm_main, rs) != 0)
                return (struct latency) { .error = -EAGAIN };
        l = measure(openhook_open_close, &sock, t->file, o);
        atomic_store(&rs->stop, true);
        pthread_join(storm, NULL);
        return l;
}

/* The embedded server, as a daemon would run it (examples/embed-server.c):
 * the library's loop with one worker thread, the policy file loaded; with
 * STORM, while a reload swaps its policy every 100 us. */
static struct latency bench_library_server(const struct tree *t, const struct options *o, bool storm)
{
        struct openhook_policy *policy = NULL, *other = NULL;
        struct openhook_server *server = NULL;
        struct server_thread st = { 0 };
        struct latency l = { 0 };
        pthread_t thread;
        int sv[2] = { -1, -1 };

        l.error = load_policy(t, &policy);
        if (l.error >= 0 && storm)
                l.error = load_policy(t, &other);
        if (l.error < 0)
                goto out;
        l.error = openhook_server_new(policy, &server);
        if (l.error < 0)
                goto out;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                l.error = -errno;
                goto out;
        }
        st = (struct server_thread) { .server = server, .fd = sv[1] };
        l.error = -pthread_create(&thread, NULL, server_thread_main, &st);
        if (l.error < 0) {
                close(sv[0]);
                close(sv[1]);
                goto out;
        }
        struct reload_storm rs = { .server = server, .policies = { policy, other } };
        l = measure_under(storm ? &rs : NULL, sv[0], t, o);
        /* The loop returns once its last client has gone. */
        close(sv[0]);
        pthread_join(thread, NULL);
        if (st.result < 0)
                fprintf(stderr, "openhook-bench: the server loop failed: %s\n", strerror(-st.result));
out:
        openhook_server_free(server);
        openhook_policy_free(policy);
        openhook_policy_free(other);
        return l;
}

/* Starts ARGV with FD (if >= 0) as its fd 3, stdout on OUT (NULL:
 * /dev/null) and stderr appended to LOG.  Returns the pid or -errno. */
static pid_t spawn(char *const argv[], int fd, const char *out, const char *log)
{
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int r;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out ? out : "/dev/null",
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, fd, 3);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        return r ? -r : pid;
}

/* Waits for PID at most TIMEOUT_S seconds, then kills it.  Returns its
 * exit status, 128+N for a signal, or -ETIMEDOUT. */
static int wait_exit(pid_t pid, double timeout_s)
{
        uint64_t deadline = now_ns() + (uint64_t)(timeout_s * 1e9);
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                if (r < 0)
                        return -errno;
                if (now_ns() > deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        return -ETIMEDOUT;
                }
                nanosleep(&(struct timespec) { .tv_nsec = 2000000 }, NULL);
        }
}

static void stop(pid_t pid)
{
        kill(pid, SIGTERM);
        if (wait_exit(pid, 5) == -ETIMEDOUT)
                fprintf(stderr, "openhook-bench: broker %d ignored SIGTERM, killed\n", (int)pid);
}

/* `openhook serve --fd 3 --policy FILE` on one end of a socketpair. */
static struct latency bench_serve_process(const struct tree *t, const struct options *o)
{
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return (struct latency) { .error = -errno };
        _cleanup_close_ int client = sv[0];
        char *argv[] = { (char *)o->openhook, "serve", "--fd", "3", "--policy", (char *)t->policy, NULL };
        pid_t pid = spawn(argv, sv[1], NULL, t->log);
        close(sv[1]);
        if (pid < 0)
                return (struct latency) { .error = pid };
        struct latency l = measure(openhook_open_close, &client, t->file, o);
        close(TAKE_FD(client));
        /* With its only client gone the broker exits by itself. */
        if (wait_exit(pid, 5) == -ETIMEDOUT)
                fprintf(stderr, "openhook-bench: serve --fd did not exit after its client left\n");
        return l;
}

/* How a program is started: natively, or under `openhook run`. */
struct mode {
        const char *name;
        const char *run_mode;   /* --mode for openhook run; NULL: native */
        bool no_shim;           /* seccomp mode without its fast path */
};

static const struct mode modes[] = {
        { "native", NULL, false },
        { "run --mode preload", "preload", false },
        { "run --mode seccomp", "seccomp", false },
        { "seccomp --no-shim", "seccomp", true },
};

/* Appends M's openhook run options to ARGV at N; returns the new N. */
static size_t add_mode_args(const struct mode *m, const char **argv, size_t n)
{
        argv[n++] = "--mode";
        argv[n++] = m->run_mode;
        if (m->no_shim)
                argv[n++] = "--no-shim";
        return n;
}

/* The same open+close loop run as a whole program (this one, with
 * --open-loop) under `openhook run` in mode M, so the shim or the seccomp
 * supervisor is in the path as for any program.  The child prints
 * "MEDIAN P90" (us) on stdout. */
static struct latency bench_program_loop(const struct tree *t, const struct mode *m, const struct options *o)
{
        char self[PATH_MAX], allow[PATH_MAX + 8], out[PATH_MAX + 8], iterations[16];
        const char *argv[16];
        size_t n = 0;
        struct latency l = { 0 };

        ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (len <= 0)
                return (struct latency) { .error = -errno };
        self[len] = '\0';
        snprintf(allow, sizeof(allow), "r:%s/data/", t->root);
        snprintf(out, sizeof(out), "%s/loop.out", t->root);
        snprintf(iterations, sizeof(iterations), "%u", o->iterations);
        argv[n++] = o->openhook;
        argv[n++] = "run";
        n = add_mode_args(m, argv, n);
        argv[n++] = "--allow";
        argv[n++] = allow;
        argv[n++] = "--";
        argv[n++] = self;
        argv[n++] = "--open-loop";
        argv[n++] = t->file;
        argv[n++] = "--iterations";
        argv[n++] = iterations;
        if (o->quick)
                argv[n++] = "--quick";
        argv[n] = NULL;

        pid_t pid = spawn((char *const *)argv, -1, out, t->log);
        if (pid < 0)
                return (struct latency) { .error = pid };
        int status = wait_exit(pid, 300);
        if (status != 0)
                return (struct latency) { .error = status < 0 ? status : -ECHILD };
        FILE *f = fopen(out, "re");
        if (!f)
                return (struct latency) { .error = -errno };
        l.ok = fscanf(f, "%lf %lf", &l.median_us, &l.p90_us) == 2;
        fclose(f);
        if (!l.ok)
                l.error = -EBADMSG;
        return l;
}

/* The child side of bench_program_loop(). */
static int open_loop_main(const struct options *o)
{
        struct latency l = measure(direct_open_close, NULL, o->open_loop, o);

        if (!l.ok) {
                fprintf(stderr, "openhook-bench: open loop on %s: %s\n", o->open_loop, strerror(-l.error));
                return 1;
        }
        printf("%.3f %.3f\n", l.median_us, l.p90_us);
        return 0;
}

/* ---- (d) throughput ----------------------------------------------------- */

struct client {
        const struct tree *tree;
        unsigned int ops;
        pthread_rwlock_t *gate;         /* write-locked until all are connected */
        int sock;
        int error;
};

static void *client_main(void *arg)
{
        struct client *c = arg;

        pthread_rwlock_rdlock(c->gate);
        pthread_rwlock_unlock(c->gate);
        for (unsigned int i = 0; i < c->ops && c->error == 0; i++)
                c->error = openhook_open_close(&c->sock, c->tree->file);
        return NULL;
}

/* NCLIENTS connections, each opening OPS times at once; returns opens/s
 * (from the moment all are connected until the last one finishes) or
 * -errno. */
static double throughput(const struct tree *t, unsigned int nclients, unsigned int ops)
{
        struct client clients[16];
        pthread_t threads[16];
        pthread_rwlock_t gate = PTHREAD_RWLOCK_INITIALIZER;
        unsigned int started = 0;
        int error = 0;

        if (nclients > ELEMENTSOF(clients))
                return -EINVAL;
        pthread_rwlock_wrlock(&gate);
        for (; started < nclients; started++) {
                struct client *c = &clients[started];
                *c = (struct client) { .tree = t, .ops = ops, .gate = &gate };
                c->sock = openhook_connect(t->socket);
                if (c->sock < 0) {
                        error = c->sock;
                        break;
                }
                if (pthread_create(&threads[started], NULL, client_main, c) != 0) {
                        close(c->sock);
                        error = -EAGAIN;
                        break;
                }
        }
        /* After a failure the started clients are released with nothing to do. */
        for (unsigned int i = 0; error < 0 && i < started; i++)
                clients[i].ops = 0;
        uint64_t t0 = now_ns();
        pthread_rwlock_unlock(&gate);
        for (unsigned int i = 0; i < started; i++) {
                pthread_join(threads[i], NULL);
                close(clients[i].sock);
                if (clients[i].error < 0 && error == 0)
                        error = clients[i].error;
        }
        double seconds = (now_ns() - t0) / 1e9;
        pthread_rwlock_destroy(&gate);
        return error < 0 ? error : (double)nclients * ops / seconds;
}

/* Waits until a broker accepts on T->socket.  Returns 0 or -errno. */
static int wait_listening(const struct tree *t, pid_t pid)
{
        for (int i = 0; i < 1000; i++) {
                int fd = openhook_connect(t->socket);
                if (fd >= 0) {
                        close(fd);
                        return 0;
                }
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        return -ECHILD;
                nanosleep(&(struct timespec) { .tv_nsec = 5000000 }, NULL);
        }
        return -ETIMEDOUT;
}

/* Prints why WHAT could not be measured, with the broker's last words. */
static void print_error_line(const char *what, int error, const struct tree *t)
{
        _cleanup_free_ char *line = NULL, *last = NULL;
        size_t cap = 0;
        FILE *f = fopen(t->log, "re");

        while (f && getline(&line, &cap, f) > 0) {
                line[strcspn(line, "\n")] = '\0';
                free(last);
                last = strdup(line);
        }
        if (f)
                fclose(f);
        printf("  %-46s unavailable: %s", what, strerror(-error));
        if (last && *last)
                printf(" (broker: %s)", last);
        printf("\n");
}

/* ---- (d') pipelining ---------------------------------------------------- */

/* Requests a pipelining client keeps in flight. */
#define PIPELINE_DEPTH 16

/* A client on its own stream connection that writes requests ahead of the
 * replies, DEPTH at a time: OPS in all, or until *STOP when OPS is 0. */
struct pipeline {
        const struct tree *tree;
        unsigned int ops;
        atomic_bool *stop;
        int sock;
        int error;
        unsigned int done;              /* replies received */
};

/* Reads one whole reply from a stream socket.  Returns 0 or -errno. */
static int recv_stream_reply(int sock)
{
        uint8_t buf[OH_RESPONSE_SIZE];
        size_t got = 0;
        int32_t result;

        while (got < sizeof(buf)) {
                struct oh_received rc;
                ssize_t n = oh_recv(sock, buf + got, sizeof(buf) - got, MSG_CMSG_CLOEXEC, &rc);
                oh_received_close(&rc);
                if (n <= 0)
                        return n < 0 ? (int)n : -ECONNRESET;
                got += (size_t)n;
        }
        int r = oh_wire_decode_response(buf, sizeof(buf), OPENHOOK_CMD_OPEN, &result);
        return r < 0 ? r : result;
}

static bool pipeline_more(const struct pipeline *p, unsigned int sent)
{
        return p->ops ? sent < p->ops : !atomic_load(p->stop);
}

static void *pipeline_main(void *arg)
{
        struct pipeline *p = arg;
        struct oh_request req = { .command = OPENHOOK_CMD_OPEN, .flags = O_RDONLY | O_CLOEXEC,
                                  .path = p->tree->file };
        uint8_t msg[OH_REQUEST_MAX];
        unsigned int sent = 0;

        int len = oh_wire_encode_request(&req, msg, sizeof(msg));
        p->error = len < 0 ? len : 0;
        while (p->error == 0 && (p->done < sent || pipeline_more(p, sent))) {
                if (sent - p->done < PIPELINE_DEPTH && pipeline_more(p, sent)) {
                        ssize_t n = oh_send(p->sock, msg, (size_t)len, -1);
                        p->error = n == len ? 0 : n < 0 ? (int)n : -EIO;
                        sent++;
                        continue;
                }
                p->error = recv_stream_reply(p->sock);
                p->done++;
        }
        return NULL;
}

static int pipeline_start(struct pipeline *p, pthread_t *thread)
{
        p->sock = openhook_connect(p->tree->socket);
        if (p->sock < 0)
                return p->sock;
        int r = -pthread_create(thread, NULL, pipeline_main, p);
        if (r < 0)
                close(p->sock);
        return r;
}

static int pipeline_join(struct pipeline *p, pthread_t thread)
{
        pthread_join(thread, NULL);
        close(p->sock);
        return p->error;
}

/* One client pipelining OPS opens.  Returns opens/s or -errno. */
static double pipelined_rate(const struct tree *t, unsigned int ops)
{
        struct pipeline p = { .tree = t, .ops = ops };
        pthread_t thread;

        uint64_t t0 = now_ns();
        int r = pipeline_start(&p, &thread);
        if (r == 0)
                r = pipeline_join(&p, thread);
        return r < 0 ? r : ops / ((now_ns() - t0) / 1e9);
}

/* A plain client's open latency on its own connection while NFLOOD others
 * pipeline as fast as they can: what one client's queue costs the rest.
 * Their opens/s together go to *FLOOD_RATE. */
static struct latency latency_beside(const struct tree *t, unsigned int nflood, const struct options *o,
                                     double *flood_rate)
{
        struct pipeline flood[2];
        pthread_t threads[ELEMENTSOF(flood)];
        atomic_bool stop = false;
        unsigned int started = 0;
        struct latency l = { .error = 0 };
        uint64_t t0 = now_ns();
        unsigned int done = 0;

        for (; started < nflood && started < ELEMENTSOF(flood); started++) {
                flood[started] = (struct pipeline) { .tree = t, .stop = &stop };
                l.error = pipeline_start(&flood[started], &threads[started]);
                if (l.error < 0)
                        break;
        }
        _cleanup_close_ int sock = l.error < 0 ? -1 : openhook_connect(t->socket);
        if (l.error == 0 && sock < 0)
                l.error = sock;
        if (l.error == 0)
                l = measure(openhook_open_close, &sock, t->file, o);
        atomic_store(&stop, true);
        for (unsigned int i = 0; i < started; i++) {
                int r = pipeline_join(&flood[i], threads[i]);
                if (r < 0 && l.ok)
                        l = (struct latency) { .error = r };
                done += flood[i].done;
        }
        *flood_rate = done / ((now_ns() - t0) / 1e9);
        return l;
}

/* ---- (d) measured and printed ------------------------------------------- */

static const unsigned int client_counts[] = { 1, 2, 4, 16 };

/* A broker under test: the program, its own socket in a copy of the tree,
 * and what was measured against it. */
struct listen_broker {
        const char *program;
        struct tree tree;
        pid_t pid;
        int error;                              /* it did not start */
        double rate[ELEMENTSOF(client_counts)]; /* opens/s, or -errno */
        double pipelined;                       /* opens/s, or -errno */
        struct latency alone, beside;
        double beside_rate;                     /* the 2 pipelining clients' opens/s */
};

/* Starts `PROGRAM serve --listen` on the socket NAME in T's root. */
static void listen_start(struct listen_broker *b, const char *program, const struct tree *t, const char *name)
{
        *b = (struct listen_broker) { .program = program, .tree = *t };
        snprintf(b->tree.socket, sizeof(b->tree.socket), "%s/%s", t->root, name);
        char *argv[] = { (char *)program, "serve", "--listen", b->tree.socket, "--policy", (char *)t->policy, NULL };
        b->pid = spawn(argv, -1, NULL, t->log);
        b->error = b->pid < 0 ? b->pid : wait_listening(&b->tree, b->pid);
        if (b->error == -ECHILD)
                b->error = -ESRCH;
        if (b->error < 0 && b->pid > 0)
                stop(b->pid);
}

/* Each figure is the median of REPS runs; with two brokers their runs
 * alternate, so a machine that gets busier mid-way weighs on both alike. */
static void listen_measure(struct listen_broker *b, size_t nb, const struct options *o)
{
        unsigned int reps = o->quick ? 1 : 5;
        double runs[2][5];

        for (size_t i = 0; i <= ELEMENTSOF(client_counts); i++) {
                for (unsigned int k = 0; k < reps; k++)
                        for (size_t j = 0; j < nb; j++)
                                runs[j][k] = i < ELEMENTSOF(client_counts) ?
                                        throughput(&b[j].tree, client_counts[i], o->ops_per_client) :
                                        pipelined_rate(&b[j].tree, o->ops_per_client);
                for (size_t j = 0; j < nb; j++)
                        *(i < ELEMENTSOF(client_counts) ? &b[j].rate[i] : &b[j].pipelined) =
                                median_double(runs[j], reps);
        }
        double none;
        for (size_t j = 0; j < nb; j++)
                b[j].alone = latency_beside(&b[j].tree, 0, o, &none);
        for (size_t j = 0; j < nb; j++)
                b[j].beside = latency_beside(&b[j].tree, 2, o, &b[j].beside_rate);
}

static void print_rates(const char *what, double rate, const struct listen_broker *base, double base_rate)
{
        printf("  %-40s", what);
        for (unsigned int j = 0; j < (base ? 2u : 1u); j++) {
                double r = j ? base_rate : rate;
                if (r < 0)
                        printf(" %12s", strerror((int)-r));
                else
                        printf(" %12.0f", r);
        }
        printf("\n");
}

static void print_latencies(const char *what, struct latency l, const struct listen_broker *base, struct latency base_l)
{
        printf("  %-40s", what);
        for (unsigned int j = 0; j < (base ? 2u : 1u); j++) {
                struct latency x = j ? base_l : l;
                if (x.ok)
                        printf(" %12.2f %8.2f", x.median_us, x.p90_us);
                else
                        printf(" %21s", strerror(-x.error));
        }
        printf("\n");
}

/* B's figures, and BASE's beside them when a baseline was measured. */
static void listen_print(const struct listen_broker *b, const struct listen_broker *base)
{
        printf("  %-40s %12s%s\n", "opens/s", "this", base ? "     baseline" : "");
        for (size_t i = 0; i < ELEMENTSOF(client_counts); i++) {
                char what[64];
                snprintf(what, sizeof(what), "%u client%s, each waiting for its reply", client_counts[i],
                         client_counts[i] == 1 ? "" : "s");
                print_rates(what, b->rate[i], base, base ? base->rate[i] : 0);
        }
        char what[64];
        snprintf(what, sizeof(what), "1 client, %u requests in flight", PIPELINE_DEPTH);
        print_rates(what, b->pipelined, base, base ? base->pipelined : 0);
        printf("  %-40s %12s %8s%s\n", "open latency, us", "median", "p90",
               base ? "  base median      p90" : "");
        print_latencies("one client alone", b->alone, base, base ? base->alone : b->alone);
        print_latencies("one client while 2 others pipeline", b->beside, base, base ? base->beside : b->beside);
        print_rates("  the 2 others' opens/s meanwhile", b->beside_rate, base, base ? base->beside_rate : 0);
        if (b->rate[0] > 0 && b->rate[1] > 0)
                printf("  scaling 2 clients vs 1: %.2fx (goal: > 1x, it grows with a 2nd client)\n",
                       b->rate[1] / b->rate[0]);
}

static bool listen_ok(const struct listen_broker *b)
{
        for (size_t i = 0; i < ELEMENTSOF(client_counts); i++)
                if (b->rate[i] < 0)
                        return false;
        return b->error == 0 && b->pipelined >= 0 && b->alone.ok && b->beside.ok;
}

/* Returns true if every figure of the broker under test was measured. */
static bool bench_throughput(const struct tree *t, const struct options *o)
{
        struct listen_broker b[2];
        size_t nb = 1;

        printf("\n(d) Throughput against openhook serve --listen (each client its own connection, %u opens each, median of %u)\n",
               o->ops_per_client, o->quick ? 1 : 5);
        listen_start(&b[0], o->openhook, t, "broker.sock");
        if (b[0].error < 0) {
                print_error_line("openhook serve --listen", b[0].error, t);
                return false;
        }
        if (o->baseline) {
                printf("  baseline broker: %s\n", o->baseline);
                listen_start(&b[1], o->baseline, t, "baseline.sock");
                if (b[1].error < 0)
                        print_error_line("baseline serve --listen", b[1].error, t);
                else
                        nb = 2;
        }
        listen_measure(b, nb, o);
        for (size_t j = 0; j < nb; j++)
                stop(b[j].pid);
        listen_print(&b[0], nb == 2 ? &b[1] : NULL);
        return listen_ok(&b[0]);
}

/* ---- (f) the size of the policy ---------------------------------------- */

/* The numbers of rules measured; the smallest is about make_tree()'s. */
static const unsigned int policy_sizes[] = { 10, 1000, 10000 };

/* Directories the generated rules are spread over. */
#define POLICY_DIRS 100

/* Writes T's policy plus rules up to N in all into PATH, in the shape of a
 * learned policy (openhook run --learn): per directory of POLICY_DIRS,
 * mostly "allow r" of files that exist, a subtree and a deny now and then.
 * Returns 0 or -errno. */
static int write_big_policy(const struct tree *t, unsigned int n, const char *path)
{
        char line[PATH_MAX + 64], dir[PATH_MAX];
        FILE *in = fopen(t->policy, "re"), *out = fopen(path, "we");
        unsigned int written = 0;
        int r = in && out ? 0 : -errno;

        while (r == 0 && fgets(line, sizeof(line), in))
                written += line[0] == 'a' || line[0] == 'd';
        if (r == 0 && fseek(in, 0, SEEK_SET) == 0)
                while (fgets(line, sizeof(line), in))
                        fputs(line, out);
        for (unsigned int i = 0; r == 0 && written + i < n; i++) {
                snprintf(dir, sizeof(dir), "%s/rules/d%02u", t->root, i % POLICY_DIRS);
                if (i < POLICY_DIRS && mkdir(dir, 0755) < 0 && errno != EEXIST)
                        r = -errno;
                else if (i % 10 == 1)
                        fprintf(out, "allow rw %s/tree%u/\n", dir, i);
                else if (i % 10 == 2)
                        fprintf(out, "deny %s/secret%u\n", dir, i);
                else {
                        snprintf(line, sizeof(line), "%s/f%u", dir, i);
                        int fd = open(line, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                        if (fd < 0)
                                r = -errno;
                        else
                                close(fd);
                        fprintf(out, "allow r %s\n", line);
                }
        }
        if (in)
                fclose(in);
        if (out && fclose(out) != 0 && r == 0)
                r = -errno;
        return r;
}

/* What one broker showed with one policy. */
struct policy_size_figures {
        struct latency open;
        double startup_ms[5];   /* one per run, then their median in [0] */
        int error;
};

/* Starts PROGRAM serve --fd 3 --policy POLICY and times it from exec to
 * its first answer, into *STARTUP_MS; with O, also measures its opens.
 * Returns 0 or -errno. */
static int policy_size_run(const char *program, const char *policy, const struct tree *t,
                           double *startup_ms, struct latency *open, const struct options *o)
{
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        _cleanup_close_ int client = sv[0];
        char *argv[] = { (char *)program, "serve", "--fd", "3", "--policy", (char *)policy, NULL };
        uint64_t t0 = now_ns();
        pid_t pid = spawn(argv, sv[1], NULL, t->log);
        close(sv[1]);
        if (pid < 0)
                return pid;
        int r = openhook_open_close(&client, t->file);
        *startup_ms = (now_ns() - t0) / 1e6;
        if (r == 0 && o)
                *open = measure(openhook_open_close, &client, t->file, o);
        close(TAKE_FD(client));
        if (wait_exit(pid, 5) == -ETIMEDOUT)
                fprintf(stderr, "openhook-bench: serve --fd did not exit after its client left\n");
        return r;
}

/* Start-ups of the brokers alternate, so a machine that gets busier
 * mid-way weighs on both alike; the opens are measured in the first run. */
static void policy_size_measure(const char *const programs[], size_t nb, const char *policy, const struct tree *t,
                                struct policy_size_figures f[], const struct options *o)
{
        unsigned int runs = o->quick ? 1 : ELEMENTSOF(f[0].startup_ms);

        for (size_t j = 0; j < nb; j++)
                f[j] = (struct policy_size_figures) {};
        for (unsigned int k = 0; k < runs; k++)
                for (size_t j = 0; j < nb; j++)
                        if (f[j].error == 0)
                                f[j].error = policy_size_run(programs[j], policy, t, &f[j].startup_ms[k],
                                                             &f[j].open, k == 0 ? o : NULL);
        for (size_t j = 0; j < nb; j++)
                f[j].startup_ms[0] = median_double(f[j].startup_ms, runs);
}

static void policy_size_print(unsigned int n, const struct policy_size_figures f[], size_t nb)
{
        printf("  %6u", n);
        for (size_t j = 0; j < nb; j++) {
                if (f[j].error < 0 || !f[j].open.ok)
                        printf("   %-31s", strerror(-(f[j].error < 0 ? f[j].error : f[j].open.error)));
                else
                        printf("   %9.2f %9.2f %11.1f", f[j].open.median_us, f[j].open.p90_us, f[j].startup_ms[0]);
        }
        printf("\n");
}

static void policy_size_goals(const struct policy_size_figures first[], const struct policy_size_figures last[],
                              size_t nb)
{
        for (size_t j = 0; j < nb; j++) {
                if (!first[j].open.ok || !last[j].open.ok || last[j].error < 0)
                        continue;
                printf("  %s: open with %u rules vs %u: %.2fx (goal: ~1x, the number of rules does not count); "
                       "start-up with %u: %.1f ms (goal: <= 50 ms)\n", j ? "baseline" : "this",
                       policy_sizes[ELEMENTSOF(policy_sizes) - 1], policy_sizes[0],
                       last[j].open.median_us / first[j].open.median_us,
                       policy_sizes[ELEMENTSOF(policy_sizes) - 1], last[j].startup_ms[0]);
        }
}

/* One open through `openhook serve --fd` and the broker's start-up, with
 * policies of policy_sizes[] rules, beside the baseline's when given.
 * Returns true if every figure of the broker under test was measured. */
static bool bench_policy_size(const struct tree *t, const struct options *o)
{
        const char *programs[2] = { o->openhook, o->baseline };
        size_t nb = o->baseline ? 2 : 1;
        struct policy_size_figures f[ELEMENTSOF(policy_sizes)][2];
        char dir[PATH_MAX], policy[PATH_MAX];
        bool ok = true;

        printf("\n(f) Policy size: openhook serve --fd, one open (median, p90) and start-up (exec to the first answer, "
               "median of %u)\n", o->quick ? 1 : (unsigned int)ELEMENTSOF(f[0][0].startup_ms));
        printf("  %6s   %9s %9s %11s%s\n", "rules", "median us", "p90 us", "start-up ms",
               o->baseline ? "   baseline: median us    p90 us start-up ms" : "");
        snprintf(dir, sizeof(dir), "%s/rules", t->root);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                print_error_line("(f) the rules' tree", -errno, t);
                return false;
        }
        for (size_t i = 0; i < ELEMENTSOF(policy_sizes); i++) {
                snprintf(policy, sizeof(policy), "%s/policy-%u.conf", t->root, policy_sizes[i]);
                int r = write_big_policy(t, policy_sizes[i], policy);
                if (r < 0) {
                        print_error_line("(f) writing the policy", r, t);
                        return false;
                }
                policy_size_measure(programs, nb, policy, t, f[i], o);
                policy_size_print(policy_sizes[i], f[i], nb);
                ok = ok && f[i][0].error == 0 && f[i][0].open.ok;
        }
        policy_size_goals(f[0], f[ELEMENTSOF(policy_sizes) - 1], nb);
        return ok;
}

/* ---- (e) whole programs ------------------------------------------------- */

/* A workload is a program over a generated tree.  To add one, write its
 * prepare function and add a row. */
struct workload {
        const char *name;
        /* Builds NFILES files under DIR; fills ARGV (NULL-terminated; strings
         * static or DIR itself) and *LINES, the number of lines the program
         * must print.  Returns the number of files or -errno. */
        int (*prepare)(const char *dir, unsigned int nfiles, const char **argv, unsigned int *lines);
        int expected_status;
        const char *run_option;         /* added to openhook run's options; NULL: none */
};

static int write_file(const char *path, const char *content)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        size_t len = strlen(content);
        return write(fd, content, len) == (ssize_t)len ? 0 : -EIO;
}

/* NFILES small text files in directories of 100, every 97th holding the
 * pattern, so grep reads everything and finds something. */
static int prepare_grep(const char *dir, unsigned int nfiles, const char **argv, unsigned int *lines)
{
        char path[PATH_MAX];

        *lines = 0;
        for (unsigned int i = 0; i < nfiles; i++) {
                if (i % 100 == 0) {
                        snprintf(path, sizeof(path), "%s/d%03u", dir, i / 100);
                        if (mkdir(path, 0755) < 0)
                                return -errno;
                }
                snprintf(path, sizeof(path), "%s/d%03u/f%05u.txt", dir, i / 100, i);
                *lines += i % 97 == 0;
                int r = write_file(path, i % 97 == 0
                                   ? "some text\nthe needle is here\nmore text\n"
                                   : "lorem ipsum dolor sit amet\nconsectetur adipiscing elit\n");
                if (r < 0)
                        return r;
        }
        argv[0] = "grep";
        argv[1] = "-r";
        argv[2] = "needle";
        argv[3] = dir;
        argv[4] = NULL;
        return (int)nfiles;
}

static const struct workload workloads[] = {
        { "grep -r over a tree", prepare_grep, 0, NULL },
        { "grep -r, --direct-reads", prepare_grep, 0, "--direct-reads" },
};

static long count_lines(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buf[65536];
        long lines = 0;
        ssize_t n;

        if (fd < 0)
                return -errno;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                for (ssize_t i = 0; i < n; i++)
                        lines += buf[i] == '\n';
        return n < 0 ? -errno : lines;
}

/* Runs ARGV in MODE once and checks it did the work (exit status, number
 * of output lines), so a run that did nothing is never timed as fast.
 * Returns the seconds it took, -errno (-EBADMSG: wrong output), or an
 * unexpected exit status as -1000 - status. */
static double run_once(const struct mode *m, const char *dir, const char **argv, unsigned int lines,
                       const struct workload *w, const struct tree *t, const struct options *o)
{
        char out[PATH_MAX + 8];
        const char *full[32];
        char allow[PATH_MAX + 8];
        size_t n = 0;

        if (m->run_mode) {
                snprintf(allow, sizeof(allow), "r:%s/", dir);
                full[n++] = o->openhook;
                full[n++] = "run";
                n = add_mode_args(m, full, n);
                full[n++] = "--allow";
                full[n++] = allow;
                if (w->run_option)
                        full[n++] = w->run_option;
                full[n++] = "--";
        }
        for (size_t i = 0; argv[i] && n < ELEMENTSOF(full) - 1; i++)
                full[n++] = argv[i];
        full[n] = NULL;

        snprintf(out, sizeof(out), "%s.out", dir);
        uint64_t t0 = now_ns();
        pid_t pid = spawn((char *const *)full, -1, out, t->log);
        if (pid < 0)
                return pid;
        int status = wait_exit(pid, 120);
        double seconds = (now_ns() - t0) / 1e9;
        if (status < 0)
                return status;
        if (status != w->expected_status)
                return -1000.0 - status;
        return count_lines(out) == lines ? seconds : -EBADMSG;
}

static void print_program_cell(double median, double native)
{
        char cell[64];

        if (median <= -1000)
                snprintf(cell, sizeof(cell), "failed (exit %d)", (int)(-median - 1000));
        else if (median == -EBADMSG)
                snprintf(cell, sizeof(cell), "failed (wrong output)");
        else if (median < 0)
                snprintf(cell, sizeof(cell), "failed (%s)", strerror((int)-median));
        else if (native > 0)
                snprintf(cell, sizeof(cell), "%.3f (%.2fx)", median, median / native);
        else
                snprintf(cell, sizeof(cell), "%.3f", median);
        printf(" %-22s", cell);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        remove(path);
        return 0;
}

/* The goals of the issues, beside what this run measured (never asserted):
 * each mode at most 3x native, seccomp within 1.3x of preload.  MEDIANS is
 * indexed like modes[]. */
static void print_workload_goals(const double medians[])
{
        double native = medians[0], preload = medians[1], seccomp = medians[2];

        if (native > 0 && preload > 0)
                printf("    preload vs native: %.2fx (goal <= 3x)\n", preload / native);
        if (native > 0 && seccomp > 0)
                printf("    seccomp vs native: %.2fx (goal <= 3x)\n", seccomp / native);
        if (preload > 0 && seccomp > 0)
                printf("    seccomp vs preload: %.2fx (goal <= 1.3x)\n", seccomp / preload);
}

static void bench_workloads(const struct tree *t, const struct options *o)
{
        printf("\n(e) Workloads: whole programs, seconds (median of %u runs; ratio vs native)\n", o->program_runs);
        printf("  %-24s %6s", "workload", "files");
        for (size_t m = 0; m < ELEMENTSOF(modes); m++)
                printf(" %-22s", modes[m].name);
        printf("\n");

        for (size_t i = 0; i < ELEMENTSOF(workloads); i++) {
                const struct workload *w = &workloads[i];
                char dir[PATH_MAX];
                const char *argv[16];
                unsigned int lines;
                double native = -1;

                snprintf(dir, sizeof(dir), "%s/workload%zu", t->root, i);
                int nfiles = mkdir(dir, 0755) < 0 ? -errno : w->prepare(dir, o->grep_files, argv, &lines);
                if (nfiles < 0) {
                        printf("  %-24s cannot prepare: %s\n", w->name, strerror(-nfiles));
                        continue;
                }
                printf("  %-24s %6d", w->name, nfiles);
                double medians[ELEMENTSOF(modes)];
                for (size_t m = 0; m < ELEMENTSOF(modes); m++) {
                        double runs[16];
                        unsigned int n = o->program_runs < ELEMENTSOF(runs) ? o->program_runs : ELEMENTSOF(runs), k;
                        for (k = 0; k < n; k++) {
                                runs[k] = run_once(&modes[m], dir, argv, lines, w, t, o);
                                if (runs[k] < 0)
                                        break;
                        }
                        /* A failed run is reported as such, never averaged away. */
                        double median = k < n ? runs[k] : median_double(runs, n);
                        print_program_cell(median, m == 0 ? 0 : native);
                        if (m == 0)
                                native = median;
                        medians[m] = median;
                        fflush(stdout);
                }
                printf("\n");
                print_workload_goals(medians);
                nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        }
}

/* ---- setup and report --------------------------------------------------- */

static int make_tree(struct tree *t)
{
        char path[PATH_MAX + 32];
        _cleanup_free_ char *policy = NULL;

        snprintf(t->root, sizeof(t->root), "/tmp/openhook-bench-XXXXXX");
        if (!mkdtemp(t->root))
                return -errno;
        static const char *const dirs[] = { "data", "data/secret", "out", "cache" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(path, sizeof(path), "%s/%s", t->root, dirs[i]);
                if (mkdir(path, 0755) < 0)
                        return -errno;
        }
        snprintf(t->file, sizeof(t->file), "%s/data/input.txt", t->root);
        snprintf(t->policy, sizeof(t->policy), "%s/policy.conf", t->root);
        snprintf(t->socket, sizeof(t->socket), "%s/broker.sock", t->root);
        snprintf(t->log, sizeof(t->log), "%s/broker.log", t->root);
        int r = write_file(t->file, "benchmark input\n");
        if (r < 0)
                return r;
        /* A handful of rules of every kind, as a real deployment has. */
        if (asprintf(&policy,
                     "# openhook-bench: a small realistic policy\n"
                     "allow r /usr/share/zoneinfo/\n"
                     "allow r /etc/ssl/certs/\n"
                     "allow r %1$s/data/\n"
                     "deny %1$s/data/secret/\n"
                     "allow rwc %1$s/out/\n"
                     "allow rc %1$s/cache/\n"
                     "allow r %1$s/policy.conf\n",
                     t->root) < 0)
                return -ENOMEM;
        return write_file(t->policy, policy);
}

/* The openhook program next to this one in a build tree, else from PATH. */
static const char *default_openhook(void)
{
        static char path[PATH_MAX];
        char self[PATH_MAX - 32];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n > 0) {
                self[n] = '\0';
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        snprintf(path, sizeof(path), "%s/../src/openhook", self);
                        if (access(path, X_OK) == 0)
                                return path;
                }
        }
        return "openhook";
}

static void print_latency_row(const char *what, struct latency l, double direct_us)
{
        if (!l.ok) {
                printf("  %-46s unavailable: %s\n", what, strerror(-l.error));
                return;
        }
        printf("  %-46s %9.2f %9.2f %9.2fx\n", what, l.median_us, l.p90_us,
               direct_us > 0 ? l.median_us / direct_us : 0);
}

static void print_overhead(const char *what, struct latency l, struct latency bare)
{
        if (l.ok && bare.ok)
                printf("  protocol+policy overhead over the bare round trip (%s): %+.1f%% (goal < 15%%)\n",
                       what, (l.median_us / bare.median_us - 1) * 100);
}

static void print_header(const struct options *o)
{
        struct utsname u;
        time_t now = time(NULL);
        char date[32];

        uname(&u);
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M", localtime(&now));
        printf("openhook-bench %s%s: %s, %s %s %s, %ld CPUs\n", OPENHOOK_VERSION, o->quick ? " --quick" : "",
               date, u.sysname, u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN));
        printf("broker program: %s\n", o->openhook);
}

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: openhook-bench [--quick] [--iterations N] [--openhook PATH]\n"
                "                      [--baseline PATH] [--only-throughput]\n"
                "\n"
                "Measures direct opens, a bare SCM_RIGHTS round trip, delegated opens\n"
                "through the openhook server, throughput with 1-16 clients and whole\n"
                "programs under openhook run, and prints them side by side.\n"
                "\n"
                "  --quick          a fast smoke run (few iterations, small trees)\n"
                "  --iterations N   timed single opens per case (default 20000)\n"
                "  --openhook PATH  the openhook program (default: ../src/openhook next to\n"
                "                   this program, else openhook from PATH)\n"
                "  --baseline PATH  another openhook program, measured in (d) and (f) beside\n"
                "                   the first (before/after a change, in one run)\n"
                "  --only-throughput  measure (d) alone\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
        static const struct option longopts[] = {
                { "quick", no_argument, NULL, 'q' },
                { "iterations", required_argument, NULL, 'i' },
                { "openhook", required_argument, NULL, 'o' },
                { "open-loop", required_argument, NULL, 'l' },
                { "baseline", required_argument, NULL, 'b' },
                { "only-throughput", no_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        *o = (struct options) { .iterations = 20000, .warmup = 2000, .ops_per_client = 20000,
                                .program_runs = 5, .grep_files = 9000 };
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                switch (c) {
                case 'q':
                        o->quick = true;
                        break;
                case 'i': {
                        char *end;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (*end || n == 0 || n > 10000000) {
                                fprintf(stderr, "openhook-bench: --iterations wants a number from 1 to 10000000\n");
                                return 2;
                        }
                        o->iterations = (unsigned int)n;
                        break;
                }
                case 'o':
                        o->openhook = optarg;
                        break;
                case 'l':
                        o->open_loop = optarg;
                        break;
                case 'b':
                        o->baseline = optarg;
                        break;
                case 't':
                        o->only_throughput = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return 2;
        }
        if (o->quick)
                *o = (struct options) { .quick = true, .iterations = 200, .warmup = 20, .ops_per_client = 100,
                                        .program_runs = 1, .grep_files = 300, .openhook = o->openhook,
                                        .baseline = o->baseline, .only_throughput = o->only_throughput,
                                        .open_loop = o->open_loop };
        if (!o->openhook)
                o->openhook = default_openhook();
        return -1;
}

/* (a) to (c).  Returns true if every delegated open worked. */
static bool bench_single_opens(const struct tree *t, const struct options *o)
{
        printf("\nSingle open+close of one file, one client (%u iterations after %u warm-up)\n",
               o->iterations, o->warmup);
        printf("  %-46s %9s %9s %10s\n", "case", "median us", "p90 us", "vs direct");
        struct latency direct = measure(direct_open_close, NULL, t->file, o);
        struct latency bare = bench_bare(t->file, false, o);
        struct latency bare_child = bench_bare(t->file, true, o);
        struct latency library = bench_library_server(t, o, false);
        struct latency reloading = bench_library_server(t, o, true);
        struct latency process = bench_serve_process(t, o);
        struct latency in_preload = bench_program_loop(t, &modes[1], o);
        struct latency in_seccomp = bench_program_loop(t, &modes[2], o);
        struct latency in_noshim = bench_program_loop(t, &modes[3], o);
        double d = direct.ok ? direct.median_us : 0;
        print_latency_row("(a) direct openat()+close", direct, d);
        print_latency_row("(b) bare SCM_RIGHTS round trip, server thread", bare, d);
        print_latency_row("(b) bare SCM_RIGHTS round trip, server process", bare_child, d);
        print_latency_row("(c) openhook server in a thread (library)", library, d);
        print_latency_row("(c) the same, policy swapped every 100 us", reloading, d);
        print_latency_row("(c) openhook serve --fd (separate process)", process, d);
        print_latency_row("(c) a program's open loop, run --mode preload", in_preload, d);
        print_latency_row("(c) a program's open loop, run --mode seccomp", in_seccomp, d);
        print_latency_row("(c) a program's open loop, seccomp --no-shim", in_noshim, d);
        print_overhead("library vs thread", library, bare);
        print_overhead("serve vs process", process, bare_child);
        return direct.ok && bare.ok && bare_child.ok && library.ok && reloading.ok && process.ok;
}

int main(int argc, char **argv)
{
        struct options o;
        struct tree t;

        int status = parse_options(argc, argv, &o);
        if (status >= 0)
                return status;
        if (o.open_loop)
                return open_loop_main(&o);
        signal(SIGPIPE, SIG_IGN);
        /* Keep the table and any warning on stderr in order when piped. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        int r = make_tree(&t);
        if (r < 0) {
                fprintf(stderr, "openhook-bench: cannot create the scratch tree: %s\n", strerror(-r));
                return 1;
        }

        print_header(&o);
        bool ok = o.only_throughput || bench_single_opens(&t, &o);
        ok = bench_throughput(&t, &o) && ok;
        if (!o.only_throughput)
                ok = bench_policy_size(&t, &o) && ok;
        if (!o.only_throughput)
                bench_workloads(&t, &o);

        nftw(t.root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        /* A delegated open that fails is a broken broker, not a slow one.
         * The workloads table is not counted: openhook run has its own
         * tests, and a mode it lacks shows there as "failed". */
        return ok ? 0 : 1;
}
