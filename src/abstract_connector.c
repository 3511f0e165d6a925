/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include "helper.h"
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

static noreturn void connector_main(int fd)
{
        struct connector_req *req = malloc(REQ_MAX);

        if (!req)
                _exit(1);
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

/* Not the program's child (it would see it in wait()), not in its
 * process group (a ^C is not for it), not dumpable (the program, in the
 * same domain and with the same uid, must not ptrace it or read its fds
 * through /proc). */
static noreturn void connector_detach(int fd)
{
        pid_t pid = fork();

        if (pid != 0)
                _exit(pid < 0);
        (void)setsid();
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                _exit(1);
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

int oh_connector_start(void)
{
        int ours = -1, theirs = -1, status;
        pid_t pid = oh_fork_helper(SOCK_SEQPACKET, &ours, &theirs);

        if (pid < 0)
                return pid;
        if (pid == 0)
                connector_detach(theirs);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        close(ours);
                        return -ECHILD;
                }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                close(ours);
                return -ECHILD;
        }
        return ours;
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
