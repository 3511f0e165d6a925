/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "abstract_connector.h"
#include "connector_proto.h"
#include "fdpass.h"
#include "raw_syscall.h"
#include "util.h"

#define CONNECTOR_STACK (64 * 1024)

/* Both stacks, and the one argument, are in static storage: the
 * go-between and the connector share our memory (CLONE_VM, where
 * raw_syscall.h has the system calls), the go-between may still run when
 * the caller has moved on, even when it has executed its command and run,
 * whose memory this is, has resumed; the connector runs on in it after run
 * has exited.  Nothing here is written after the go-between starts, and
 * nothing is allocated (we may share run's memory, run_command.c). */
static char connector_stacks[2 * CONNECTOR_STACK] __attribute__((aligned(16)));
static int connector_end;       /* the connector's end of its socket */

static int connector_main(void *arg)
{
        (void)arg;
        oh_connector_serve(connector_end);
}

/* The go-between: run's child, not the program's (CLONE_PARENT), it
 * starts the connector as its own child and exits, so the connector is
 * nobody's in the confined tree, and run reaps the go-between as it
 * reaps any child.  Neither copies page tables where the connector can
 * share our memory; otherwise the connector gets a copy (connector_serve.c).
 * The go-between writes nothing of our memory but its stack and, should
 * clone() fail, errno (run's; the connector is then missing and the
 * supervisor's calls through it fail).  clone() runs no fork handlers. */
static int go_between(void *arg)
{
        int flags = (OH_HAVE_RAW_SYSCALL ? CLONE_VM : 0) | SIGCHLD;

        (void)arg;
        _exit(clone(connector_main, connector_stacks + CONNECTOR_STACK, flags, NULL) < 0);
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
 * The program cannot stop the connector (one Landlock layer deeper,
 * signals scoped), but it can keep a connect() of it waiting: on a
 * listener of its own whose backlog is full.  A call that gets no answer
 * in time ends it for good, so the supervisor never waits forever, nor
 * takes a late answer for the next call's. */
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
        return n == sizeof r ? r : -ESRCH;
}

int64_t oh_connector_call(int connector, int sock, const struct sockaddr *addr, socklen_t addrlen,
                          const void *data, size_t size, int flags, int send_it)
{
        _cleanup_free_ struct oh_connector_req *req = NULL;
        int64_t r = -ESRCH;
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
                r = n == (ssize_t)(sizeof *req + size) ? await_answer(connector) : -ESRCH;
        }
        pthread_mutex_unlock(&connector_lock);
        return r;
}
