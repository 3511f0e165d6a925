/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The abstract connector's own life (abstract_connector.h), once started.
 *
 * It runs in run's memory (CLONE_VM), for the rest of the program's run:
 * executing a program of its own cost every `openhook run` start an exec
 * (0.5 ms of the command's start on our two-CPU VM, where it competed
 * for a CPU), and a copy of run's memory (a fork) about 3 ms of CPU in
 * copies-on-write.  So everything here is a system call made without the
 * C library (raw_syscall.h): no errno, no lock, no allocation; it touches
 * nothing of run's memory but its own stack and buffer, both in static
 * storage, which run never frees (nor unmaps, even as it exits: the
 * memory lives on with us).  Where raw system calls are not written out
 * (or under sanitizers) it is started with a copy of run's memory instead
 * (abstract_connector.c), and the same code is safe there.
 *
 * Serves on the socket it was started with: connects, or sends to, an
 * abstract address on the socket that comes with each request, and
 * answers. */
#include <errno.h>
#include <linux/prctl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "abstract_connector.h"
#include "connector_proto.h"
#include "raw_syscall.h"

#define sys(nr, a, b, c, d, e, f) oh_raw_syscall6(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static union {
        struct oh_connector_req req;
        uint8_t bytes[OH_CONNECTOR_REQ_MAX];
} buf;

/* The one socket of a request, or -1 (any other fd that came is closed:
 * the supervisor sends one). */
static int received_fd(const struct msghdr *m)
{
        const struct cmsghdr *c = CMSG_FIRSTHDR(m);
        int fd = -1;

        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(sizeof(int)))
                return -1;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const int *fds = (const int *)CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
                if (i == 0 && n == 1)
                        fd = fds[i];
                else
                        sys(SYS_close, fds[i], 0, 0, 0, 0, 0);
        }
        return fd;
}

static long serve_one(size_t n, int sock)
{
        const struct oh_connector_req *req = &buf.req;

        if (sock < 0 || !oh_connector_req_ok(req, n))
                return -EINVAL;         /* only abstract addresses, ever */
        if (!req->send)
                return sys(SYS_connect, sock, &req->addr, req->addrlen, 0, 0, 0);
        return sys(SYS_sendto, sock, req->data, n - sizeof *req, req->flags | MSG_NOSIGNAL, &req->addr,
                   req->addrlen);
}

/* Nothing open but FD; every signal that can be blocked, blocked (a ^C,
 * a hang-up or a peer's SIGPIPE are not for it; sends say MSG_NOSIGNAL
 * anyway); a session of its own; a name ps shows. */
static void settle(int fd)
{
        static const char name[16] = "openhook-connec";
        uint64_t all[2] = { ~(uint64_t)0, ~(uint64_t)0 };     /* the kernel's sigset: _NSIG bits */

        if (fd > 0)
                sys(SYS_close_range, 0, fd - 1, 0, 0, 0, 0);
        sys(SYS_close_range, fd + 1, ~0U, 0, 0, 0, 0);
        sys(SYS_rt_sigprocmask, SIG_SETMASK, all, NULL, _NSIG / 8, 0, 0);
        sys(SYS_setsid, 0, 0, 0, 0, 0, 0);
        sys(SYS_prctl, PR_SET_NAME, name, 0, 0, 0, 0);
}

noreturn void oh_connector_serve(int fd)
{
        settle(fd);
        for (;;) {
                union {
                        struct cmsghdr align;
                        char bytes[CMSG_SPACE(4 * sizeof(int))];
                } control;
                struct iovec iov = { .iov_base = buf.bytes, .iov_len = sizeof buf.bytes };
                struct msghdr m = {
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control.bytes, .msg_controllen = sizeof control.bytes,
                };
                long n = sys(SYS_recvmsg, fd, &m, MSG_CMSG_CLOEXEC, 0, 0, 0);

                if (n == -EINTR)
                        continue;
                if (n <= 0)
                        break;          /* the supervisor has gone */
                int sock = received_fd(&m);
                long r = m.msg_flags & (MSG_TRUNC | MSG_CTRUNC) ? -EINVAL : serve_one((size_t)n, sock);
                if (sock >= 0)
                        sys(SYS_close, sock, 0, 0, 0, 0, 0);
                int64_t answer = r;
                if (sys(SYS_sendto, fd, &answer, sizeof answer, MSG_NOSIGNAL, 0, 0) != sizeof answer)
                        break;
        }
        for (;;)
                sys(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}
