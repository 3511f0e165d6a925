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
 *       `openhook run` (--baseline: a row for its seccomp mode);
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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
        const char *sections;           /* --only: the letters of the sections to run */
        const char *workloads;          /* --workloads: names from (e) to run, or NULL */
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
        double cpu_us[ELEMENTSOF(client_counts) + 1];  /* broker CPU per open, us;
                                                 * the last: pipelined; < 0: unknown */
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

/* PID's CPU time so far (user + system, all threads), seconds, or -1.
 * What a broker spends per open is steadier than opens/s on a machine
 * shared with other work: a busy neighbour slows the clients, not the
 * broker's work per request (its polling counts, as it costs a CPU). */
static double proc_cpu_s(pid_t pid)
{
        char path[64], text[1024];
        unsigned long long utime, stime;

        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
        if (n <= 0)
                return -1;
        text[n] = '\0';
        const char *end = strrchr(text, ')');
        /* After the name: state, then fields 4 to 13, then utime, stime. */
        if (!end || sscanf(end + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                return -1;
        return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* One run of row I (a client count, or past them the pipelined client)
 * against B: opens/s, and the broker's CPU per open into *CPU_US. */
static double listen_run(const struct listen_broker *b, size_t i, const struct options *o, double *cpu_us)
{
        unsigned int opens = i < ELEMENTSOF(client_counts) ? client_counts[i] * o->ops_per_client : o->ops_per_client;
        double before = proc_cpu_s(b->pid);
        double rate = i < ELEMENTSOF(client_counts) ? throughput(&b->tree, client_counts[i], o->ops_per_client) :
                                                      pipelined_rate(&b->tree, o->ops_per_client);
        double after = proc_cpu_s(b->pid);

        *cpu_us = before >= 0 && after >= 0 && rate > 0 ? (after - before) * 1e6 / opens : -1;
        return rate;
}

/* Each figure is the median of REPS runs; with two brokers their runs
 * alternate, so a machine that gets busier mid-way weighs on both alike. */
static void listen_measure(struct listen_broker *b, size_t nb, const struct options *o)
{
        unsigned int reps = o->quick ? 1 : 5;
        double runs[2][5], cpu[2][5];

        for (size_t i = 0; i <= ELEMENTSOF(client_counts); i++) {
                for (unsigned int k = 0; k < reps; k++)
                        for (size_t j = 0; j < nb; j++)
                                runs[j][k] = listen_run(&b[j], i, o, &cpu[j][k]);
                for (size_t j = 0; j < nb; j++) {
                        *(i < ELEMENTSOF(client_counts) ? &b[j].rate[i] : &b[j].pipelined) =
                                median_double(runs[j], reps);
                        b[j].cpu_us[i] = median_double(cpu[j], reps);
                }
        }
        double none;
        for (size_t j = 0; j < nb; j++)
                b[j].alone = latency_beside(&b[j].tree, 0, o, &none);
        for (size_t j = 0; j < nb; j++)
                b[j].beside = latency_beside(&b[j].tree, 2, o, &b[j].beside_rate);
}

static void print_cpu(double cpu_us)
{
        if (cpu_us < 0)
                printf(" %8s", "-");
        else
                printf(" %8.1f", cpu_us);
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

/* Row I of (d): opens/s of B (and BASE), each with its broker's CPU per
 * open. */
static void print_rates_cpu(const char *what, size_t i, const struct listen_broker *b, const struct listen_broker *base)
{
        bool pipelined = i == ELEMENTSOF(client_counts);

        printf("  %-40s", what);
        for (unsigned int j = 0; j < (base ? 2u : 1u); j++) {
                const struct listen_broker *x = j ? base : b;
                double r = pipelined ? x->pipelined : x->rate[i];
                if (r < 0)
                        printf(" %12s %8s", strerror((int)-r), "");
                else
                        printf(" %12.0f", r);
                if (r >= 0)
                        print_cpu(x->cpu_us[i]);
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
        printf("  %-40s %12s %8s%s\n", "opens/s, broker CPU us per open", "this", "cpu",
               base ? "     baseline      cpu" : "");
        for (size_t i = 0; i < ELEMENTSOF(client_counts); i++) {
                char what[64];
                snprintf(what, sizeof(what), "%u client%s, each waiting for its reply", client_counts[i],
                         client_counts[i] == 1 ? "" : "s");
                print_rates_cpu(what, i, b, base);
        }
        char what[64];
        snprintf(what, sizeof(what), "1 client, %u requests in flight", PIPELINE_DEPTH);
        print_rates_cpu(what, ELEMENTSOF(client_counts), b, base);
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

/* The workload table: real programs over fixtures made in the scratch
 * tree, natively, under bwrap (a sandbox without a broker, for scale) and
 * under openhook run in each way it runs them.  Each cell is the median of
 * program_runs runs, the rows of a program taking turns run by run so that
 * a noisy machine slows them alike.  Every run is checked (exit status 0,
 * as many lines as the native run printed), so a run that did nothing is
 * never timed as fast. */

struct row {
        const char *name;
        const char *run_mode;           /* openhook run --mode; NULL: native or bwrap */
        bool bwrap;
        bool direct_reads;
        bool baseline;                  /* the --baseline build's openhook run, if given */
};

enum { ROW_NATIVE, ROW_BWRAP, ROW_SECCOMP, ROW_PRELOAD, ROW_DIRECT_READS, ROW_BASELINE, N_ROWS };

static const struct row rows[N_ROWS] = {
        [ROW_NATIVE] = { "native" },
        [ROW_BWRAP] = { "bwrap --ro-bind / /", .bwrap = true },
        [ROW_SECCOMP] = { "run (seccomp, default)", "seccomp" },
        [ROW_PRELOAD] = { "run --mode preload", "preload" },
        [ROW_DIRECT_READS] = { "run --direct-reads", "seccomp", .direct_reads = true },
        [ROW_BASELINE] = { "baseline run (seccomp)", "seccomp", .baseline = true },
};

/* Whether row R is measured in this run. */
static bool row_measured(size_t r, const struct options *o)
{
        return !rows[r].baseline || o->baseline;
}

#define FIXTURE_ARGS 8

struct fixture {
        char dir[PATH_MAX];
        const char *argv[FIXTURE_ARGS];
        const char *allow[2];           /* openhook run --allow beside DIR's, or NULL */
        char buf[4][PATH_MAX + 32];     /* what ARGV and ALLOW point into */
        long files;                     /* how many files it works on, or -1 */
};

/* A program of the table.  To add one, write its prepare function and add
 * an entry. */
struct program {
        const char *name;               /* column heading */
        const char *what;               /* the legend */
        const char *needs;              /* a program that must be installed; the
                                         * system's, not a shim on PATH (pyenv) */
        const char *perms;              /* openhook run --allow PERMS:DIR/, or NULL */
        bool writes;                    /* bwrap: --bind /tmp /tmp (the tree is there),
                                         * --dev-bind /dev /dev (/dev/null) */
        /* Makes the fixture in F->dir and fills F->argv; 0 or -errno. */
        int (*prepare)(struct fixture *f, const struct options *o);
        /* Before each run, untimed: the fixture as prepare() left it. */
        int (*reset)(const struct fixture *f);
};

static int write_file(const char *path, const char *content)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        size_t len = strlen(content);
        return write(fd, content, len) == (ssize_t)len ? 0 : -EIO;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        remove(path);
        return 0;
}

/* Runs ARGV natively to make a fixture; 0 or -errno (-ECHILD: it failed). */
static int run_helper(const char *const *argv, const char *log)
{
        pid_t pid = spawn((char *const *)argv, -1, NULL, log);

        return pid < 0 ? pid : wait_exit(pid, 300) == 0 ? 0 : -ECHILD;
}

/* NFILES small text files under DIR in directories of 100. */
static int make_files(const char *dir, unsigned int nfiles)
{
        char path[PATH_MAX + 32];
        int r = mkdir(dir, 0755) < 0 ? -errno : 0;

        for (unsigned int i = 0; r == 0 && i < nfiles; i++) {
                snprintf(path, sizeof(path), "%s/d%03u", dir, i / 100);
                if (i % 100 == 0 && mkdir(path, 0755) < 0)
                        return -errno;
                snprintf(path, sizeof(path), "%s/d%03u/f%05u.txt", dir, i / 100, i);
                r = write_file(path, "lorem ipsum dolor sit amet\nconsectetur adipiscing elit\n");
        }
        return r;
}

static unsigned int fixture_files(const struct options *o)
{
        return o->grep_files < 2000 ? o->grep_files : 2000;
}

static int prepare_true(struct fixture *f, const struct options *o)
{
        f->argv[0] = "/bin/true";
        return 0;
}

/* Headers of the C library and the kernel, each included once: the
 * compiler opens hundreds of files in the direct set (/usr). */
static const char *const heavy_headers[] = {
        "assert.h", "complex.h", "ctype.h", "dirent.h", "dlfcn.h", "errno.h", "fcntl.h", "fenv.h",
        "float.h", "glob.h", "grp.h", "iconv.h", "inttypes.h", "langinfo.h", "limits.h", "locale.h",
        "math.h", "netdb.h", "poll.h", "pthread.h", "pwd.h", "regex.h", "sched.h", "search.h",
        "semaphore.h", "setjmp.h", "signal.h", "spawn.h", "stdarg.h", "stdatomic.h", "stdbool.h",
        "stddef.h", "stdint.h", "stdio.h", "stdlib.h", "string.h", "strings.h", "syslog.h",
        "termios.h", "tgmath.h", "threads.h", "time.h", "uchar.h", "unistd.h", "wchar.h", "wctype.h",
        "arpa/inet.h", "net/if.h", "netinet/in.h", "netinet/tcp.h", "sys/epoll.h", "sys/eventfd.h",
        "sys/inotify.h", "sys/ioctl.h", "sys/mman.h", "sys/mount.h", "sys/prctl.h", "sys/resource.h",
        "sys/select.h", "sys/socket.h", "sys/stat.h", "sys/statvfs.h", "sys/syscall.h", "sys/time.h",
        "sys/types.h", "sys/uio.h", "sys/un.h", "sys/utsname.h", "sys/wait.h", "linux/fs.h",
        "linux/if_link.h", "linux/input.h", "linux/netlink.h", "linux/perf_event.h", "linux/rtnetlink.h",
        "linux/seccomp.h", "linux/videodev2.h",
};

static int prepare_gcc(struct fixture *f, const struct options *o)
{
        char path[PATH_MAX + 32];
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *s = open_memstream(&text, &size);

        if (!s)
                return -errno;
        f->files = 0;
        for (size_t i = 0; i < ELEMENTSOF(heavy_headers); i++) {
                snprintf(path, sizeof(path), "/usr/include/%s", heavy_headers[i]);
                if (access(path, R_OK) == 0) {
                        fprintf(s, "#include <%s>\n", heavy_headers[i]);
                        f->files++;
                }
        }
        fputs("int main(void) { return 0; }\n", s);
        if (fclose(s) != 0)
                return -errno;
        snprintf(f->buf[0], sizeof(f->buf[0]), "%s/heavy.c", f->dir);
        snprintf(f->buf[1], sizeof(f->buf[1]), "%s/heavy.o", f->dir);
        const char *argv[] = { "/usr/bin/gcc", "-O2", "-c", "-o", f->buf[1], f->buf[0] };
        memcpy(f->argv, argv, sizeof(argv));
        return write_file(f->buf[0], text);
}

static int prepare_python(struct fixture *f, const struct options *o)
{
        const char *argv[] = { "/usr/bin/python3", "-c", "import json, email, http.client, sqlite3" };

        memcpy(f->argv, argv, sizeof(argv));
        return 0;
}

/* A repository of fixture_files() files, committed. */
static int prepare_git(struct fixture *f, const struct options *o)
{
        char *repo = f->buf[0], log[PATH_MAX + 32];
        int r;

        snprintf(repo, sizeof(f->buf[0]), "%s/repo", f->dir);
        snprintf(log, sizeof(log), "%s/fixture.log", f->dir);
        r = make_files(repo, fixture_files(o));
        const char *init[] = { "git", "-C", repo, "init", "-q", NULL };
        const char *add[] = { "git", "-C", repo, "add", "-A", NULL };
        const char *commit[] = { "git", "-C", repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost",
                                 "commit", "-q", "-m", "fixture", NULL };
        if (r >= 0)
                r = run_helper(init, log);
        if (r >= 0)
                r = run_helper(add, log);
        if (r >= 0)
                r = run_helper(commit, log);
        const char *argv[] = { "/usr/bin/git", "-C", repo, "status" };
        memcpy(f->argv, argv, sizeof(argv));
        /* git stops at a configuration file it may not read. */
        const char *home = getenv("HOME");
        f->allow[0] = "r:/etc/gitconfig";
        if (home && *home && !strchr(home, ':')) {
                snprintf(f->buf[3], sizeof(f->buf[3]), "r:%s/.gitconfig", home);
                f->allow[1] = f->buf[3];
        }
        f->files = fixture_files(o);
        return r;
}

/* A tar of fixture_files() files, extracted into an empty directory. */
static int prepare_tar(struct fixture *f, const struct options *o)
{
        char src[PATH_MAX + 32], log[PATH_MAX + 32];
        int r;

        snprintf(src, sizeof(src), "%s/src", f->dir);
        snprintf(log, sizeof(log), "%s/fixture.log", f->dir);
        snprintf(f->buf[0], sizeof(f->buf[0]), "%s/files.tar", f->dir);
        snprintf(f->buf[1], sizeof(f->buf[1]), "%s/out", f->dir);
        r = make_files(src, fixture_files(o));
        const char *create[] = { "tar", "cf", f->buf[0], "-C", f->dir, "src", NULL };
        if (r >= 0)
                r = run_helper(create, log);
        const char *argv[] = { "/usr/bin/tar", "xf", f->buf[0], "-C", f->buf[1] };
        memcpy(f->argv, argv, sizeof(argv));
        f->files = fixture_files(o);
        return r;
}

static int reset_tar(const struct fixture *f)
{
        nftw(f->buf[1], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return mkdir(f->buf[1], 0755) < 0 ? -errno : 0;
}

/* 1,000 inserts, each its own transaction, with a rollback journal made
 * and removed each time; without fsync (synchronous=OFF), which on this
 * kind of VM is most of the time and the same for every row. */
static int prepare_sqlite(struct fixture *f, const struct options *o)
{
        _cleanup_free_ char *sql = NULL;
        size_t size = 0;
        FILE *s = open_memstream(&sql, &size);

        if (!s)
                return -errno;
        fputs("PRAGMA journal_mode=DELETE;\nPRAGMA synchronous=OFF;\nCREATE TABLE t(n INTEGER, s TEXT);\n", s);
        for (unsigned int i = 0; i < 1000; i++)
                fprintf(s, "INSERT INTO t VALUES(%u, 'row %u');\n", i, i);
        fputs("SELECT count(*) FROM t;\n", s);
        if (fclose(s) != 0)
                return -errno;
        snprintf(f->buf[0], sizeof(f->buf[0]), "%s/db.sqlite", f->dir);
        snprintf(f->buf[1], sizeof(f->buf[1]), ".read %s/script.sql", f->dir);
        snprintf(f->buf[2], sizeof(f->buf[2]), "%s/script.sql", f->dir);
        const char *argv[] = { "/usr/bin/sqlite3", f->buf[0], f->buf[1] };
        memcpy(f->argv, argv, sizeof(argv));
        f->files = 1000;
        return write_file(f->buf[2], sql);
}

static int reset_sqlite(const struct fixture *f)
{
        return unlink(f->buf[0]) < 0 && errno != ENOENT ? -errno : 0;
}

static long files_counted;

static int count_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        files_counted += type == FTW_F;
        return 0;
}

static int count_files(const char *dir, long *n)
{
        files_counted = 0;
        int r = nftw(dir, count_file, 16, FTW_PHYS) < 0 ? -errno : 0;
        *n = files_counted;
        return r;
}

/* A copy of /usr/include (--quick: of /usr/include/linux): outside the
 * direct set, so every file grep opens goes to the broker. */
static int prepare_grep(struct fixture *f, const struct options *o)
{
        char log[PATH_MAX + 32];
        const char *from = o->quick ? "/usr/include/linux" : "/usr/include";

        snprintf(log, sizeof(log), "%s/fixture.log", f->dir);
        snprintf(f->buf[0], sizeof(f->buf[0]), "%s/include", f->dir);
        const char *copy[] = { "cp", "-a", from, f->buf[0], NULL };
        int r = run_helper(copy, log);
        const char *argv[] = { "/usr/bin/grep", "-r", "EOPNOTSUPP", f->buf[0] };
        memcpy(f->argv, argv, sizeof(argv));
        f->files = 0;
        if (r >= 0)
                r = count_files(f->buf[0], &f->files);
        return r;
}

enum { P_TRUE, P_GCC, P_PYTHON, P_GIT, P_TAR, P_SQLITE, P_GREP, N_PROGRAMS };

static const struct program programs[N_PROGRAMS] = {
        [P_TRUE] = { "true", "/bin/true: start-up alone", NULL, NULL, false, prepare_true, NULL },
        [P_GCC] = { "gcc", "gcc -O2 -c of a file including C library and kernel headers", "/usr/bin/gcc", "rwc", true, prepare_gcc, NULL },
        [P_PYTHON] = { "python3", "python3 -c 'import json, email, http.client, sqlite3'", "/usr/bin/python3", "r", false,
          prepare_python, NULL },
        [P_GIT] = { "git status", "git status in a repository of 2,000 files", "/usr/bin/git", "rwcd", true, prepare_git, NULL },
        [P_TAR] = { "tar x", "tar x of 2,000 files", "/usr/bin/tar", "rwcd", true, prepare_tar, reset_tar },
        [P_SQLITE] = { "sqlite3", "sqlite3: 1,000 inserts, a transaction each, rollback journal, no fsync", "/usr/bin/sqlite3", "rwcd", true,
          prepare_sqlite, reset_sqlite },
        [P_GREP] = { "grep -r", "grep -r over a copy of /usr/include (brokered: outside the direct set)", "/usr/bin/grep", "r",
          false, prepare_grep, NULL },
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

static bool installed(const char *path)
{
        return access(path, X_OK) == 0;
}

/* Waits for PID, which wait_exit() would time only to its 2 ms polls.
 * Returns its exit status, 128+N for a signal, or -errno (-ETIMEDOUT:
 * killed after TIMEOUT_MS). */
static int wait_timed(pid_t pid, int timeout_ms)
{
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        bool late = pidfd >= 0 && poll(&p, 1, timeout_ms) == 0;
        int status;

        if (late)
                kill(pid, SIGKILL);
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        if (late)
                return -ETIMEDOUT;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Whether zombie PID leads its process group but not a session: openhook
 * run's broker does (setpgid), its abstract connector leads a session. */
static bool is_broker(pid_t pid)
{
        char path[64], text[512];
        int pgrp = 0, session = 0;

        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
        if (n <= 0)
                return false;
        text[n] = '\0';
        const char *end = strrchr(text, ')');
        return end && sscanf(end + 1, " %*c %*d %d %d", &pgrp, &session) == 2 && pgrp == pid && session != pid;
}

/* After an openhook run: reaps the processes it left (this process is
 * their subreaper) until the broker is among them or none is left (run
 * reaps a broker that exits before run does), at most 5 s.  Returns the
 * broker's peak RSS in KiB (its high-water mark, as VmHWM), or 0. */
static long reap_broker(void)
{
        uint64_t deadline = now_ns() + 5000000000u;

        while (now_ns() < deadline) {
                siginfo_t si = { 0 };
                struct rusage ru;

                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                        return 0;
                if (si.si_pid == 0) {
                        nanosleep(&(struct timespec) { .tv_nsec = 200000 }, NULL);
                        continue;
                }
                bool broker = is_broker(si.si_pid);
                if (wait4(si.si_pid, NULL, 0, &ru) < 0)
                        return 0;
                if (broker)
                        return ru.ru_maxrss;
        }
        return 0;
}

/* The command line of P's fixture F in row R, into ARGV. */
static void cell_argv(const struct row *r, const struct program *p, const struct fixture *f, char *allow,
                      size_t allow_size, const char **argv, const struct options *o)
{
        size_t n = 0;

        if (r->bwrap) {
                const char *b[] = { "bwrap", "--ro-bind", "/", "/", "--bind", "/tmp", "/tmp",
                                    "--dev-bind", "/dev", "/dev" };
                memcpy(argv, b, sizeof(b));
                n = p->writes ? 10 : 4;
        } else if (r->run_mode) {
                argv[n++] = r->baseline ? o->baseline : o->openhook;
                argv[n++] = "run";
                argv[n++] = "--mode";
                argv[n++] = r->run_mode;
                if (r->direct_reads)
                        argv[n++] = "--direct-reads";
                if (p->perms) {
                        snprintf(allow, allow_size, "%s:%.4000s/", p->perms, f->dir);
                        argv[n++] = "--allow";
                        argv[n++] = allow;
                }
                for (size_t i = 0; i < ELEMENTSOF(f->allow) && f->allow[i]; i++) {
                        argv[n++] = "--allow";
                        argv[n++] = f->allow[i];
                }
                argv[n++] = "--";
        }
        for (size_t i = 0; i < FIXTURE_ARGS && f->argv[i]; i++)
                argv[n++] = f->argv[i];
        argv[n] = NULL;
}

#define CELL_SKIPPED (-2000.0)

/* One run of P in row R, checked: the seconds it took, or -errno
 * (-EBADMSG: other output than the native run's; *LINES: the native
 * run's line count, -1 until known), or -1000 - an exit status.  *RSS:
 * the broker's peak RSS (KiB) for an openhook run. */
static double run_cell(const struct row *r, const struct program *p, const struct fixture *f, long *lines,
                       long *rss, const struct tree *t, const struct options *o)
{
        const char *argv[FIXTURE_ARGS + 20];
        char allow[PATH_MAX + 16], out[PATH_MAX + 16];
        int k = p->reset ? p->reset(f) : 0;

        *rss = 0;
        if (k < 0)
                return k;
        cell_argv(r, p, f, allow, sizeof(allow), argv, o);
        snprintf(out, sizeof(out), "%s/program.out", t->root);
        uint64_t t0 = now_ns();
        pid_t pid = spawn((char *const *)argv, -1, out, t->log);
        if (pid < 0)
                return pid;
        int status = wait_timed(pid, 300000);
        double seconds = (now_ns() - t0) / 1e9;
        if (r->run_mode)
                *rss = reap_broker();
        if (status != 0)
                return status < 0 ? status : -1000.0 - status;
        long n = count_lines(out);
        if (*lines < 0)
                *lines = n;
        return n == *lines ? seconds : -EBADMSG;
}

/* P's medians into CELLS (seconds, or what run_cell() returned for a
 * failed run: a failure is shown, never averaged away), and the largest
 * broker RSS of the runs into RSS. */
static void measure_program(const struct program *p, const struct fixture *f, bool have_bwrap,
                            double cells[N_ROWS], long rss[N_ROWS], const struct tree *t, const struct options *o)
{
        double runs[N_ROWS][16];
        unsigned int n = o->program_runs < 16 ? o->program_runs : 16;
        long lines = -1;

        for (size_t r = 0; r < N_ROWS; r++) {
                cells[r] = (r == ROW_BWRAP && !have_bwrap) || !row_measured(r, o) ? CELL_SKIPPED : 0;
                rss[r] = 0;
        }
        for (unsigned int k = 0; k < n; k++)
                for (size_t r = 0; r < N_ROWS; r++) {
                        long peak;

                        if (cells[r] < 0)
                                continue;
                        double s = run_cell(&rows[r], p, f, &lines, &peak, t, o);
                        if (s < 0)
                                cells[r] = s;
                        runs[r][k] = s;
                        rss[r] = peak > rss[r] ? peak : rss[r];
                }
        for (size_t r = 0; r < N_ROWS; r++)
                if (cells[r] == 0)
                        cells[r] = median_double(runs[r], n);
}

static void print_cell(double v, double native)
{
        char cell[32];

        if (v == CELL_SKIPPED)
                snprintf(cell, sizeof(cell), "-");
        else if (v <= -1000)
                snprintf(cell, sizeof(cell), "exit %d", (int)(-v - 1000));
        else if (v == -EBADMSG)
                snprintf(cell, sizeof(cell), "wrong output");
        else if (v < 0)
                snprintf(cell, sizeof(cell), "failed (%d)", (int)v);
        else if (native > 0)
                snprintf(cell, sizeof(cell), "%.1f %.2fx", v * 1e3, v / native);
        else
                snprintf(cell, sizeof(cell), "%.1f", v * 1e3);
        printf(" %13s", cell);
}

static void print_table(double cells[N_PROGRAMS][N_ROWS], long rss[N_PROGRAMS][N_ROWS], const struct options *o)
{
        printf("  %-24s", "ms (ratio vs native)");
        for (size_t i = 0; i < N_PROGRAMS; i++)
                printf(" %13s", programs[i].name);
        printf("\n");
        for (size_t r = 0; r < N_ROWS; r++) {
                if (!row_measured(r, o))
                        continue;
                printf("  %-24s", rows[r].name);
                for (size_t i = 0; i < N_PROGRAMS; i++)
                        print_cell(cells[i][r], r == ROW_NATIVE ? 0 : cells[i][ROW_NATIVE]);
                printf("\n");
        }
        printf("  broker peak RSS, MiB (the largest of the runs where it outlived run)\n");
        for (size_t r = 0; r < N_ROWS; r++) {
                if (!rows[r].run_mode || !row_measured(r, o))
                        continue;
                printf("  %-24s", rows[r].name);
                for (size_t i = 0; i < N_PROGRAMS; i++)
                        if (rss[i][r] > 0)
                                printf(" %13.1f", rss[i][r] / 1024.0);
                        else
                                printf(" %13s", "-");
                printf("\n");
        }
}

static void print_goal(const char *what, double v, double base, const char *goal)
{
        if (v > 0 && base > 0)
                printf("    %-50s %6.2fx  (goal %s)\n", what, v / base, goal);
        else
                printf("    %-50s    n/a  (goal %s)\n", what, goal);
}

/* The goals of issue 11, beside what this run measured (never asserted). */
static void print_program_goals(double cells[N_PROGRAMS][N_ROWS])
{
        const double *grep = cells[P_GREP], *gcc = cells[P_GCC], *start = cells[P_TRUE];

        printf("  goals:\n");
        print_goal("grep -r brokered, run (seccomp) vs native", grep[ROW_SECCOMP], grep[ROW_NATIVE], "<= 2.0x");
        print_goal("the same with --direct-reads vs native", grep[ROW_DIRECT_READS], grep[ROW_NATIVE], "<= 1.3x");
        if (grep[ROW_BASELINE] > 0)
                print_goal("grep -r, the baseline build (seccomp) vs native", grep[ROW_BASELINE], grep[ROW_NATIVE],
                           "<= 2.0x");
        print_goal("gcc (direct-set opens), seccomp vs preload", gcc[ROW_SECCOMP], gcc[ROW_PRELOAD], "<= 1.05x");
        print_goal("run -- /bin/true vs bwrap --ro-bind / / /bin/true", start[ROW_SECCOMP], start[ROW_BWRAP],
                   "<= 1.0x");
}

/* Makes every fixture; a program that is not installed or whose fixture
 * fails is skipped with the reason. */
/* Whether NAME is in --workloads (a comma-separated list), or there is
 * no such list. */
static bool workload_selected(const struct options *o, const char *name)
{
        size_t len = strlen(name);

        if (!o->workloads)
                return true;
        for (const char *s = o->workloads; *s; ) {
                size_t n = strcspn(s, ",");
                if (n == len && strncmp(s, name, n) == 0)
                        return true;
                s += n + (s[n] == ',');
        }
        return false;
}

static void prepare_fixtures(struct fixture *f, bool *ready, const struct tree *t, const struct options *o)
{
        for (size_t i = 0; i < N_PROGRAMS; i++) {
                const struct program *p = &programs[i];
                int r;

                f[i] = (struct fixture) { .files = -1 };
                snprintf(f[i].dir, sizeof(f[i].dir), "%s/program%zu", t->root, i);
                ready[i] = false;
                if (!workload_selected(o, p->name))
                        continue;
                if (p->needs && !installed(p->needs)) {
                        printf("  %-10s skipped: %s is not installed\n", p->name, p->needs);
                        continue;
                }
                r = mkdir(f[i].dir, 0755) < 0 ? -errno : p->prepare(&f[i], o);
                if (r < 0) {
                        printf("  %-10s skipped: cannot make its fixture: %s\n", p->name, strerror(-r));
                        continue;
                }
                ready[i] = true;
                printf("  %-10s %s", p->name, p->what);
                printf(f[i].files >= 0 ? " (%ld files)\n" : "\n", f[i].files);
        }
}

static void bench_workloads(const struct tree *t, const struct options *o)
{
        static struct fixture fixtures[N_PROGRAMS];
        double cells[N_PROGRAMS][N_ROWS];
        long rss[N_PROGRAMS][N_ROWS];
        bool ready[N_PROGRAMS], have_bwrap = installed("/usr/bin/bwrap");

        printf("\n(e) Workloads: whole programs, ms, median of %u runs, the rows taking turns\n", o->program_runs);
        if (!have_bwrap)
                printf("  the bwrap row is skipped: bwrap is not installed (scripts/install-deps)\n");
        prepare_fixtures(fixtures, ready, t, o);
        /* The brokers outlive run: reaped here, for their peak RSS. */
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        for (size_t i = 0; i < N_PROGRAMS; i++) {
                for (size_t r = 0; r < N_ROWS; r++) {
                        cells[i][r] = CELL_SKIPPED;
                        rss[i][r] = 0;
                }
                if (ready[i])
                        measure_program(&programs[i], &fixtures[i], have_bwrap, cells[i], rss[i], t, o);
                nftw(fixtures[i].dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        }
        prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        print_table(cells, rss, o);
        print_program_goals(cells);
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
                "                      [--baseline PATH] [--only SECTIONS] [--workloads NAMES]\n"
                "                      [--runs N]\n"
                "\n"
                "Measures direct opens, a bare SCM_RIGHTS round trip, delegated opens\n"
                "through the openhook server, throughput with 1-16 clients and whole\n"
                "programs under openhook run, and prints them side by side.\n"
                "\n"
                "  --quick          a fast smoke run (few iterations, small trees)\n"
                "  --iterations N   timed single opens per case (default 20000)\n"
                "  --openhook PATH  the openhook program (default: ../src/openhook next to\n"
                "                   this program, else openhook from PATH)\n"
                "  --baseline PATH  another openhook program, measured in (d), (e) and (f)\n"
                "                   beside the first (before/after a change, in one run;\n"
                "                   in (e) as one more row, in seccomp mode)\n"
                "  --only SECTIONS  the sections to measure, by letter: \"ef\" is (e) and (f);\n"
                "                   a, b and c are measured together (default: all)\n"
                "  --only-throughput  the same as --only d\n"
                "  --workloads NAMES  only these rows of (e), comma-separated: true, gcc,\n"
                "                   python3, \"git status\", \"tar x\", sqlite3, \"grep -r\"\n"
                "  --runs N         runs of each workload per row (default 5)\n");
}

/* A count from 1 to MAX for OPTION into *N, or false after saying why. */
static bool parse_count(const char *arg, const char *option, unsigned long max, unsigned int *n)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(arg, &end, 10);

        if (errno || end == arg || *end || *arg == '-' || v == 0 || v > max) {
                fprintf(stderr, "openhook-bench: %s wants a number from 1 to %lu, not \"%s\"\n", option, max, arg);
                return false;
        }
        *n = (unsigned int)v;
        return true;
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
                { "only", required_argument, NULL, 's' },
                { "workloads", required_argument, NULL, 'w' },
                { "runs", required_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        unsigned int runs = 0;
        int c;

        *o = (struct options) { .sections = "abcdef", .iterations = 20000, .warmup = 2000, .ops_per_client = 20000,
                                .program_runs = 5, .grep_files = 9000 };
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                switch (c) {
                case 'q':
                        o->quick = true;
                        break;
                case 'i':
                        if (!parse_count(optarg, "--iterations", 10000000, &o->iterations))
                                return 2;
                        break;
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
                        o->sections = "d";
                        break;
                case 's':
                        if (!*optarg || optarg[strspn(optarg, "abcdef")]) {
                                fprintf(stderr, "openhook-bench: --only wants letters from a to f, not \"%s\"\n", optarg);
                                return 2;
                        }
                        o->sections = optarg;
                        break;
                case 'w':
                        o->workloads = optarg;
                        break;
                case 'r':
                        if (!parse_count(optarg, "--runs", 16, &runs))
                                return 2;
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
                                        .baseline = o->baseline, .sections = o->sections,
                                        .workloads = o->workloads, .open_loop = o->open_loop };
        if (runs)
                o->program_runs = runs;
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
        bool ok = true;
        if (strpbrk(o.sections, "abc"))
                ok = bench_single_opens(&t, &o) && ok;
        if (strchr(o.sections, 'd'))
                ok = bench_throughput(&t, &o) && ok;
        if (strchr(o.sections, 'f'))
                ok = bench_policy_size(&t, &o) && ok;
        if (strchr(o.sections, 'e'))
                bench_workloads(&t, &o);

        nftw(t.root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        /* A delegated open that fails is a broken broker, not a slow one.
         * The workloads table is not counted: openhook run has its own
         * tests, and a mode it lacks shows there as "failed". */
        return ok ? 0 : 1;
}
