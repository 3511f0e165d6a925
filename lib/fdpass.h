/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sendmsg/recvmsg with SCM_RIGHTS and SCM_CREDENTIALS.  No stdio, no
 * malloc: the client side runs inside an LD_PRELOAD shim. */
#ifndef OH_FDPASS_H
#define OH_FDPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "openhook.h"

/* Room for this many fds per message: the requested file and those sent
 * ahead with it (OPENHOOK_CMD_OPEN_AHEAD).  A peer that attaches more gets
 * the message delivered with MSG_CTRUNC and the kernel drops the rest. */
#define OH_FDPASS_MAX (1 + OPENHOOK_AHEAD_MAX)

struct oh_received {
        int fds[OH_FDPASS_MAX];         /* owned by the caller */
        size_t nfds;
        pid_t pid;                      /* from SCM_CREDENTIALS, 0 if none came */
        bool ctrunc;                    /* control data was cut: fds were lost */
        bool trunc;                     /* a datagram longer than the buffer */
};

/* Sends BUF with FD attached (if FD >= 0), without SIGPIPE, retrying EINTR.
 * Returns the number of bytes sent or -errno (-EAGAIN on a full
 * non-blocking socket). */
ssize_t oh_send(int sock, const void *buf, size_t len, int fd);

/* The same with the NFDS fds FDS[] attached (at most OH_FDPASS_MAX). */
ssize_t oh_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/* Receives into BUF, retrying EINTR.  FLAGS are passed to recvmsg()
 * (MSG_CMSG_CLOEXEC, MSG_TRUNC...).  Returns the byte count (0 at end of
 * stream) or -errno; every fd that arrived is in *R, also on MSG_CTRUNC. */
ssize_t oh_recv(int sock, void *buf, size_t len, int flags, struct oh_received *r);

/* Closes every fd in R. */
void oh_received_close(struct oh_received *r);

#endif
