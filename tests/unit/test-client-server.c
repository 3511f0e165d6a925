/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client library against the real server, in one process: a broker
 * thread runs openhook_server_run() on one end of a socketpair (or on a
 * listening socket) with the policy "allow rwcd <tmpdir>/", the test speaks
 * to it through the client calls or raw bytes.  Running in-process lets the
 * tests count the broker's fds in /proc/self/fd. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ahead.h"
#include "fdpass.h"
#include "fdcount.h"
#include "openhook.h"
#include "tap.h"
#include "util.h"
#include "wire.h"

/* ---- fixture --------------------------------------------------------------- */

struct broker {
        char dir[64];
        struct openhook_policy *policy;
        struct openhook_server *server;
        int client;                     /* our end, -1 once closed */
        int listen_fd;                  /* listening mode only */
        pthread_t thread;
        int run_fd;
        int listening;
        unsigned int workers;
        atomic_int run_result;
        atomic_bool run_done;

        pthread_mutex_t log_lock;
        int logged;
        struct openhook_decision last;  /* strings not kept */
        char last_hint[256];
        int protocol_errors;
};

static void on_decision(const struct openhook_decision *d, void *userdata)
{
        struct broker *b = userdata;

        pthread_mutex_lock(&b->log_lock);
        b->logged++;
        b->last = *d;
        b->last.path = b->last.path2 = b->last.hint = NULL;
        snprintf(b->last_hint, sizeof(b->last_hint), "%s", d->hint ? d->hint : "");
        if (d->result == -EPROTO)
                b->protocol_errors++;
        pthread_mutex_unlock(&b->log_lock);
}

static void *run_thread(void *userdata)
{
        struct broker *b = userdata;

        atomic_store(&b->run_result, openhook_server_run(b->server, b->run_fd, b->listening, b->workers));
        atomic_store(&b->run_done, true);
        return NULL;
}

static void prepare(struct broker *b)
{
        char rule[128], *error = NULL;

        *b = (struct broker) { .client = -1, .listen_fd = -1, .workers = 2, .log_lock = PTHREAD_MUTEX_INITIALIZER };
        snprintf(b->dir, sizeof(b->dir), "/tmp/oh-client-server-XXXXXX");
        if (!mkdtemp(b->dir))
                abort();
        snprintf(rule, sizeof(rule), "%s/", b->dir);
        if (openhook_policy_new(&b->policy) < 0 ||
            openhook_policy_allow(b->policy, "rwcd", rule, &error) < 0) {
                printf("# policy: %s\n", error ? error : "?");
                abort();
        }
        if (openhook_server_new(b->policy, &b->server) < 0)
                abort();
        openhook_server_set_log(b->server, on_decision, b);
}

/* A broker with WORKERS threads serving one end of a socketpair of TYPE;
 * b->client is ours. */
static void launch(struct broker *b, int type)
{
        int pair[2];

        if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, pair) < 0)
                abort();
        b->client = pair[0];
        b->run_fd = pair[1];
        pthread_create(&b->thread, NULL, run_thread, b);
}

static void start_workers(struct broker *b, int type, unsigned int workers)
{
        prepare(b);
        b->workers = workers;
        launch(b, type);
}

/* A broker that sends ahead as HOW says (OPENHOOK_AHEAD_*), over
 * SOCK_SEQPACKET, the only socket it does that on. */
static void start_sending_ahead(struct broker *b, int how)
{
        prepare(b);
        openhook_server_set_ahead(b->server, how);
        launch(b, SOCK_SEQPACKET);
}

static void start(struct broker *b, int type)
{
        start_workers(b, type, 2);
}

static void start_listening(struct broker *b, const char *sockpath, int type)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        prepare(b);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
        b->listen_fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (b->listen_fd < 0 || bind(b->listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            listen(b->listen_fd, 4096) < 0)
                abort();
        b->run_fd = b->listen_fd;
        b->listening = 1;
        pthread_create(&b->thread, NULL, run_thread, b);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

/* Waits up to 10 s for the loop to end by itself. */
static bool run_ends(struct broker *b)
{
        for (int i = 0; i < 1000 && !atomic_load(&b->run_done); i++)
                usleep(10 * 1000);
        return atomic_load(&b->run_done);
}

/* Hangs up and checks that the loop then returns 0 by itself (or stops it,
 * for a listening broker). */
static void finish(struct broker *b)
{
        if (b->client >= 0)
                close(b->client);
        if (b->listening)
                openhook_server_stop(b->server);
        CHECK(run_ends(b));
        if (!atomic_load(&b->run_done)) {
                printf("#   broker loop did not return\n");
                openhook_server_stop(b->server);
        }
        pthread_join(b->thread, NULL);
        CHECK_EQ(atomic_load(&b->run_result), 0);
        if (b->listen_fd >= 0)
                close(b->listen_fd);
        openhook_server_free(b->server);
        openhook_policy_free(b->policy);
        nftw(b->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *at(const struct broker *b, const char *name)
{
        static char buf[4][256];
        static int i;
        char *p = buf[i++ % 4];
        snprintf(p, 256, "%s/%s", b->dir, name);
        return p;
}

static void write_file(const char *path, const char *content)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t) strlen(content))
                abort();
}

static bool fd_has_content(int fd, const char *want)
{
        char buf[256];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return false;
        buf[n] = '\0';
        return strcmp(buf, want) == 0;
}

static bool same_file(int fd, const char *path)
{
        struct stat a, b;
        return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Reads one 12-byte response (the test's sockets are blocking). */
static int read_response(int sock, uint32_t command, int32_t *result, int *fd)
{
        uint8_t buf[OH_RESPONSE_SIZE];
        size_t got = 0;

        *fd = -1;
        while (got < sizeof(buf)) {
                struct oh_received rc;
                ssize_t n = oh_recv(sock, buf + got, sizeof(buf) - got, MSG_CMSG_CLOEXEC, &rc);
                if (n <= 0)
                        return n == 0 ? -ECONNRESET : (int) n;
                for (size_t i = 0; i < rc.nfds; i++) {
                        if (*fd < 0)
                                *fd = rc.fds[i];
                        else
                                close(rc.fds[i]);
                }
                got += (size_t) n;
        }
        return oh_wire_decode_response(buf, sizeof(buf), command, result);
}

static int encode(uint8_t *buf, uint32_t command, const char *path)
{
        struct oh_request req = { .command = command, .path = path };
        return oh_wire_encode_request(&req, buf, OH_REQUEST_MAX);
}

/* True once SOCK reports end of stream (the broker hung up). */
static bool hung_up(int sock)
{
        struct pollfd p = { .fd = sock, .events = POLLIN };
        char c;

        if (poll(&p, 1, 5000) != 1)
                return false;
        return recv(sock, &c, 1, MSG_DONTWAIT) == 0;
}

/* ---- scenarios ---------------------------------------------------------------- */

static void open_returns_the_requested_file(int type)
{
        struct broker b;

        start(&b, type);
        write_file(at(&b, "hello"), "hello world\n");

        int fd = openhook_open(b.client, at(&b, "hello"), O_RDONLY, 0);
        CHECK(fd >= 0);
        CHECK(same_file(fd, at(&b, "hello")));
        CHECK(fd_has_content(fd, "hello world\n"));
        CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
        CHECK_EQ(b.last.pid, getpid());
        CHECK_EQ(b.last.command, OPENHOOK_CMD_OPEN);
        CHECK_EQ(b.last.result, 0);
        close(fd);

        fd = openhook_open(b.client, at(&b, "hello"), O_RDONLY | O_CLOEXEC, 0);
        CHECK(fd >= 0);
        CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        close(fd);

        finish(&b);
}

static void open_over_stream_returns_the_requested_file(void) { open_returns_the_requested_file(SOCK_STREAM); }
static void open_over_seqpacket_returns_the_requested_file(void) { open_returns_the_requested_file(SOCK_SEQPACKET); }

static void open_outside_policy_is_eacces_and_logged_as_denied(void)
{
        struct broker b;

        start(&b, SOCK_SEQPACKET);
        CHECK_EQ(openhook_open(b.client, "/etc/passwd", O_RDONLY, 0), -EACCES);
        CHECK_EQ(b.last.result, -EACCES);
        CHECK(b.last.denied);
        CHECK(b.last_hint[0] != '\0');
        CHECK_EQ(openhook_open(b.client, at(&b, "missing"), O_RDONLY, 0), -ENOENT);
        finish(&b);
}

static void extensions_change_the_tree(void)
{
        struct broker b;
        struct stat st;
        char target[256];

        start(&b, SOCK_STREAM);
        int fd = openhook_open(b.client, at(&b, "new"), O_WRONLY | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0);
        CHECK_EQ(write(fd, "0123456789", 10), 10);
        close(fd);

        CHECK_EQ(openhook_mkdir(b.client, at(&b, "dir"), 0755), 0);
        CHECK(stat(at(&b, "dir"), &st) == 0 && S_ISDIR(st.st_mode));
        CHECK_EQ(openhook_rename(b.client, at(&b, "new"), at(&b, "dir/moved"), 0), 0);
        CHECK(access(at(&b, "new"), F_OK) < 0);
        CHECK_EQ(openhook_link(b.client, at(&b, "dir/moved"), at(&b, "hard")), 0);
        CHECK(stat(at(&b, "hard"), &st) == 0 && st.st_nlink == 2);
        CHECK_EQ(openhook_symlink(b.client, "dir/moved", at(&b, "sym")), 0);
        ssize_t n = readlink(at(&b, "sym"), target, sizeof(target) - 1);
        CHECK_EQ(n, 9);
        CHECK_EQ(openhook_truncate(b.client, at(&b, "hard"), 4), 0);
        CHECK(stat(at(&b, "dir/moved"), &st) == 0 && st.st_size == 4);
        CHECK_EQ(openhook_unlink(b.client, at(&b, "hard")), 0);
        CHECK_EQ(openhook_unlink(b.client, at(&b, "dir/moved")), 0);
        CHECK_EQ(openhook_rmdir(b.client, at(&b, "dir")), 0);
        CHECK(access(at(&b, "dir"), F_OK) < 0);
        CHECK_EQ(openhook_rmdir(b.client, at(&b, "dir")), -ENOENT);
        finish(&b);
}

static void unknown_command_is_enosys_and_connection_stays_usable(int type)
{
        struct broker b;
        uint32_t probe[2] = { 8, 42 };
        int32_t result = 0;
        int fd;

        start(&b, type);
        write_file(at(&b, "f"), "f");
        CHECK_EQ(send(b.client, probe, sizeof(probe), MSG_NOSIGNAL), 8);
        CHECK_EQ(read_response(b.client, 42, &result, &fd), 0);
        CHECK_EQ(result, -ENOSYS);
        CHECK_EQ(fd, -1);

        fd = openhook_open(b.client, at(&b, "f"), O_RDONLY, 0);
        CHECK(fd >= 0);
        close(fd);
        finish(&b);
}

static void unknown_command_over_stream_is_enosys(void) { unknown_command_is_enosys_and_connection_stays_usable(SOCK_STREAM); }
static void unknown_command_over_seqpacket_is_enosys(void) { unknown_command_is_enosys_and_connection_stays_usable(SOCK_SEQPACKET); }

static void bad_paths_are_refused_and_connection_stays_usable(void)
{
        struct broker b;
        static char longname[OPENHOOK_PATH_MAX + 8];

        start(&b, SOCK_STREAM);
        write_file(at(&b, "f"), "f");
        CHECK_EQ(openhook_open(b.client, "relative/path", O_RDONLY, 0), -EINVAL);
        CHECK_EQ(openhook_open(b.client, "", O_RDONLY, 0), -ENOENT);
        memset(longname, 'a', OPENHOOK_PATH_MAX);
        longname[0] = '/';
        CHECK_EQ(openhook_open(b.client, longname, O_RDONLY, 0), -ENAMETOOLONG);
        CHECK_EQ(openhook_symlink(b.client, "", at(&b, "l")), -ENOENT);

        int fd = openhook_open(b.client, at(&b, "f"), O_RDONLY, 0);
        CHECK(fd >= 0);
        close(fd);
        finish(&b);
}

/* Three requests in one write; the answers come back in order, each fd
 * belonging to its own request. */
static void pipelined_requests_in_one_write_are_answered_in_order(void)
{
        struct broker b;
        uint8_t buf[3 * 64];
        size_t len = 0;
        int32_t result;
        int fd;

        start(&b, SOCK_STREAM);
        write_file(at(&b, "a"), "A");
        write_file(at(&b, "b"), "B");
        struct oh_request ra = { .command = OPENHOOK_CMD_OPEN, .path = at(&b, "a") };
        struct oh_request rb = { .command = OPENHOOK_CMD_OPEN, .path = at(&b, "b") };
        len += (size_t) oh_wire_encode_request(&ra, buf + len, sizeof(buf) - len);
        len += (size_t) encode(buf + len, OPENHOOK_CMD_UNLINK, at(&b, "missing"));
        len += (size_t) oh_wire_encode_request(&rb, buf + len, sizeof(buf) - len);
        CHECK_EQ(write(b.client, buf, len), (ssize_t) len);

        CHECK_EQ(read_response(b.client, OPENHOOK_CMD_OPEN, &result, &fd), 0);
        CHECK_EQ(result, 0);
        CHECK(fd >= 0 && fd_has_content(fd, "A"));
        close(fd);
        CHECK_EQ(read_response(b.client, OPENHOOK_CMD_UNLINK, &result, &fd), 0);
        CHECK_EQ(result, -ENOENT);
        CHECK_EQ(fd, -1);
        CHECK_EQ(read_response(b.client, OPENHOOK_CMD_OPEN, &result, &fd), 0);
        CHECK_EQ(result, 0);
        CHECK(fd >= 0 && fd_has_content(fd, "B"));
        close(fd);
        finish(&b);
}

/* More requests in one write than the broker answers per turn: it must
 * come back for the rest by itself, with no further input to wake it. */
static void many_pipelined_requests_are_all_answered(void)
{
        enum { N = 200 };
        struct broker b;
        static uint8_t buf[N * 64];
        struct timeval tv = { .tv_sec = 5 };
        size_t len = 0;
        int32_t result;
        int fd, answered = 0;

        start(&b, SOCK_STREAM);
        setsockopt(b.client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        for (int i = 0; i < N; i++)
                len += (size_t) encode(buf + len, OPENHOOK_CMD_UNLINK, at(&b, "missing"));
        CHECK_EQ(write(b.client, buf, len), (ssize_t) len);
        for (int i = 0; i < N; i++) {
                if (read_response(b.client, OPENHOOK_CMD_UNLINK, &result, &fd) < 0)
                        break;
                answered += result == -ENOENT;
        }
        CHECK_EQ(answered, N);
        finish(&b);
}

static void request_sent_one_byte_at_a_time_is_answered_once_complete(void)
{
        struct broker b;
        uint8_t buf[OH_REQUEST_MAX];
        struct pollfd p;
        int32_t result;
        int fd;

        start(&b, SOCK_STREAM);
        write_file(at(&b, "slow"), "slow");
        struct oh_request req = { .command = OPENHOOK_CMD_OPEN, .path = at(&b, "slow") };
        int len = oh_wire_encode_request(&req, buf, sizeof(buf));
        for (int i = 0; i < len; i++) {
                CHECK_EQ(write(b.client, buf + i, 1), 1);
                usleep(500);
                if (i + 1 < len) {
                        p = (struct pollfd) { .fd = b.client, .events = POLLIN };
                        CHECK_EQ(poll(&p, 1, 0), 0);
                }
        }
        CHECK_EQ(read_response(b.client, OPENHOOK_CMD_OPEN, &result, &fd), 0);
        CHECK_EQ(result, 0);
        CHECK(fd >= 0 && fd_has_content(fd, "slow"));
        close(fd);
        finish(&b);
}

/* Sends a request with NFDS copies of FD attached. */
static void send_with_fds(int sock, const uint8_t *buf, size_t len, int fd, int nfds)
{
        int fds[OH_FDPASS_MAX + 16];
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(fds))];
        } control = {};
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
        struct msghdr msg = {
                .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = control.buf, .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t) nfds),
        };
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

        for (int i = 0; i < nfds; i++)
                fds[i] = fd;
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t) nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t) nfds);
        CHECK_EQ(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t) len);
}

static void fds_attached_by_a_client_are_closed_at_once(int type)
{
        struct broker b;
        uint8_t buf[OH_REQUEST_MAX];
        int32_t result;
        int fd;

        start(&b, type);
        _cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int len = encode(buf, OPENHOOK_CMD_UNLINK, at(&b, "missing"));
        /* Counted once the broker is up and has all its own fds. */
        CHECK_EQ(openhook_unlink(b.client, at(&b, "missing")), -ENOENT);
        int before = count_fds();

        /* 1 and 2 fit the broker's control buffer; 32 arrive with MSG_CTRUNC. */
        const int counts[] = { 1, 2, 32 };
        for (int round = 0; round < 20; round++)
                for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                        send_with_fds(b.client, buf, (size_t) len, devnull, counts[i]);
                        CHECK_EQ(read_response(b.client, OPENHOOK_CMD_UNLINK, &result, &fd), 0);
                        CHECK_EQ(result, -ENOENT);
                        CHECK_EQ(fd, -1);
                }
        CHECK_EQ(count_fds(), before);
        finish(&b);
}

static void fds_attached_over_stream_are_closed(void) { fds_attached_by_a_client_are_closed_at_once(SOCK_STREAM); }
static void fds_attached_over_seqpacket_are_closed(void) { fds_attached_by_a_client_are_closed_at_once(SOCK_SEQPACKET); }

struct worker_arg {
        char path[256];
        int index;
        int sock;
        atomic_int *mismatches;
        atomic_int *errors;
};

static void *open_own_file_repeatedly(void *userdata)
{
        struct worker_arg *w = userdata;
        char content[32];

        snprintf(content, sizeof(content), "thread %d", w->index);
        for (int i = 0; i < 300; i++) {
                int fd = openhook_open(w->sock, w->path, O_RDONLY | O_CLOEXEC, 0);
                if (fd < 0) {
                        atomic_fetch_add(w->errors, 1);
                        continue;
                }
                if (!fd_has_content(fd, content))
                        atomic_fetch_add(w->mismatches, 1);
                close(fd);
        }
        return NULL;
}

static void concurrent_threads_on_one_socket_never_get_each_others_fds(int type)
{
        enum { N = 8 };
        struct broker b;
        pthread_t threads[N];
        struct worker_arg args[N];
        atomic_int mismatches = 0, errors = 0;

        start(&b, type);
        for (int i = 0; i < N; i++) {
                char name[32], content[32];
                snprintf(name, sizeof(name), "t%d", i);
                snprintf(content, sizeof(content), "thread %d", i);
                write_file(at(&b, name), content);
        }
        for (int i = 0; i < N; i++) {
                args[i] = (struct worker_arg) { .index = i, .sock = b.client, .mismatches = &mismatches, .errors = &errors };
                snprintf(args[i].path, sizeof(args[i].path), "%s/t%d", b.dir, i);
                pthread_create(&threads[i], NULL, open_own_file_repeatedly, &args[i]);
        }
        for (int i = 0; i < N; i++)
                pthread_join(threads[i], NULL);
        CHECK_EQ(atomic_load(&mismatches), 0);
        CHECK_EQ(atomic_load(&errors), 0);
        finish(&b);
}

static void concurrent_threads_on_stream_get_their_own_fds(void) { concurrent_threads_on_one_socket_never_get_each_others_fds(SOCK_STREAM); }
static void concurrent_threads_on_seqpacket_get_their_own_fds(void) { concurrent_threads_on_one_socket_never_get_each_others_fds(SOCK_SEQPACKET); }

static void *read_one_request_then_hang_up(void *userdata)
{
        int fd = (int) (intptr_t) userdata;
        char buf[256];

        (void) !read(fd, buf, sizeof(buf));
        close(fd);
        return NULL;
}

static void dead_broker_gives_an_error_not_a_hang(void)
{
        int pair[2];
        pthread_t t;

        /* Gone before the request: the send fails, without SIGPIPE. */
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
        close(pair[1]);
        int r = openhook_open(pair[0], "/tmp/x", O_RDONLY, 0);
        CHECK(r == -EPIPE || r == -ECONNRESET);
        close(pair[0]);

        /* Gone after reading the request, before answering. */
        const int types[] = { SOCK_STREAM, SOCK_SEQPACKET };
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                CHECK(socketpair(AF_UNIX, types[i] | SOCK_CLOEXEC, 0, pair) == 0);
                pthread_create(&t, NULL, read_one_request_then_hang_up, (void *) (intptr_t) pair[1]);
                r = openhook_open(pair[0], "/tmp/x", O_RDONLY, 0);
                CHECK(r == -ECONNRESET || r == -EPIPE);
                pthread_join(t, NULL);
                close(pair[0]);
        }
}

static void *open_and_wait_forever(void *userdata)
{
        (void) openhook_open((int) (intptr_t) userdata, "/tmp/x", O_RDONLY, 0);
        return NULL;
}

/* A thread is inside a request (holding its socket's lock) when another
 * forks; the child must still be able to make requests of its own. */
static void child_forked_during_a_request_is_not_deadlocked(void)
{
        int silent[2], dead[2], status = -1;
        pthread_t t;

        /* Peer never answers: the thread stays inside openhook_open(). */
        CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, silent) == 0);
        pthread_create(&t, NULL, open_and_wait_forever, (void *) (intptr_t) silent[0]);
        usleep(50 * 1000);

        pid_t pid = fork();
        if (pid == 0) {
                /* The same fd number, so the same lock: a dead peer must
                 * give an error at once. */
                alarm(5);
                if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, dead) < 0 ||
                    dup2(dead[0], silent[0]) < 0)
                        _exit(2);
                close(dead[1]);
                int r = openhook_open(silent[0], "/tmp/x", O_RDONLY, 0);
                _exit(r == -EPIPE || r == -ECONNRESET ? 0 : 1);
        }
        CHECK(pid > 0);
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* Hanging up wakes the parent's thread. */
        close(silent[1]);
        pthread_join(t, NULL);
        close(silent[0]);
}

static void *answer_without_fd(void *userdata)
{
        int fd = (int) (intptr_t) userdata;
        uint8_t buf[256], resp[OH_RESPONSE_SIZE];

        (void) !read(fd, buf, sizeof(buf));
        oh_wire_encode_response(OPENHOOK_CMD_OPEN, 0, resp);
        (void) !write(fd, resp, sizeof(resp));
        (void) !read(fd, buf, sizeof(buf));
        oh_wire_encode_response(OPENHOOK_CMD_MKDIR, 0, resp);
        (void) !write(fd, resp, sizeof(resp));

        /* Success with one fd too many, then with more than fit (copies
         * of this socket: any fd will do). */
        oh_wire_encode_response(OPENHOOK_CMD_OPEN, 0, resp);
        (void) !read(fd, buf, sizeof(buf));
        send_with_fds(fd, resp, sizeof(resp), fd, 2);
        (void) !read(fd, buf, sizeof(buf));
        /* past the room for OH_FDPASS_MAX fds and a SCM_CREDENTIALS */
        send_with_fds(fd, resp, sizeof(resp), fd, OH_FDPASS_MAX + 16);
        return NULL;
}

static void broker_that_breaks_the_protocol_gives_eproto(void)
{
        int pair[2];
        pthread_t t;

        CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
        pthread_create(&t, NULL, answer_without_fd, (void *) (intptr_t) pair[1]);
        /* Success without an fd. */
        CHECK_EQ(openhook_open(pair[0], "/tmp/x", O_RDONLY, 0), -EPROTO);
        /* An answer to another command. */
        CHECK_EQ(openhook_open(pair[0], "/tmp/x", O_RDONLY, 0), -EPROTO);

        /* The surplus fd is closed, the first returned. */
        int before = count_fds();
        int fd = openhook_open(pair[0], "/tmp/x", O_RDONLY, 0);
        CHECK(fd >= 0);
        CHECK_EQ(count_fds(), before + 1);
        if (fd >= 0)
                close(fd);
        /* Cut-off control data: nothing kept, -EPROTO. */
        CHECK_EQ(openhook_open(pair[0], "/tmp/x", O_RDONLY, 0), -EPROTO);
        pthread_join(t, NULL);
        CHECK_EQ(count_fds(), before);
        close(pair[1]);
        close(pair[0]);
}

/* Answers a MKDIR with an 8-byte record and then the 4 bytes that would
 * complete it on a stream. */
static void *answer_in_short_records(void *userdata)
{
        int fd = (int) (intptr_t) userdata;
        uint8_t buf[256], resp[OH_RESPONSE_SIZE];

        (void) !read(fd, buf, sizeof(buf));
        oh_wire_encode_response(OPENHOOK_CMD_MKDIR, 0, resp);
        (void) !write(fd, resp, 8);
        (void) !write(fd, resp + 8, 4);
        return NULL;
}

static void short_seqpacket_reply_is_eproto_not_joined_with_the_next(void)
{
        int pair[2];
        pthread_t t;

        CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
        pthread_create(&t, NULL, answer_in_short_records, (void *) (intptr_t) pair[1]);
        CHECK_EQ(openhook_mkdir(pair[0], "/tmp/x", 0700), -EPROTO);
        pthread_join(t, NULL);
        close(pair[1]);
        close(pair[0]);
}

/* Answers two OPENs with success and two copies of FILE_FD each. */
struct two_fds_arg {
        int sock;
        int file_fd;
};

static void *answer_with_two_fds(void *userdata)
{
        struct two_fds_arg *a = userdata;
        uint8_t buf[256], resp[OH_RESPONSE_SIZE];

        oh_wire_encode_response(OPENHOOK_CMD_OPEN, 0, resp);
        for (int i = 0; i < 2; i++) {
                (void) !read(a->sock, buf, sizeof(buf));
                send_with_fds(a->sock, resp, sizeof(resp), a->file_fd, 2);
        }
        return NULL;
}

static void open_gets_close_on_exec_as_asked_and_surplus_fds_are_closed(void)
{
        struct two_fds_arg a = { .file_fd = open("/dev/null", O_RDONLY | O_CLOEXEC) };
        int pair[2];
        pthread_t t;

        CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
        a.sock = pair[1];
        pthread_create(&t, NULL, answer_with_two_fds, &a);
        int before = count_fds();

        int inheritable = openhook_open(pair[0], "/tmp/x", O_RDONLY, 0);
        CHECK(inheritable >= 0);
        CHECK_EQ(fcntl(inheritable, F_GETFD) & FD_CLOEXEC, 0);
        CHECK_EQ(count_fds(), before + 1);

        int private = openhook_open(pair[0], "/tmp/x", O_RDONLY | O_CLOEXEC, 0);
        CHECK(private >= 0);
        CHECK_EQ(fcntl(private, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        CHECK_EQ(count_fds(), before + 2);

        pthread_join(t, NULL);
        close(inheritable);
        close(private);
        close(a.file_fd);
        close(pair[1]);
        close(pair[0]);
}

static void untrustworthy_framing_closes_the_connection(void)
{
        struct broker b;
        uint32_t tiny[2] = { 4, OPENHOOK_CMD_OPEN };
        uint32_t huge[2] = { OPENHOOK_MSG_MAX + 1, OPENHOOK_CMD_OPEN };

        start(&b, SOCK_STREAM);
        CHECK_EQ(write(b.client, tiny, sizeof(tiny)), 8);
        CHECK(hung_up(b.client));
        finish(&b);
        CHECK_EQ(b.protocol_errors, 1);

        start(&b, SOCK_STREAM);
        CHECK_EQ(write(b.client, huge, sizeof(huge)), 8);
        CHECK(hung_up(b.client));
        finish(&b);
        CHECK_EQ(b.protocol_errors, 1);

        /* An OPEN whose path length runs past the message. */
        start(&b, SOCK_STREAM);
        uint8_t buf[64];
        int len = encode(buf, OPENHOOK_CMD_UNLINK, "/tmp/abc");
        uint16_t bad = 200;
        memcpy(buf + 8, &bad, 2);
        CHECK_EQ(write(b.client, buf, (size_t) len), len);
        CHECK(hung_up(b.client));
        finish(&b);
        CHECK_EQ(b.protocol_errors, 1);
}

static void seqpacket_datagram_must_match_its_message_size(void)
{
        struct broker b;
        uint8_t buf[OH_REQUEST_MAX + 8];

        /* Longer than message_size: two messages in one datagram. */
        start(&b, SOCK_SEQPACKET);
        int len = encode(buf, OPENHOOK_CMD_UNLINK, "/tmp/a");
        memcpy(buf + len, buf, (size_t) len);
        CHECK_EQ(send(b.client, buf, 2 * (size_t) len, MSG_NOSIGNAL), 2 * len);
        CHECK(hung_up(b.client));
        finish(&b);
        CHECK_EQ(b.protocol_errors, 1);

        /* Shorter than message_size. */
        start(&b, SOCK_SEQPACKET);
        len = encode(buf, OPENHOOK_CMD_UNLINK, "/tmp/abcdef");
        CHECK_EQ(send(b.client, buf, (size_t) len - 3, MSG_NOSIGNAL), len - 3);
        CHECK(hung_up(b.client));
        finish(&b);
        CHECK_EQ(b.protocol_errors, 1);

        /* Larger than OPENHOOK_MSG_MAX altogether. */
        start(&b, SOCK_SEQPACKET);
        static uint8_t big[OPENHOOK_MSG_MAX + 100];
        uint32_t size = sizeof(big);
        memcpy(big, &size, 4);
        CHECK_EQ(send(b.client, big, sizeof(big), MSG_NOSIGNAL), (ssize_t) sizeof(big));
        CHECK(hung_up(b.client));
        finish(&b);
        CHECK_EQ(b.protocol_errors, 1);
}

static void connect_gives_a_working_independent_connection(void)
{
        struct broker b;
        int type = 0;
        socklen_t len = sizeof(type);

        start(&b, SOCK_SEQPACKET);
        write_file(at(&b, "f"), "private");
        int conn = openhook_new_connection(b.client);
        CHECK(conn >= 0);
        CHECK_EQ(fcntl(conn, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        CHECK(getsockopt(conn, SOL_SOCKET, SO_TYPE, &type, &len) == 0);
        CHECK_EQ(type, SOCK_SEQPACKET);

        /* The original goes; the derived connection keeps the broker up. */
        close(b.client);
        b.client = -1;
        usleep(50 * 1000);
        CHECK(!atomic_load(&b.run_done));

        int fd = openhook_open(conn, at(&b, "f"), O_RDONLY, 0);
        CHECK(fd >= 0 && fd_has_content(fd, "private"));
        close(fd);
        CHECK_EQ(openhook_open(conn, "/etc/passwd", O_RDONLY, 0), -EACCES);

        /* A connection derived from a derived one works the same. */
        int conn2 = openhook_new_connection(conn);
        CHECK(conn2 >= 0);
        close(conn);
        fd = openhook_open(conn2, at(&b, "f"), O_RDONLY, 0);
        CHECK(fd >= 0);
        close(fd);

        b.client = conn2;
        finish(&b);
}

/* A client floods requests and never reads a reply.  The broker stops
 * reading from it (its memory stays bounded) and keeps serving others. */
static void client_that_never_reads_replies_does_not_delay_others(void)
{
        struct broker b;
        uint8_t buf[OH_REQUEST_MAX];
        struct timespec t0, t1;

        start(&b, SOCK_STREAM);
        write_file(at(&b, "f"), "f");
        int other = openhook_new_connection(b.client);
        CHECK(other >= 0);
        int before = count_fds();

        int len = encode(buf, OPENHOOK_CMD_OPEN, at(&b, "f"));
        int sent = 0;
        while (send(b.client, buf, (size_t) len, MSG_DONTWAIT | MSG_NOSIGNAL) == len && sent < 1000000)
                sent++;
        CHECK(sent > 0);
        CHECK(sent < 1000000);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 100; i++) {
                int fd = openhook_open(other, at(&b, "f"), O_RDONLY, 0);
                CHECK(fd >= 0);
                close(fd);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        CHECK(secs < 2.0);
        /* The broker keeps at most one pending reply (and its fd) for the
         * flooding client, not one per request sent. */
        int grown = count_fds() - before;
        CHECK(grown <= 2);
        printf("#   %d requests queued unread, broker holds %d more fds, 100 opens by another client in %.3f s\n",
               sent, grown, secs);

        close(other);
        finish(&b);
}

/* A client thread sending requests back to back, as fast as answered. */
struct back_to_back {
        int sock;
        const char *path;
        atomic_bool stop;
        atomic_int answered;
};

static void *open_back_to_back(void *userdata)
{
        struct back_to_back *h = userdata;

        while (!atomic_load(&h->stop)) {
                int fd = openhook_open(h->sock, h->path, O_RDONLY | O_CLOEXEC, 0);
                if (fd < 0)
                        break;
                close(fd);
                atomic_fetch_add(&h->answered, 1);
        }
        return NULL;
}

/* Starts H on SOCK and waits (up to 10 s) until it is well under way, so
 * the single worker is busy with that connection. */
static void start_back_to_back(struct back_to_back *h, pthread_t *t, int sock, const char *path)
{
        *h = (struct back_to_back) { .sock = sock, .path = path };
        pthread_create(t, NULL, open_back_to_back, h);
        for (int i = 0; i < 1000 && atomic_load(&h->answered) < 100; i++)
                usleep(10 * 1000);
        CHECK(atomic_load(&h->answered) >= 100);
}

static void connection_made_by_connect_is_served_while_a_single_worker_serves_another(void)
{
        struct broker b;
        struct back_to_back h;
        pthread_t t;
        uint8_t buf[OH_REQUEST_MAX];
        int32_t result = -1;
        int fd = -1;

        start_workers(&b, SOCK_SEQPACKET, 1);
        write_file(at(&b, "f"), "f");
        start_back_to_back(&h, &t, b.client, at(&b, "f"));

        /* Made while the worker stays with b.client. */
        int other = openhook_new_connection(b.client);
        CHECK(other >= 0);
        int len = encode(buf, OPENHOOK_CMD_OPEN, at(&b, "f"));
        CHECK_EQ(send(other, buf, (size_t) len, MSG_NOSIGNAL), len);
        struct pollfd p = { .fd = other, .events = POLLIN };
        CHECK_EQ(poll(&p, 1, 10 * 1000), 1);
        if (p.revents & POLLIN) {
                CHECK_EQ(read_response(other, OPENHOOK_CMD_OPEN, &result, &fd), 0);
                CHECK_EQ(result, 0);
                CHECK(fd >= 0 && fd_has_content(fd, "f"));
        }
        if (fd >= 0)
                close(fd);

        atomic_store(&h.stop, true);
        pthread_join(t, NULL);
        close(other);
        finish(&b);
}

static void server_stop_returns_while_a_worker_stays_with_a_connection(void)
{
        struct broker b;
        struct back_to_back h;
        pthread_t t;

        start_workers(&b, SOCK_SEQPACKET, 1);
        write_file(at(&b, "f"), "f");
        start_back_to_back(&h, &t, b.client, at(&b, "f"));

        int before = atomic_load(&h.answered);
        openhook_server_stop(b.server);
        CHECK(run_ends(&b));
        printf("#   %d requests answered between stop and the loop's return\n", atomic_load(&h.answered) - before);
        /* The stopped broker closed the connection under the client. */
        pthread_join(t, NULL);
        finish(&b);
}

static void thousand_listening_clients_are_served_concurrently(void)
{
        enum { N = 1000 };
        struct broker b;
        char sockpath[108];
        static int socks[N];
        int failures = 0;
        struct rlimit rl;

        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < 2 * N + 64) {
                printf("#   RLIMIT_NOFILE hard limit %llu too low\n", (unsigned long long) rl.rlim_cur);
                CHECK(false);
                return;
        }

        char tmpl[] = "/tmp/oh-listen-XXXXXX";
        CHECK(mkdtemp(tmpl) != NULL);
        snprintf(sockpath, sizeof(sockpath), "%s/sock", tmpl);
        start_listening(&b, sockpath, SOCK_SEQPACKET);
        write_file(at(&b, "f"), "shared");

        for (int i = 0; i < N; i++) {
                socks[i] = openhook_connect(sockpath);
                if (socks[i] < 0) {
                        failures++;
                        continue;
                }
                int fd = openhook_open(socks[i], at(&b, "f"), O_RDONLY | O_CLOEXEC, 0);
                if (fd < 0 || !fd_has_content(fd, "shared"))
                        failures++;
                if (fd >= 0)
                        close(fd);
        }
        /* All are still connected; each is answered again. */
        for (int i = 0; i < N; i++) {
                if (socks[i] < 0)
                        continue;
                if (openhook_unlink(socks[i], at(&b, "missing")) != -ENOENT)
                        failures++;
        }
        CHECK_EQ(failures, 0);
        CHECK_EQ(b.last.pid, getpid());
        for (int i = 0; i < N; i++)
                if (socks[i] >= 0)
                        close(socks[i]);
        finish(&b);
        unlink(sockpath);
        rmdir(tmpl);
}

/* The embedding API driven by hand, as examples/embed-server.c does. */
struct embedded {
        struct openhook_conn *conns[8];
        int n;
};

static int embed_add(struct openhook_conn *conn, void *userdata)
{
        struct embedded *e = userdata;
        if (e->n == (int) ELEMENTSOF(e->conns))
                return -EMFILE;
        e->conns[e->n++] = conn;
        return 0;
}

static void *embedded_client(void *userdata)
{
        struct broker *b = userdata;
        intptr_t ok = 0;

        int fd = openhook_open(b->client, at(b, "f"), O_RDONLY, 0);
        int conn = openhook_new_connection(b->client);
        if (fd >= 0 && fd_has_content(fd, "embedded") && conn >= 0) {
                int fd2 = openhook_open(conn, at(b, "f"), O_RDONLY, 0);
                ok = fd2 >= 0;
                if (fd2 >= 0)
                        close(fd2);
        }
        if (fd >= 0)
                close(fd);
        if (conn >= 0)
                close(conn);
        close(b->client);
        return (void *) ok;
}

static void embedding_api_serves_requests_in_a_poll_loop(void)
{
        struct broker b;
        struct embedded e = {};
        struct openhook_conn *conn;
        int pair[2];
        pthread_t t;
        void *ok;

        prepare(&b);
        write_file(at(&b, "f"), "embedded");
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
        openhook_server_set_add_conn(b.server, embed_add, &e);
        CHECK_EQ(openhook_server_add(b.server, pair[1], &conn), 0);
        e.conns[e.n++] = conn;
        b.client = pair[0];
        pthread_create(&t, NULL, embedded_client, &b);

        /* Until every connection has finished. */
        for (int rounds = 0; e.n > 0 && rounds < 10000; rounds++) {
                struct pollfd p[8];
                for (int i = 0; i < e.n; i++)
                        p[i] = (struct pollfd) { .fd = openhook_conn_fd(e.conns[i]), .events = (short) openhook_conn_events(e.conns[i]) };
                if (poll(p, (nfds_t) e.n, 5000) <= 0)
                        break;
                for (int i = e.n - 1; i >= 0; i--) {
                        if (!p[i].revents)
                                continue;
                        if (openhook_conn_process(e.conns[i]) < 0) {
                                openhook_conn_free(e.conns[i]);
                                e.conns[i] = e.conns[--e.n];
                        }
                }
        }
        pthread_join(t, &ok);
        CHECK(ok != NULL);
        CHECK_EQ(e.n, 0);
        CHECK(b.logged >= 3);
        openhook_server_free(b.server);
        openhook_policy_free(b.policy);
        nftw(b.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
static void chmod_and_utimens_reach_the_file_and_are_logged(void)
{
        const struct timespec ts[2] = { { 1000000000, 1 }, { 1100000000, 2 } };
        struct broker b;
        struct stat st;

        start(&b, SOCK_SEQPACKET);
        write_file(at(&b, "m"), "m");
        CHECK_EQ(openhook_chmod(b.client, at(&b, "m"), 04640, 0), 0);
        CHECK_EQ(b.last.command, OPENHOOK_CMD_CHMOD);
        CHECK_EQ(b.last.mode, 04640);
        CHECK(stat(at(&b, "m"), &st) == 0 && (st.st_mode & 07777) == 0640);
        CHECK_EQ(openhook_utimens(b.client, at(&b, "m"), ts, 0), 0);
        CHECK_EQ(b.last.command, OPENHOOK_CMD_UTIMENS);
        CHECK(stat(at(&b, "m"), &st) == 0);
        CHECK_EQ(st.st_atim.tv_sec, 1000000000);
        CHECK_EQ(st.st_mtim.tv_nsec, 2);
        CHECK_EQ(openhook_utimens(b.client, at(&b, "m"), NULL, 0), 0);
        CHECK(stat(at(&b, "m"), &st) == 0 && st.st_mtim.tv_sec > 1100000000);
        CHECK_EQ(openhook_chmod(b.client, "/etc/passwd", 0777, 0), -EACCES);
        CHECK(b.last.denied);
        CHECK_EQ(openhook_utimens(b.client, at(&b, "m"),
                                  (const struct timespec[2]) { { 0, 1000000000 }, { 0, 0 } }, 0), -EINVAL);
        finish(&b);
}

/* ---- connecting ------------------------------------------------------------ */

static void on_sigusr1(int sig)
{
        (void) sig;
}

struct interrupter {
        pthread_t target;
        int listen_fd;
};

/* Interrupts the target's blocked connect(), then drains the backlog so
 * that a retried connect() completes. */
static void *interrupt_then_accept(void *arg)
{
        struct interrupter *in = arg;

        usleep(200 * 1000);
        pthread_kill(in->target, SIGUSR1);
        usleep(200 * 1000);
        for (int i = 0; i < 50; i++) {
                int fd = accept4(in->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd >= 0)
                        close(fd);
                usleep(10 * 1000);
        }
        return NULL;
}

/* A Unix-socket connect() that a signal interrupts is abandoned by the
 * kernel, not carried on in the background: the client must connect
 * again rather than hand back an unconnected socket. */
static void connect_interrupted_by_a_signal_still_connects(void)
{
        struct sigaction sa = { .sa_handler = on_sigusr1 }, old;  /* no SA_RESTART */
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        char dir[64] = "/tmp/oh-test-connect-XXXXXX";
        struct interrupter in = { .target = pthread_self() };
        pthread_t thread;
        int queued[64], nqueued = 0;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sock", dir);
        in.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        CHECK(bind(in.listen_fd, (struct sockaddr *) &sun, sizeof(sun)) == 0);
        CHECK(listen(in.listen_fd, 0) == 0);
        /* Fill the backlog so that the next connect() blocks. */
        while (nqueued < 64) {
                int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
                        close(fd);
                        break;
                }
                queued[nqueued++] = fd;
        }
        CHECK(nqueued < 64);

        sigaction(SIGUSR1, &sa, &old);
        pthread_create(&thread, NULL, interrupt_then_accept, &in);
        int fd = openhook_connect(sun.sun_path);
        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK_EQ(send(fd, "x", 1, MSG_NOSIGNAL), 1);     /* connected, not merely created */
                close(fd);
        }
        pthread_join(thread, NULL);
        sigaction(SIGUSR1, &old, NULL);

        for (int i = 0; i < nqueued; i++)
                close(queued[i]);
        close(in.listen_fd);
        unlink(sun.sun_path);
        rmdir(dir);
}

/* ---- a tree walker's next opens (OPENHOOK_CMD_OPEN_WALK_AHEAD) --------- */

#define WALK_FILE_FLAGS (O_RDONLY | O_NONBLOCK)
#define WALK_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)
#define WALK_MAX 40

/* What a walker in directory order visits under the fixture's "top". */
static struct {
        char path[WALK_MAX][300];
        bool dir[WALK_MAX];
        size_t n;
} order;

static void visit(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;

        if (!d)
                abort();
        while ((e = readdir(d)) && order.n < WALK_MAX) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                size_t i = order.n++;
                snprintf(order.path[i], sizeof(order.path[i]), "%.200s/%.90s", dir, e->d_name);
                order.dir[i] = e->d_type == DT_DIR;
                if (order.dir[i])
                        visit(order.path[i]);
        }
        closedir(d);
}

/* top/ with files and two levels of directories; ORDER their walk. */
static const char *walk_tree(struct broker *b)
{
        static const char *const dirs[] = { "top", "top/d0", "top/d0/e", "top/d1" };
        static const char *const files[] = { "top/f0", "top/f1", "top/f2", "top/d0/g0", "top/d0/g1",
                                             "top/d0/e/h0", "top/d1/g0", "top/f3" };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdir(at(b, dirs[i]), 0755) < 0)
                        abort();
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                write_file(at(b, files[i]), files[i]);
        order.n = 0;
        visit(at(b, "top"));
        return at(b, "top");
}

static int walk_ask(struct broker *b, size_t i, unsigned int max, struct oh_ahead_rx *rx)
{
        const char *path = i == SIZE_MAX ? at(b, "top") : order.path[i];
        bool dir = i == SIZE_MAX || order.dir[i];

        return oh_client_open_ahead(b->client, OPENHOOK_CMD_OPEN_WALK_AHEAD, path,
                                    dir ? WALK_DIR_FLAGS : WALK_FILE_FLAGS, WALK_FILE_FLAGS, WALK_DIR_FLAGS, max, rx);
}

/* Whether RX holds entries FROM, FROM+1, ... of the walk, each the file
 * its name leads to; closes them. */
static bool sent_in_order(const struct oh_ahead_rx *rx, size_t from)
{
        bool ok = from + rx->batch.count <= order.n;

        for (uint32_t i = 0; i < rx->batch.count; i++) {
                const char *want = ok ? order.path[from + i] : "";
                const char *name = rx->batch.names + rx->batch.files[i].name_off;
                const char *slash = strrchr(want, '/');

                ok = ok && slash && strcmp(slash + 1, name) == 0 && same_file(rx->fds[i], want);
                close(rx->fds[i]);
        }
        return ok;
}

static int logged(struct broker *b)
{
        pthread_mutex_lock(&b->log_lock);
        int n = b->logged;
        pthread_mutex_unlock(&b->log_lock);
        return n;
}

static struct oh_ahead_rx walk_rx;

/* The broker closes its copies of what it sent right after sending: the
 * count once it has stopped moving. */
static int settled_fds(void)
{
        int n = count_fds(), same = 0;

        while (same < 3) {
                usleep(10 * 1000);
                int m = count_fds();
                same = m == n ? same + 1 : 0;
                n = m;
        }
        return n;
}

/* Waits up to 10 s for this process to hold N fds. */
static bool fds_become(int n)
{
        for (int i = 0; i < 1000; i++) {
                if (count_fds() == n)
                        return true;
                usleep(10 * 1000);
        }
        printf("#   %d fds, expected %d\n", count_fds(), n);
        return false;
}

/* Asks for walk entry I (SIZE_MAX: top) and checks the answer: that
 * entry, then the next ones, as many as MAX or as are left, each decided
 * and logged once, as it is sent.  Closes what came. */
static void walk_step(struct broker *b, size_t i, unsigned int max)
{
        size_t from = i == SIZE_MAX ? 0 : i + 1, left = order.n - from;
        int before = logged(b);
        int fd = walk_ask(b, i, max, &walk_rx);

        CHECK(fd >= 0 && same_file(fd, i == SIZE_MAX ? at(b, "top") : order.path[i]));
        CHECK_EQ(walk_rx.batch.count, left < max ? left : max);
        CHECK(sent_in_order(&walk_rx, from));
        CHECK_EQ(logged(b), before + 1 + (int) (left < max ? left : max));
        close(fd);
}

/* The fds this process holds once the broker has settled, after a first
 * walk (whatever the loop sets up for its first request is there). */
static int walked_once(struct broker *b)
{
        walk_step(b, SIZE_MAX, WALK_MAX);
        return settled_fds();
}

/* The walk goes down into each directory as it meets it and back up, and
 * a request for the entry a reply stopped before carries it on; with
 * OPENHOOK_AHEAD_PREPARE that reply was waiting (its fds held by the
 * broker, nothing logged until it is sent), cut to the room asked. */
static void walk_is_carried_on(int how)
{
        struct broker b;

        start_sending_ahead(&b, how);
        walk_tree(&b);
        CHECK_EQ(order.n, 11);
        int fds = walked_once(&b);

        /* Three at a time from the top: 0-2, then 3 with 4-6 ... */
        walk_step(&b, SIZE_MAX, 3);
        for (size_t next = 3; next < order.n; next += 4) {
                size_t left = order.n - next - 1;
                int before = logged(&b);
                if (how & OPENHOOK_AHEAD_PREPARE)
                        CHECK(fds_become(fds + 1 + (int) (left < 3 ? left : 3)));
                CHECK_EQ(logged(&b), before);
                /* The last one asks for less room than was prepared. */
                walk_step(&b, next, next + 4 >= order.n ? 1 : 3);
        }
        CHECK(fds_become(fds));
        finish(&b);
}

static void a_walker_is_sent_what_it_opens_next_in_directory_order(void) { walk_is_carried_on(OPENHOOK_AHEAD_SEND); }
static void a_walkers_next_reply_is_prepared_while_it_reads(void)
{
        walk_is_carried_on(OPENHOOK_AHEAD_SEND | OPENHOOK_AHEAD_PREPARE);
}

/* A reply prepared under one policy is never handed out under the next:
 * the entry it would have answered is decided again. */
static void a_policy_swapped_in_drops_the_reply_prepared_under_the_old_one(void)
{
        struct broker b;
        struct openhook_policy *next;
        char *error = NULL, rule[300];

        start_sending_ahead(&b, OPENHOOK_AHEAD_SEND | OPENHOOK_AHEAD_PREPARE);
        walk_tree(&b);
        int fds = walked_once(&b);
        walk_step(&b, SIZE_MAX, 2);
        /* Held by the broker: entry 2 and the two after it. */
        CHECK(fds_become(fds + 3));

        snprintf(rule, sizeof(rule), "%s/", b.dir);
        if (openhook_policy_new(&next) < 0 || openhook_policy_allow(next, "r", rule, &error) < 0 ||
            openhook_policy_deny(next, order.path[2], &error) < 0)
                abort();
        CHECK_EQ(openhook_server_set_policy(b.server, next), 0);
        openhook_policy_free(b.policy);
        b.policy = next;

        CHECK_EQ(walk_ask(&b, 2, 2, &walk_rx), -EACCES);
        /* A new walk, from entry 3's directory. */
        int before = logged(&b), fd = walk_ask(&b, 3, 2, &walk_rx);
        CHECK(fd >= 0 && same_file(fd, order.path[3]));
        CHECK_EQ(logged(&b), before + 1 + (int) walk_rx.batch.count);
        CHECK(sent_in_order(&walk_rx, 4));
        close(fd);
        finish(&b);
}

/* A client that asks for something else gets it, and the reply prepared
 * for it is closed, not kept, and never logged. */
static void a_prepared_reply_not_asked_for_is_dropped(void)
{
        struct broker b;

        start_sending_ahead(&b, OPENHOOK_AHEAD_SEND | OPENHOOK_AHEAD_PREPARE);
        walk_tree(&b);
        int fds = walked_once(&b);
        walk_step(&b, SIZE_MAX, 2);
        CHECK(fds_become(fds + 3));

        walk_step(&b, order.n - 2, 2);
        CHECK(fds_become(fds));
        finish(&b);
}

/* Flags that would do more than read, for the files or the directories
 * sent, or that are not the entry's own, send nothing ahead: only the
 * entry asked for is opened, as an OPEN with its flags. */
static void walk_flags_that_do_more_than_read_send_nothing(void)
{
        static const struct { int flags, file_flags, dir_flags; } bad[] = {
                { WALK_DIR_FLAGS, O_RDWR, WALK_DIR_FLAGS },
                { WALK_DIR_FLAGS, WALK_FILE_FLAGS | O_TRUNC, WALK_DIR_FLAGS },
                { WALK_DIR_FLAGS, WALK_FILE_FLAGS | O_DIRECTORY, WALK_DIR_FLAGS },
                { O_RDONLY, WALK_FILE_FLAGS, O_RDONLY },
                { WALK_DIR_FLAGS | O_APPEND, WALK_FILE_FLAGS, WALK_DIR_FLAGS | O_APPEND },
                { WALK_DIR_FLAGS, WALK_FILE_FLAGS, WALK_DIR_FLAGS | O_NONBLOCK },
        };
        struct broker b;

        start_sending_ahead(&b, OPENHOOK_AHEAD_SEND | OPENHOOK_AHEAD_PREPARE);
        const char *top = walk_tree(&b);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int fd = oh_client_open_ahead(b.client, OPENHOOK_CMD_OPEN_WALK_AHEAD, top, bad[i].flags,
                                              bad[i].file_flags, bad[i].dir_flags, 8, &walk_rx);
                CHECK(fd >= 0 && same_file(fd, top));
                CHECK_EQ(walk_rx.batch.count, 0);
                for (uint32_t j = 0; j < walk_rx.batch.count; j++)
                        close(walk_rx.fds[j]);
                if (fd >= 0)
                        close(fd);
        }
        finish(&b);
}

/* A walk that cannot begin (the file's directory may not be listed)
 * sends nothing, not what the walk before it would have sent next. */
static void a_walk_that_cannot_begin_sends_nothing_of_the_last(void)
{
        struct broker b;
        struct openhook_policy *next;
        char *error = NULL, top[300], x[300];

        start_sending_ahead(&b, OPENHOOK_AHEAD_SEND);
        walk_tree(&b);
        if (mkdir(at(&b, "other"), 0755) < 0)
                abort();
        write_file(at(&b, "other/x"), "x");
        snprintf(top, sizeof(top), "%s/top/", b.dir);
        snprintf(x, sizeof(x), "%s/other/x", b.dir);
        if (openhook_policy_new(&next) < 0 || openhook_policy_allow(next, "r", top, &error) < 0 ||
            openhook_policy_allow(next, "r", x, &error) < 0)
                abort();
        CHECK_EQ(openhook_server_set_policy(b.server, next), 0);
        openhook_policy_free(b.policy);
        b.policy = next;

        walk_step(&b, SIZE_MAX, 2);
        int fd = oh_client_open_ahead(b.client, OPENHOOK_CMD_OPEN_WALK_AHEAD, x, WALK_FILE_FLAGS, WALK_FILE_FLAGS,
                                      WALK_DIR_FLAGS, 5, &walk_rx);
        CHECK(fd >= 0 && same_file(fd, x));
        CHECK_EQ(walk_rx.batch.count, 0);
        for (uint32_t i = 0; i < walk_rx.batch.count; i++)
                close(walk_rx.fds[i]);
        close(fd);
        /* And the walk before is over: its next entry begins a new one,
         * in that entry's directory. */
        fd = walk_ask(&b, 2, 2, &walk_rx);
        CHECK(fd >= 0 && same_file(fd, order.path[2]) && sent_in_order(&walk_rx, 3));
        close(fd);
        finish(&b);
}

/* A directory wider than a walk remembers (OH_WALK_ENTRIES) is walked as
 * far as it was listed; a walker asking for the next file from there on
 * gets every one, each once, in a batch per request or nearly. */
static void a_directory_wider_than_a_walk_remembers_is_sent_whole(void)
{
        enum { N = 5000 };
        static bool got[N];
        static char names[N][NAME_MAX + 1];
        struct broker b;
        size_t n = 0, requests = 0, received = 0;

        start_sending_ahead(&b, OPENHOOK_AHEAD_SEND | OPENHOOK_AHEAD_PREPARE);
        if (mkdir(at(&b, "wide"), 0755) < 0)
                abort();
        for (int i = 0; i < N; i++) {
                char name[32];
                snprintf(name, sizeof(name), "wide/w%04d", i);
                write_file(at(&b, name), name);
        }
        DIR *d = opendir(at(&b, "wide"));
        struct dirent *e;
        while (d && (e = readdir(d)))
                if (e->d_name[0] == 'w' && n < N)
                        snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
        if (d)
                closedir(d);
        CHECK_EQ(n, N);

        memset(got, 0, sizeof(got));
        for (size_t next = 0; next < n;) {
                char p[300];
                snprintf(p, sizeof(p), "%s/wide/%s", b.dir, names[next]);
                int fd = oh_client_open_ahead(b.client, OPENHOOK_CMD_OPEN_WALK_AHEAD, p, WALK_FILE_FLAGS,
                                              WALK_FILE_FLAGS, WALK_DIR_FLAGS, 64, &walk_rx);
                requests++;
                CHECK(fd >= 0 && same_file(fd, p));
                close(fd);
                got[atoi(names[next] + 1)] = true;
                received++;
                for (uint32_t i = 0; i < walk_rx.batch.count; i++) {
                        const char *name = walk_rx.batch.names + walk_rx.batch.files[i].name_off;
                        int k = atoi(name + 1);
                        snprintf(p, sizeof(p), "%s/wide/%s", b.dir, name);
                        CHECK(k >= 0 && k < N && !got[k] && same_file(walk_rx.fds[i], p));
                        got[k] = true;
                        received++;
                        close(walk_rx.fds[i]);
                }
                while (next < n && got[atoi(names[next] + 1)])
                        next++;
        }
        CHECK_EQ(received, N);
        printf("#   %zu files in %zu requests\n", received, requests);
        CHECK(requests <= N / 64 + 8);
        finish(&b);
}

/* OH_TEST_ONLY=name runs one scenario, for debugging. */
#define SCENARIO(fn) do { \
        const char *only = getenv("OH_TEST_ONLY"); \
        if (!only || strcmp(only, #fn) == 0) \
                RUN(fn); \
} while (0)

int main(void)
{
        /* A hang is a failure, not a stuck test run. */
        alarm(100);

        SCENARIO(open_over_stream_returns_the_requested_file);
        SCENARIO(open_over_seqpacket_returns_the_requested_file);
        SCENARIO(open_outside_policy_is_eacces_and_logged_as_denied);
        SCENARIO(extensions_change_the_tree);
        SCENARIO(chmod_and_utimens_reach_the_file_and_are_logged);
        SCENARIO(unknown_command_over_stream_is_enosys);
        SCENARIO(unknown_command_over_seqpacket_is_enosys);
        SCENARIO(bad_paths_are_refused_and_connection_stays_usable);
        SCENARIO(pipelined_requests_in_one_write_are_answered_in_order);
        SCENARIO(many_pipelined_requests_are_all_answered);
        SCENARIO(request_sent_one_byte_at_a_time_is_answered_once_complete);
        SCENARIO(fds_attached_over_stream_are_closed);
        SCENARIO(fds_attached_over_seqpacket_are_closed);
        SCENARIO(concurrent_threads_on_stream_get_their_own_fds);
        SCENARIO(concurrent_threads_on_seqpacket_get_their_own_fds);
        SCENARIO(dead_broker_gives_an_error_not_a_hang);
        SCENARIO(broker_that_breaks_the_protocol_gives_eproto);
        SCENARIO(short_seqpacket_reply_is_eproto_not_joined_with_the_next);
        SCENARIO(open_gets_close_on_exec_as_asked_and_surplus_fds_are_closed);
        SCENARIO(child_forked_during_a_request_is_not_deadlocked);
        SCENARIO(untrustworthy_framing_closes_the_connection);
        SCENARIO(seqpacket_datagram_must_match_its_message_size);
        SCENARIO(connect_gives_a_working_independent_connection);
        SCENARIO(client_that_never_reads_replies_does_not_delay_others);
        SCENARIO(connection_made_by_connect_is_served_while_a_single_worker_serves_another);
        SCENARIO(server_stop_returns_while_a_worker_stays_with_a_connection);
        SCENARIO(thousand_listening_clients_are_served_concurrently);
        SCENARIO(embedding_api_serves_requests_in_a_poll_loop);
        SCENARIO(connect_interrupted_by_a_signal_still_connects);
        SCENARIO(a_walker_is_sent_what_it_opens_next_in_directory_order);
        SCENARIO(a_walkers_next_reply_is_prepared_while_it_reads);
        SCENARIO(a_policy_swapped_in_drops_the_reply_prepared_under_the_old_one);
        SCENARIO(a_prepared_reply_not_asked_for_is_dropped);
        SCENARIO(walk_flags_that_do_more_than_read_send_nothing);
        SCENARIO(a_walk_that_cannot_begin_sends_nothing_of_the_last);
        SCENARIO(a_directory_wider_than_a_walk_remembers_is_sent_whole);
        return TAP_DONE();
}
