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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
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

struct spawn {
        int fd;                 /* the connector's end of the socket */
        char *stack;            /* CONNECTOR_STACK bytes for the connector */
};

/* The go-between, sharing our memory while we wait (CLONE_VM|CLONE_VFORK,
 * as posix_spawn() does): the connector it starts is its child, not
 * ours, and it exits at once, so the connector is nobody's in the
 * confined tree.  Sharing our memory, it copies no page tables and tears
 * none down, which a forked go-between did.  clone() runs no fork
 * handlers, so the connector makes plain syscalls only (this process has
 * one thread: no lock can be held). */
static int go_between(void *arg)
{
        const struct spawn *sp = arg;

        _exit(clone(connector_detach, sp->stack + CONNECTOR_STACK, SIGCHLD, (void *)&sp->fd) < 0);
}

/* Not the program's child (it would see it in wait(), and wait for it
 * forever), not dumpable from its first instruction (the program, in the
 * same domain and with the same uid, must not ptrace it or read its fds
 * through /proc): the flag, which the connector's copy of our memory
 * takes with it, is cleared around its start and then given back to this
 * process, whose memory the supervisor reads.  Both stacks are in this
 * frame, which is ours until the go-between has exited: nothing is
 * allocated (we may share run's memory, run_command.c). */
static int spawn_connector(int fd)
{
        char stacks[2 * CONNECTOR_STACK] __attribute__((aligned(16)));
        struct spawn sp = { .fd = fd, .stack = stacks + CONNECTOR_STACK };
        int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), status, r;

        if (dumpable < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return oh_negerrno();
        pid_t pid = clone(go_between, stacks + CONNECTOR_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &sp);
        r = pid < 0 ? oh_negerrno() : 0;
        while (pid > 0 && waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        r = -ECHILD;
                        break;
                }
        if (r >= 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                r = -ECHILD;
        /* 2 (SUID_DUMP_ROOT) cannot be set again; 0 asks the same of a
         * reader (CAP_SYS_PTRACE). */
        if (prctl(PR_SET_DUMPABLE, dumpable == 1, 0, 0, 0) < 0)
                return oh_negerrno();   /* the connector ends with its socket */
        return r;
}

int oh_connector_start(void)
{
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return oh_negerrno();
        _cleanup_close_ int ours = sv[0];
        _cleanup_close_ int theirs = sv[1];
        int r = spawn_connector(theirs);

        return r < 0 ? r : TAKE_FD(ours);
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
