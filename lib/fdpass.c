/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fdpass.h"
#include "util.h"

ssize_t oh_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * OH_FDPASS_MAX)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (nfds > OH_FDPASS_MAX)
                return -EINVAL;
        if (nfds > 0) {
                msg.msg_control = control.buf;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        }

        for (;;) {
                /* Without an fd, send(2): under openhook run every
                 * sendmsg(2) is a seccomp notification (its address is in
                 * memory), while a send without one is let through. */
                ssize_t n = nfds > 0 ? sendmsg(sock, &msg, MSG_NOSIGNAL) : send(sock, buf, len, MSG_NOSIGNAL);
                if (n >= 0)
                        return n;
                if (errno != EINTR)
                        return oh_negerrno();
        }
}

ssize_t oh_send(int sock, const void *buf, size_t len, int fd)
{
        return oh_send_fds(sock, buf, len, &fd, fd >= 0 ? 1 : 0);
}

static void collect_fds(struct oh_received *r, const struct cmsghdr *c)
{
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(c);

        for (size_t i = 0; i < n; i++) {
                int fd;
                memcpy(&fd, data + i * sizeof(int), sizeof(int));
                if (r->nfds < OH_FDPASS_MAX)
                        r->fds[r->nfds++] = fd;
                else
                        close(fd);
        }
}

ssize_t oh_recv(int sock, void *buf, size_t len, int flags, struct oh_received *r)
{
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * OH_FDPASS_MAX) + CMSG_SPACE(sizeof(struct ucred))];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = len };
        struct msghdr msg;
        ssize_t n;

        *r = (struct oh_received) {};
        for (;;) {
                msg = (struct msghdr) {
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
                };
                n = recvmsg(sock, &msg, flags);
                if (n >= 0)
                        break;
                if (errno != EINTR)
                        return oh_negerrno();
        }

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_RIGHTS)
                        collect_fds(r, c);
                else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
                        struct ucred cred;
                        memcpy(&cred, CMSG_DATA(c), sizeof(cred));
                        r->pid = cred.pid;
                }
        }
        r->ctrunc = msg.msg_flags & MSG_CTRUNC;
        r->trunc = msg.msg_flags & MSG_TRUNC;
        return n;
}

void oh_received_close(struct oh_received *r)
{
        for (size_t i = 0; i < r->nfds; i++)
                close(r->fds[i]);
        r->nfds = 0;
}
