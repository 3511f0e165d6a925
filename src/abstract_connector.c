/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "abstract_connector.h"
#include "fdpass.h"
#include "util.h"

struct connector_req {
        int32_t send;           /* 0: connect */
        int32_t flags;
        uint32_t addrlen;
        struct sockaddr_un addr;
        uint8_t data[];
};

#define REQ_MAX (sizeof(struct connector_req) + OH_CONNECTOR_DATA_MAX)

static int64_t serve_one(const struct connector_req *req, size_t n, int sock)
{
        if (n < sizeof *req || req->addrlen > sizeof req->addr ||
            req->addr.sun_family != AF_UNIX || req->addrlen <= sizeof(sa_family_t) || req->addr.sun_path[0] != '\0')
                return -EINVAL;         /* only abstract addresses, ever */
        if (!req->send)
                return connect(sock, (const struct sockaddr *)&req->addr, req->addrlen) < 0 ? -errno : 0;
        ssize_t sent = sendto(sock, req->data, n - sizeof *req, req->flags | MSG_NOSIGNAL,
                              (const struct sockaddr *)&req->addr, req->addrlen);
        return sent < 0 ? -errno : sent;
}

/* In static storage, not on the heap: the connector's heap is a
 * copy-on-write copy of the program's side, and a large malloc() would
 * walk (and so copy) much of it.  Pages of this buffer are touched only
 * here. */
static union {
        struct connector_req req;
        uint8_t bytes[REQ_MAX];
} connector_buf;

static noreturn void connector_main(int fd)
{
        struct connector_req *req = &connector_buf.req;

        for (;;) {
                struct oh_received rcv;
                ssize_t n = oh_recv(fd, req, REQ_MAX, MSG_CMSG_CLOEXEC, &rcv);
                int64_t r;

                if (n <= 0)
                        _exit(0);       /* the supervisor has gone */
                r = rcv.nfds == 1 && !rcv.trunc ? serve_one(req, (size_t)n, rcv.fds[0]) : -EINVAL;
                oh_received_close(&rcv);
                if (send(fd, &r, sizeof r, MSG_NOSIGNAL) != sizeof r)
                        _exit(0);
        }
}

/* In the new process: a session of its own (a ^C is not for it), nothing
 * open but its socket (as fd 3). */
static int connector_detach(void *arg)
{
        int fd = *(const int *)arg;

        (void)setsid();
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        if (dup2(fd, 3) < 0)
                _exit(1);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
        }
        syscall(SYS_close_range, 4, ~0U, 0);
        connector_main(3);
}

#define CONNECTOR_STACK (64 * 1024)

/* Both stacks, and the go-between's one argument, are in static storage:
 * the go-between shares our memory (CLONE_VM), and may still run when
 * the caller has moved on, even when the caller has executed its command
 * and run, whose memory this is, has resumed.  Nothing here is written
 * after the go-between starts.  Nothing is allocated either (we may
 * share run's memory, run_command.c). */
static char connector_stacks[2 * CONNECTOR_STACK] __attribute__((aligned(16)));
static int connector_end;

/* The go-between: run's child, not the program's (CLONE_PARENT), it
 * starts the connector as its own child and exits at once, so the
 * connector is nobody's in the confined tree, and run reaps the
 * go-between as it reaps any child.  Sharing our memory, it copies no
 * page tables (its child, the connector, does: a fork of them).  It
 * writes nothing of that memory but its stack and, should clone() fail,
 * errno (run's; the connector is then missing and the supervisor's calls
 * through it fail).  clone() runs no fork handlers, and the connector's
 * copy of our memory may be taken while run runs: so the connector makes
 * plain system calls only, and takes no lock. */
static int go_between(void *arg)
{
        (void)arg;
        _exit(clone(connector_detach, connector_stacks + CONNECTOR_STACK, SIGCHLD, &connector_end) < 0);
}

int oh_connector_start(void)
{
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return oh_negerrno();
        connector_end = sv[1];
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
        _cleanup_free_ struct connector_req *req = NULL;
        int64_t r = -EPIPE;
        ssize_t n;

        if (size > OH_CONNECTOR_DATA_MAX)
                return -EMSGSIZE;
        if (addrlen > sizeof req->addr)
                return -EINVAL;
        req = calloc(1, sizeof *req + size);
        if (!req)
                return -ENOMEM;
        *req = (struct connector_req) { .send = send_it, .flags = flags, .addrlen = addrlen };
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
