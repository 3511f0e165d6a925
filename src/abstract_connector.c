/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "abstract_connector.h"
#include "connector_proto.h"
#include "fdpass.h"
#include "util.h"

static int64_t serve_one(const struct oh_connector_req *req, size_t n, int sock)
{
        if (!oh_connector_req_ok(req, n))
                return -EINVAL;         /* only abstract addresses, ever */
        if (!req->send)
                return connect(sock, (const struct sockaddr *)&req->addr, req->addrlen) < 0 ? -errno : 0;
        ssize_t sent = sendto(sock, req->data, n - sizeof *req, req->flags | MSG_NOSIGNAL,
                              (const struct sockaddr *)&req->addr, req->addrlen);
        return sent < 0 ? -errno : sent;
}

/* The connector's buffer, in static storage. */
static union {
        struct oh_connector_req req;
        uint8_t bytes[OH_CONNECTOR_REQ_MAX];
} connector_buf;

noreturn void oh_connector_main(void)
{
        struct oh_connector_req *req = &connector_buf.req;
        const int fd = OH_CONNECTOR_FD;

        for (;;) {
                struct oh_received rcv;
                ssize_t n = oh_recv(fd, req, OH_CONNECTOR_REQ_MAX, MSG_CMSG_CLOEXEC, &rcv);
                int64_t r;

                if (n <= 0)
                        _exit(0);       /* the supervisor has gone */
                r = rcv.nfds == 1 && !rcv.trunc ? serve_one(req, (size_t)n, rcv.fds[0]) : -EINVAL;
                oh_received_close(&rcv);
                if (send(fd, &r, sizeof r, MSG_NOSIGNAL) != sizeof r)
                        _exit(0);
        }
}

#define CONNECTOR_STACK (64 * 1024)

/* Both stacks, and the one argument, are in static storage: the
 * go-between and the connector share our memory (CLONE_VM) until the
 * connector executes, and the go-between may still run when the caller
 * has moved on, even when the caller has executed its command and run,
 * whose memory this is, has resumed.  Nothing here is written after the
 * go-between starts.  Nothing is allocated either (we may share run's
 * memory, run_command.c). */
static char connector_stacks[2 * CONNECTOR_STACK] __attribute__((aligned(16)));
static struct {
        int end;                /* the connector's end of its socket */
        char program[PATH_MAX]; /* openhook-connector, or openhook: a copy, as run may free its own */
} spawn;

/* The connector, until it executes its program: a session of its own (a
 * ^C is not for it), nothing open but its socket (as OH_CONNECTOR_FD),
 * the signals a terminal or a peer sends ignored.  Executing, it takes
 * none of our memory with it (connector_main.c says why). */
static int connector_exec(void *arg)
{
        char name[] = "openhook-connector", flag[] = OH_CONNECTOR_ARG;
        char *argv[] = { name, flag, NULL }, *envp[] = { NULL };

        (void)arg;
        (void)setsid();
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        if (dup2(spawn.end, OH_CONNECTOR_FD) < 0)
                _exit(1);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
        }
        syscall(SYS_close_range, OH_CONNECTOR_FD + 1, ~0U, 0);
        execve(spawn.program, argv, envp);
        _exit(127);
}

/* The go-between: run's child, not the program's (CLONE_PARENT), it
 * starts the connector as its own child, waits until it has executed
 * (CLONE_VFORK) and exits, so the connector is nobody's in the confined
 * tree, and run reaps the go-between as it reaps any child.  Neither
 * copies page tables.  Until then both write nothing of our memory but
 * their stacks and, should a call fail, errno (run's; the connector is
 * then missing and the supervisor's calls through it fail).  clone()
 * runs no fork handlers, and the connector makes plain system calls
 * only, and takes no lock, until it executes. */
static int go_between(void *arg)
{
        _exit(clone(connector_exec, connector_stacks + CONNECTOR_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, arg) < 0);
}

int oh_connector_start(const char *program)
{
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return oh_negerrno();
        spawn.end = sv[1];
        if ((size_t)snprintf(spawn.program, sizeof spawn.program, "%s", program) >= sizeof spawn.program) {
                close(sv[0]);
                close(sv[1]);
                return -ENAMETOOLONG;
        }
        pid_t pid = clone(go_between, connector_stacks + 2 * CONNECTOR_STACK, CLONE_VM | CLONE_PARENT | SIGCHLD,
                          NULL);
        int r = pid < 0 ? oh_negerrno() : sv[0];

        close(sv[1]);           /* the go-between has its own copy of our fds */
        if (r < 0)
                close(sv[0]);
        return r;
}

/* One request and its answer at a time: the connector serves in order.
 * The program can stop the connector (same domain, same user): a call
 * that gets no answer in time ends it for good, so the supervisor never
 * waits forever, nor takes a late answer for the next call's. */
static pthread_mutex_t connector_lock = PTHREAD_MUTEX_INITIALIZER;
static bool connector_broken;

#define ANSWER_TIMEOUT_MS 30000

static int64_t await_answer(int connector)
{
        struct pollfd p = { .fd = connector, .events = POLLIN };
        int64_t r;
        ssize_t n;
        int k;

        do
                k = poll(&p, 1, ANSWER_TIMEOUT_MS);
        while (k < 0 && errno == EINTR);
        if (k <= 0) {
                connector_broken = true;
                return k == 0 ? -ETIMEDOUT : oh_negerrno();
        }
        do
                n = recv(connector, &r, sizeof r, 0);
        while (n < 0 && errno == EINTR);
        return n == sizeof r ? r : -EPIPE;
}

int64_t oh_connector_call(int connector, int sock, const struct sockaddr *addr, socklen_t addrlen,
                          const void *data, size_t size, int flags, int send_it)
{
        _cleanup_free_ struct oh_connector_req *req = NULL;
        int64_t r = -EPIPE;
        ssize_t n;

        if (size > OH_CONNECTOR_DATA_MAX)
                return -EMSGSIZE;
        if (addrlen > sizeof req->addr)
                return -EINVAL;
        req = calloc(1, sizeof *req + size);
        if (!req)
                return -ENOMEM;
        *req = (struct oh_connector_req) { .send = send_it, .flags = flags, .addrlen = addrlen };
        memcpy(&req->addr, addr, addrlen);
        if (size)
                memcpy(req->data, data, size);

        pthread_mutex_lock(&connector_lock);
        if (!connector_broken) {
                n = oh_send(connector, req, sizeof *req + size, sock);
                r = n == (ssize_t)(sizeof *req + size) ? await_answer(connector) : -EPIPE;
        }
        pthread_mutex_unlock(&connector_lock);
        return r;
}
