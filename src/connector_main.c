/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openhook-connector: the abstract connector (abstract_connector.h) as a
 * program of its own, linked with no C library, for the processors it
 * knows the system call convention of.  It is executed in the command's
 * Landlock domain at every `openhook run` start: a copy of run's memory
 * (a fork) cost that start about 3 ms of CPU in copies-on-write, and
 * openhook itself (`openhook --abstract-connector`, the fallback) the C
 * library's start; this one starts with two page faults and makes no
 * system call before its first request but recvmsg().
 *
 * Serves on OH_CONNECTOR_FD: connects, or sends to, an abstract address
 * on the socket that comes with each request, and answers.  Nothing else
 * is open (run saw to it). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "connector_proto.h"

#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n\txor %ebp, %ebp\n\tand $-16, %rsp\n\tcall connector_main\n\thlt\n");

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
        register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
        long ret;

        __asm__ volatile("syscall"
                         : "=a"(ret)
                         : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory");
        return ret;
}
#elif defined(__aarch64__)
__asm__(".globl _start\n_start:\n\tmov x29, #0\n\tmov x30, #0\n\tbl connector_main\n\tbrk #0\n");

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
        register long x8 __asm__("x8") = nr, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c,
                      x3 __asm__("x3") = d, x4 __asm__("x4") = e, x5 __asm__("x5") = f;

        __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
        return x0;
}
#else
#error "openhook-connector knows the system calls of x86_64 and aarch64 only"
#endif

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
                        sys6(SYS_close, fds[i], 0, 0, 0, 0, 0);
        }
        return fd;
}

static long serve_one(size_t n, int sock)
{
        const struct oh_connector_req *req = &buf.req;

        if (sock < 0 || !oh_connector_req_ok(req, n))
                return -EINVAL;         /* only abstract addresses, ever */
        if (!req->send)
                return sys6(SYS_connect, sock, (long)&req->addr, req->addrlen, 0, 0, 0);
        return sys6(SYS_sendto, sock, (long)req->data, (long)(n - sizeof *req), req->flags | MSG_NOSIGNAL,
                    (long)&req->addr, req->addrlen);
}

__attribute__((noreturn, used)) void connector_main(void);

void connector_main(void)
{
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
                long n = sys6(SYS_recvmsg, OH_CONNECTOR_FD, (long)&m, MSG_CMSG_CLOEXEC, 0, 0, 0);

                if (n == -EINTR)
                        continue;
                if (n <= 0)
                        break;          /* the supervisor has gone */
                int sock = received_fd(&m);
                long r = m.msg_flags & (MSG_TRUNC | MSG_CTRUNC) ? -EINVAL : serve_one((size_t)n, sock);
                if (sock >= 0)
                        sys6(SYS_close, sock, 0, 0, 0, 0, 0);
                int64_t answer = r;
                if (sys6(SYS_sendto, OH_CONNECTOR_FD, (long)&answer, sizeof answer, MSG_NOSIGNAL, 0, 0) !=
                    sizeof answer)
                        break;
        }
        for (;;)
                sys6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}
